/**
 * One time trigger at one moment: which execution dates get a run now, and when to look at the trigger next.
 * Mage's gates (`shouldSchedule`) decide the current interval; the catch-up policy adds missed ones.
 * Pure: the caller supplies the clock and what the database knows.
 */
import type { ScheduleRow } from '../store/schedules.js';
import { fromDbTime } from '../store/time.js';
import { planCatchUp } from './catchUp.js';
import { isRecurring, nextExecutionDate, shouldSchedule, toParsedInterval, type ParsedInterval } from './schedule.js';
import { catchUpOf } from './triggerConfig.js';

export interface TriggerPlanInput {
  schedule: ScheduleRow;
  now: Date;
  /** Whether the trigger has a run at exactly this execution date. */
  hasRun: (executionDate: Date) => boolean;
  /** Execution date of the trigger's latest run (needed for the `latest` and `all` policies). */
  lastExecutionDate: Date | null;
  /** Number of runs of the trigger (for `@once` and `@always_on`). */
  runCount: number;
  /** Status of its latest run (for `@always_on`). */
  lastRunStatus: string | null;
  /** Runtimes of recent completed runs, newest first (landing time). */
  previousRuntimesSeconds?: number[];
  /** The pipeline's executor_count (streaming `@once`). */
  executorCount?: number;
}

export interface TriggerPlan {
  /** Dates to create runs for, oldest first. */
  executionDates: Date[];
  /** Missed intervals the catch-up policy dropped. */
  skipped: number;
  /** When to evaluate the trigger again (epoch ms), Infinity for "only when something changes". */
  nextCheck: number;
  /** shouldSchedule's reason for the current interval. */
  reason: string;
}

/** How often a landing-time trigger is looked at: its start depends on the runtimes of its last runs. */
export const LANDING_RECHECK_MS = 60_000;

const date = (v: string | null) => (v ? fromDbTime(v) : null);

/** @throws InvalidScheduleIntervalError, InvalidTimeZoneError for a trigger that cannot be planned. */
export function planTrigger(input: TriggerPlanInput): TriggerPlan {
  const { schedule, now } = input;
  const interval: ParsedInterval | null = toParsedInterval(schedule.schedule_interval);
  const timezone = schedule.timezone ?? 'UTC';
  const startTime = date(schedule.start_time);
  const decision = shouldSchedule({
    schedule: {
      status: schedule.status,
      scheduleType: (schedule.schedule_type ?? 'time') as 'time',
      scheduleInterval: interval,
      startTime,
      lastEnabledAt: date(schedule.last_enabled_at),
      settings: schedule.settings,
      timezone,
    },
    now,
    hasRunForExecutionDate: input.hasRun,
    runCount: input.runCount,
    lastRunStatus: input.lastRunStatus,
    previousRuntimesSeconds: input.previousRuntimesSeconds,
    executorCount: input.executorCount,
  });
  const dates: Date[] = [];
  let skipped = 0;
  let nextCheck = Infinity;
  if (isRecurring(interval)) {
    const landing = Boolean(schedule.settings?.landing_time_enabled) && interval.kind !== 'cron';
    if (schedule.status === 'active') {
      const { policy, max } = catchUpOf(schedule);
      if (policy !== 'none') {
        const plan = planCatchUp({
          policy,
          max,
          interval,
          lastExecutionDate: input.lastExecutionDate,
          startTime,
          lastEnabledAt: date(schedule.last_enabled_at),
          now,
          timezone,
        });
        skipped = plan.skipped;
        for (const d of plan.executionDates) {
          if (plan.current && d.getTime() === plan.current.getTime()) continue;
          if (!input.hasRun(d)) dates.push(d);
        }
      }
      if (landing) nextCheck = now.getTime() + LANDING_RECHECK_MS;
      else if (decision.reason === 'before_start_time' && startTime) nextCheck = startTime.getTime();
      else nextCheck = nextExecutionDate(interval, now, timezone)?.getTime() ?? Infinity;
    }
  } else if (decision.reason === 'before_start_time' && startTime) {
    nextCheck = startTime.getTime();
  }
  if (decision.fire && decision.executionDate) dates.push(decision.executionDate);
  return { executionDates: dates, skipped, nextCheck, reason: decision.reason };
}
