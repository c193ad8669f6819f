/**
 * Catch-up policy of a time trigger: which execution dates to create runs for after the scheduler was
 * down (or the trigger fell behind). Mage has no catch-up (mage-api.md §6.1): each tick considers only the
 * current interval, and missed intervals are left to Backfills. `none` is exactly that and is the default.
 *
 * How the scheduler loop uses it, per active recurring trigger and tick:
 * 1. `shouldSchedule(...)` decides the current interval with Mage's gates (start_time, last_enabled_at,
 *    landing time, an existing run).
 * 2. `planCatchUp(...)` lists the dates; every date except `current` gets a run if it has none yet
 *    (`prevent_duplicates`), and `current` gets one when step 1 says fire.
 * `@once`, `@always_on`, api and event triggers have no execution dates and are decided by step 1 alone.
 */
import {
  canonicalTimeZone,
  countDueTimes,
  currentExecutionDate,
  isRecurring,
  previousDueTimes,
  toParsedInterval,
  type IntervalInput,
} from './schedule.js';

/**
 * - `none` (default): only the current interval; missed ones are ignored silently and not counted. Same
 *   dates as Mage.
 * - `latest`: the same single date (the most recent interval is the current one, since Mage's execution
 *   date is the start of the interval that has just begun), but the missed intervals it drops are counted
 *   in `skipped`, so the loop can log or report them. This is the difference from `none`.
 * - `all`: every missed interval since the last run's execution date, then the current one, oldest first,
 *   at most `max` (the most recent ones are kept; the older rest is dropped and counted in `skipped`).
 */
export type CatchUpPolicy = 'none' | 'latest' | 'all';

export const CATCH_UP_POLICIES: readonly CatchUpPolicy[] = ['none', 'latest', 'all'];

/** Input of {@link planCatchUp}. */
export interface PlanCatchUpInput {
  /** Default `none`. */
  policy?: CatchUpPolicy;
  /** For `all`: the most dates to return (current included), a positive integer. Default 100. */
  max?: number;
  interval: IntervalInput;
  /** Execution date of the trigger's latest run; missed intervals are the ones after it. */
  lastExecutionDate: Date | null;
  /** The trigger's `start_time`; no date before it is planned. */
  startTime: Date | null;
  /**
   * The trigger's `last_enabled_at`: missed intervals before it are not caught up (the trigger was off,
   * or not yet on). The current interval is left to `shouldSchedule`. Default: not considered.
   */
  lastEnabledAt?: Date | null;
  now: Date;
  /** IANA zone of the trigger. Default `UTC`. */
  timezone?: string | null;
  /**
   * How many dropped intervals to count at most (counting walks the schedule). Past it, `skipped` is a
   * lower bound and `skippedIsLowerBound` is true. Default 10 000.
   */
  countLimit?: number;
}

/** Result of {@link planCatchUp}. */
export interface CatchUpPlan {
  /** Dates to create runs for, oldest first; the last is `current` when it is eligible. */
  executionDates: Date[];
  /** Missed intervals dropped by the policy (always 0 for `none`). */
  skipped: number;
  /** True when `skipped` stopped at `countLimit`. */
  skippedIsLowerBound: boolean;
  /** The current execution date (null for non-recurring intervals). */
  current: Date | null;
}

/**
 * Plan the execution dates of one tick under a catch-up policy. A missed interval is an execution date
 * after `lastExecutionDate`, not before `startTime` or `lastEnabledAt`, and before the current one. With
 * no run yet and neither `startTime` nor `lastEnabledAt`, nothing counts as missed.
 * The current date is included when it is after `lastExecutionDate` and not before `startTime`.
 *
 * @throws RangeError for a bad `max` or policy; InvalidScheduleIntervalError, InvalidTimeZoneError.
 */
export function planCatchUp(input: PlanCatchUpInput): CatchUpPlan {
  const policy = input.policy ?? 'none';
  if (!CATCH_UP_POLICIES.includes(policy)) {
    throw new RangeError(`Unknown catch-up policy '${String(policy)}': expected none, latest or all.`);
  }
  const max = input.max ?? 100;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`Catch-up max must be a positive integer, got ${String(max)}.`);
  const countLimit = input.countLimit ?? 10_000;
  const tz = canonicalTimeZone(input.timezone ?? 'UTC');
  const interval = toParsedInterval(input.interval);
  if (!isRecurring(interval)) return { executionDates: [], skipped: 0, skippedIsLowerBound: false, current: null };

  const current = currentExecutionDate(interval, input.now, tz);
  if (current === null) return { executionDates: [], skipped: 0, skippedIsLowerBound: false, current: null };

  const last = input.lastExecutionDate?.getTime() ?? null;
  const eligible = (d: Date) =>
    (last === null || d.getTime() > last) && (input.startTime === null || d.getTime() >= input.startTime.getTime());
  const currentDates = eligible(current) ? [current] : [];
  if (policy === 'none') return { executionDates: currentDates, skipped: 0, skippedIsLowerBound: false, current };

  // Missed intervals lie strictly between `lowerExclusive` and `current`.
  const lowerBounds: number[] = [];
  if (last !== null) lowerBounds.push(last);
  if (input.startTime) lowerBounds.push(input.startTime.getTime() - 1);
  if (input.lastEnabledAt) lowerBounds.push(input.lastEnabledAt.getTime() - 1);
  if (lowerBounds.length === 0) return { executionDates: currentDates, skipped: 0, skippedIsLowerBound: false, current };
  const lowerExclusive = new Date(Math.max(...lowerBounds));

  if (policy === 'latest') {
    const { count, capped } = countDueTimes(interval, lowerExclusive, current, tz, countLimit);
    return { executionDates: currentDates, skipped: count, skippedIsLowerBound: capped, current };
  }

  const room = max - currentDates.length;
  // One more than fits tells whether anything is dropped without walking the whole window.
  const recent = previousDueTimes(interval, current, room + 1, tz).filter((d) => d.getTime() > lowerExclusive.getTime());
  if (recent.length <= room) {
    return { executionDates: [...recent, ...currentDates], skipped: 0, skippedIsLowerBound: false, current };
  }
  const kept = recent.slice(recent.length - room);
  const oldestKept = kept[0] ?? currentDates[0] ?? current;
  const { count, capped } = countDueTimes(interval, lowerExclusive, oldestKept, tz, countLimit);
  return { executionDates: [...kept, ...currentDates], skipped: count, skippedIsLowerBound: capped, current };
}
