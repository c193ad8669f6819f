/**
 * Schedule math for time triggers, as Mage's `PipelineSchedule` does it
 * (`mage_ai/orchestration/db/models/schedules.py`): parsing `schedule_interval`, the current and next
 * execution dates, `should_schedule`, listing due times, and Mage's backfill date lists.
 *
 * Everything here is pure: no I/O, no clock. Every function that depends on the time takes `now`.
 *
 * Time zones (our extension; Mage always works in UTC): a trigger may carry an IANA zone. Floors and next
 * dates are then computed on that zone's wall clock and returned as UTC `Date`s. DST follows croner 11:
 * - a fixed-time schedule (single minute and hour, e.g. `@daily`, `30 2 * * *`) whose time falls into a
 *   spring-forward gap runs at the first valid time after the gap (02:30 on 2024-03-10 in New York runs
 *   at 03:00 EDT = 07:00Z), and runs once, on the first occurrence, when a fall-back repeats its time;
 * - an interval schedule (`@hourly`, `*\/15 * * * *`) skips times in the gap and runs on both
 *   occurrences of a repeated time (every real hour across a fall-back).
 * In UTC the results are exactly Mage's.
 */
import { Cron } from 'croner';

/** Mage's `ScheduleType`. */
export type ScheduleType = 'time' | 'event' | 'api';

/** Mage's named intervals that are not cron expressions. */
export type NamedIntervalKind = 'hourly' | 'daily' | 'weekly' | 'monthly';

/**
 * A validated `schedule_interval`.
 * - `once`, `always_on`: not recurring; decided by run counts, not dates.
 * - `hourly` … `monthly`: Mage's own floors; `cron` holds the equivalent 5-field expression
 *   (`@weekly` is Monday 00:00, as Mage, not croniter's Sunday).
 * - `cron`: a 5-field expression (croniter's aliases `@yearly`, `@annually`, `@midnight` are mapped to one).
 */
export type ParsedInterval =
  | { kind: 'once'; source: string }
  | { kind: 'always_on'; source: string }
  | { kind: NamedIntervalKind; source: string; cron: string }
  | { kind: 'cron'; source: string; cron: string };

/** A recurring interval: one that has execution dates. */
export type RecurringInterval = Extract<ParsedInterval, { cron: string }>;

/** What the date functions accept: a parsed interval, a raw `schedule_interval` string, or null. */
export type IntervalInput = ParsedInterval | string | null;

/** `schedule_interval` is not one Mage accepts (Mage: `ValueError('Cron expression is invalid.')`). */
export class InvalidScheduleIntervalError extends Error {
  override readonly name = 'InvalidScheduleIntervalError';
  constructor(
    /** The rejected `schedule_interval`. */
    readonly interval: string,
    /** The cron field at fault (`minute`, `hour`, `day-of-month`, `month`, `day-of-week`), when known. */
    readonly field: string | null,
    detail: string,
  ) {
    super(`Cron expression is invalid: '${interval}': ${detail}`);
  }
}

/** A time zone name that is not a valid IANA zone. */
export class InvalidTimeZoneError extends Error {
  override readonly name = 'InvalidTimeZoneError';
  constructor(readonly timezone: string) {
    super(`Unknown time zone '${timezone}': expected an IANA name such as 'UTC' or 'America/New_York'.`);
  }
}

const NAMED_CRON: Record<NamedIntervalKind, string> = {
  hourly: '0 * * * *',
  daily: '0 0 * * *',
  weekly: '0 0 * * 1',
  monthly: '0 0 1 * *',
};

/** croniter accepts these aliases; Mage hands them to croniter because they are not its own names. */
const CRON_ALIASES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@midnight': '0 0 * * *',
};

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] as const;
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES },
];

/**
 * Parse and validate a trigger's `schedule_interval`.
 *
 * Returns null for `api` and `event` triggers (they never fire on their own) and for a `time` trigger
 * without an interval (Mage's `current_execution_date` is None, so it never fires). A given interval is
 * validated whatever the type, as Mage's `validate_schedule_interval` does.
 *
 * Cron expressions must have exactly 5 fields. Differences from croniter's `is_valid`: 6/7-field
 * expressions (croniter's trailing seconds/year), reversed ranges such as `5-1` and `15-L` are rejected,
 * and an expression that can never fire (`0 0 30 2 *`) is rejected instead of failing at run time;
 * croner's extras (`5L`, `W`) are accepted.
 *
 * @throws InvalidScheduleIntervalError naming the bad field.
 */
export function parseScheduleInterval(interval: string | null, scheduleType: ScheduleType = 'time'): ParsedInterval | null {
  if (interval === null || interval === undefined) return null;
  const parsed = parseIntervalString(interval);
  return scheduleType === 'time' ? parsed : null;
}

function parseIntervalString(interval: string): ParsedInterval {
  const source = interval;
  const text = interval.trim();
  if (text === '') throw new InvalidScheduleIntervalError(source, null, 'the interval is empty.');
  switch (text) {
    case '@once':
      return { kind: 'once', source };
    case '@always_on':
      return { kind: 'always_on', source };
    case '@hourly':
    case '@daily':
    case '@weekly':
    case '@monthly': {
      const kind = text.slice(1) as NamedIntervalKind;
      return { kind, source, cron: NAMED_CRON[kind] };
    }
  }
  const alias = CRON_ALIASES[text.toLowerCase()];
  if (alias !== undefined) return { kind: 'cron', source, cron: alias };
  if (text.startsWith('@')) {
    throw new InvalidScheduleIntervalError(
      source,
      null,
      `unknown interval name '${text}'; expected @once, @hourly, @daily, @weekly, @monthly, @always_on or a 5-field cron expression.`,
    );
  }
  const cron = text.split(/\s+/).join(' ');
  validateCronFields(source, cron);
  let job: Cron;
  try {
    job = cronFor(cron, 'UTC');
  } catch (err) {
    throw new InvalidScheduleIntervalError(source, null, (err as Error).message.replace(/^CronPattern: /, ''));
  }
  if (job.nextRun(new Date(Date.UTC(2000, 0, 1))) === null) {
    throw new InvalidScheduleIntervalError(source, null, 'it never fires (no such date, e.g. February 30).');
  }
  return { kind: 'cron', source, cron };
}

function validateCronFields(source: string, cron: string): void {
  const parts = cron.split(' ');
  if (parts.length !== 5) {
    throw new InvalidScheduleIntervalError(
      source,
      null,
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}.`,
    );
  }
  parts.forEach((part, i) => {
    const field = CRON_FIELDS[i]!;
    for (const item of part.split(',')) {
      if (item === '') throw new InvalidScheduleIntervalError(source, field.name, `empty list item in the ${field.name} field '${part}'.`);
      const [base, step, ...extra] = item.split('/');
      if (extra.length > 0 || (step !== undefined && !/^\d+$/.test(step))) {
        throw new InvalidScheduleIntervalError(source, field.name, `invalid step in the ${field.name} field '${item}'.`);
      }
      if (step !== undefined && Number(step) === 0) {
        throw new InvalidScheduleIntervalError(source, field.name, `step 0 in the ${field.name} field '${item}'.`);
      }
      const bounds = base!.split('#')[0]!.split('-');
      if (bounds.length > 2) {
        throw new InvalidScheduleIntervalError(source, field.name, `invalid range in the ${field.name} field '${item}'.`);
      }
      const values: number[] = [];
      for (const token of bounds) {
        const value = fieldValue(field, token);
        if (value === 'invalid') {
          throw new InvalidScheduleIntervalError(source, field.name, `invalid value '${token}' in the ${field.name} field.`);
        }
        if (typeof value === 'number') {
          if (value < field.min || value > field.max) {
            throw new InvalidScheduleIntervalError(
              source,
              field.name,
              `${field.name} value ${value} is out of range ${field.min}-${field.max}.`,
            );
          }
          values.push(value);
        }
      }
      if (values.length === 2 && values[0]! > values[1]!) {
        throw new InvalidScheduleIntervalError(source, field.name, `reversed range '${base}' in the ${field.name} field.`);
      }
    }
  });
}

/** A number, 'special' for tokens croner checks itself (`*`, `?`, `L`, `W`, `5L`), or 'invalid'. */
function fieldValue(field: CronField, token: string): number | 'special' | 'invalid' {
  if (/^\d+$/.test(token)) return Number(token);
  const lower = token.toLowerCase();
  const named = field.names?.indexOf(lower) ?? -1;
  if (named >= 0) return field.names === MONTH_NAMES ? named + 1 : named;
  if (token === '*') return 'special';
  if ((field.name === 'day-of-month' || field.name === 'day-of-week') && /^(\?|\d*[LW]|LW)$/i.test(token)) return 'special';
  return 'invalid';
}

const cronCache = new Map<string, Cron>();

/**
 * The croner job (no callback, so no timer) for a 5-field expression in a canonical zone, cached.
 * UTC uses a fixed offset: the same results as the `UTC` zone, about ten times faster.
 */
export function cronFor(cron: string, timezone: string): Cron {
  const key = `${cron}\u0000${timezone}`;
  let job = cronCache.get(key);
  if (job === undefined) {
    job = new Cron(cron, {
      mode: '5-part',
      ...(timezone === 'UTC' ? { utcOffset: 0 } : { timezone }),
    });
    cronCache.set(key, job);
  }
  return job;
}

const canonicalZones = new Map<string, string>();

/**
 * The canonical name of an IANA zone (`Etc/UTC` and `UTC` both give `UTC`).
 * @throws InvalidTimeZoneError
 */
export function canonicalTimeZone(timezone: string): string {
  let canonical = canonicalZones.get(timezone);
  if (canonical === undefined) {
    try {
      canonical = new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone;
    } catch {
      throw new InvalidTimeZoneError(timezone);
    }
    if (canonical === 'Etc/UTC' || canonical === 'Etc/GMT' || canonical === 'GMT') canonical = 'UTC';
    canonicalZones.set(timezone, canonical);
  }
  return canonical;
}

/** Parse a raw interval if needed. @throws InvalidScheduleIntervalError */
export function toParsedInterval(interval: IntervalInput): ParsedInterval | null {
  if (interval === null || interval === undefined) return null;
  return typeof interval === 'string' ? parseIntervalString(interval) : interval;
}

/** True for intervals that have execution dates (hourly … monthly and cron). */
export function isRecurring(interval: ParsedInterval | null): interval is RecurringInterval {
  return interval !== null && 'cron' in interval;
}

// ---------------------------------------------------------------------------------------------------------
// Wall-clock arithmetic in a zone. A "wall" value is the zone's local date-time encoded as if it were UTC
// milliseconds, so calendar arithmetic can use Date.UTC normalisation.

const wallFormatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's wall clock at an instant, as UTC-encoded milliseconds. */
export function toWall(instant: Date, timezone: string): number {
  if (timezone === 'UTC') return instant.getTime();
  let fmt = wallFormatters.get(timezone);
  if (fmt === undefined) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    wallFormatters.set(timezone, fmt);
  }
  const p: Record<string, number> = {};
  for (const part of fmt.formatToParts(instant)) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  const ms = ((instant.getTime() % 1000) + 1000) % 1000;
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!, ms);
}

/**
 * The instant showing a wall time in the zone. In a fall-back overlap the earlier instant; in a
 * spring-forward gap the first instant after the gap (croner's rule for fixed-time jobs).
 */
export function fromWall(wall: number, timezone: string): Date {
  if (timezone === 'UTC') return new Date(wall);
  const DAY = 86_400_000;
  const offsets = new Set<number>();
  for (const probe of [wall - DAY, wall, wall + DAY]) offsets.add(toWall(new Date(probe), timezone) - probe);
  const candidates = [...offsets].map((offset) => wall - offset).sort((a, b) => a - b);
  const exact = candidates.find((t) => toWall(new Date(t), timezone) === wall);
  if (exact !== undefined) return new Date(exact);
  let lo = candidates[0]!;
  let hi = candidates[candidates.length - 1]!;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (toWall(new Date(mid), timezone) >= wall) hi = mid;
    else lo = mid;
  }
  return new Date(hi);
}

const DAY_MS = 86_400_000;

/** Calendar parts of a wall value. */
function wallParts(wall: number) {
  const d = new Date(wall);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth(),
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    /** Python's `weekday()`: Monday 0 … Sunday 6. */
    weekday: (d.getUTCDay() + 6) % 7,
  };
}

/** dateutil's `relativedelta(months=n)`: same day, clamped to the target month's last day. */
export function addMonthsClamped(wall: number, months: number): number {
  const p = wallParts(wall);
  const target = new Date(Date.UTC(p.year, p.month + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  return Date.UTC(
    target.getUTCFullYear(),
    target.getUTCMonth(),
    Math.min(p.day, lastDay),
    p.hour,
    p.minute,
    p.second,
    new Date(wall).getUTCMilliseconds(),
  );
}

// ---------------------------------------------------------------------------------------------------------

/** Options of {@link currentExecutionDate} and {@link nextExecutionDate}. */
export interface ExecutionDateOptions {
  /**
   * Landing time (`settings.landing_time_enabled` on a time trigger): the trigger's `start_time`, the time
   * runs must finish by. Only for `@hourly`/`@daily`/`@weekly`/`@monthly`; ignored otherwise. Default: none.
   */
  landingStartTime?: Date | null;
}

/**
 * Mage's `current_execution_date`: the floor of `now` for the interval.
 * - `@hourly` top of the hour, `@daily` midnight, `@weekly` Monday 00:00, `@monthly` the 1st 00:00
 *   (inclusive: exactly 12:00:00 is its own hourly floor);
 * - cron: croniter's `get_prev`, the last fire strictly before `now`;
 * - `@once`, `@always_on`: `now`; no interval: null.
 * With `landingStartTime`, the floor takes the start time's minute/second (hourly), time of day (daily),
 * plus its weekday (weekly) or day of month − 1 days (monthly), as Mage.
 *
 * @param timezone IANA zone whose wall clock the floor is taken on. Default `UTC` (Mage).
 * @throws InvalidScheduleIntervalError, InvalidTimeZoneError
 */
export function currentExecutionDate(
  interval: IntervalInput,
  now: Date,
  timezone = 'UTC',
  options: ExecutionDateOptions = {},
): Date | null {
  const parsed = toParsedInterval(interval);
  const tz = canonicalTimeZone(timezone);
  if (parsed === null) return null;
  if (!isRecurring(parsed)) return new Date(now.getTime());
  const job = cronFor(parsed.cron, tz);
  const reference = parsed.kind === 'cron' ? now : new Date(now.getTime() + 1);
  const floor = job.previousRuns(1, reference)[0] ?? null;
  if (floor === null) return null;
  const landing = options.landingStartTime;
  if (landing && parsed.kind !== 'cron') return landingAdjusted(parsed.kind, floor, landing, tz);
  return floor;
}

function landingAdjusted(kind: NamedIntervalKind, floor: Date, startTime: Date, tz: string): Date {
  const start = wallParts(toWall(startTime, tz));
  if (kind === 'hourly') return new Date(floor.getTime() + (start.minute * 60 + start.second) * 1000);
  const f = wallParts(toWall(floor, tz));
  const extraDays = kind === 'weekly' ? start.weekday : kind === 'monthly' ? start.day - 1 : 0;
  return fromWall(Date.UTC(f.year, f.month, f.day + extraDays, start.hour, start.minute, start.second), tz);
}

/**
 * Mage's `next_execution_date`, computed from the current execution date: hourly +1 h, daily +1 day,
 * weekly +7 days, monthly the 1st of the next month, cron the next fire after the current one (so exactly
 * at a fire time it is that fire time, as croniter); `@once`, `@always_on` and no interval: null.
 * With landing time the additions are Mage's (monthly keeps the time of day but returns to the 1st).
 *
 * @param timezone IANA zone. Default `UTC` (Mage).
 */
export function nextExecutionDate(
  interval: IntervalInput,
  now: Date,
  timezone = 'UTC',
  options: ExecutionDateOptions = {},
): Date | null {
  const parsed = toParsedInterval(interval);
  const tz = canonicalTimeZone(timezone);
  if (!isRecurring(parsed)) return null;
  const current = currentExecutionDate(parsed, now, tz, options);
  if (current === null) return null;
  if (options.landingStartTime && parsed.kind !== 'cron') {
    if (parsed.kind === 'hourly') return new Date(current.getTime() + 3_600_000);
    const wall = toWall(current, tz);
    if (parsed.kind === 'daily') return fromWall(wall + DAY_MS, tz);
    if (parsed.kind === 'weekly') return fromWall(wall + 7 * DAY_MS, tz);
    const p = wallParts(wall + 32 * DAY_MS);
    return fromWall(Date.UTC(p.year, p.month, 1, p.hour, p.minute, p.second), tz);
  }
  return cronFor(parsed.cron, tz).nextRun(current);
}

/** Options of {@link dueTimes}. */
export interface DueTimesOptions {
  /** The most dates to list; more is an error rather than a huge list. Default 10 000. */
  limit?: number;
}

/** More execution dates in a window than the caller allowed. */
export class TooManyDueTimesError extends RangeError {
  override readonly name = 'TooManyDueTimesError';
}

/**
 * Every execution date in `(from, to]`, oldest first: the fire times of a recurring interval (what
 * `current_execution_date` would have returned at some moment of the window). Empty for `@once`,
 * `@always_on` and no interval.
 *
 * @param timezone IANA zone. Default `UTC`.
 * @throws TooManyDueTimesError when there are more than `limit`.
 */
export function dueTimes(
  interval: IntervalInput,
  from: Date,
  to: Date,
  timezone = 'UTC',
  options: DueTimesOptions = {},
): Date[] {
  const parsed = toParsedInterval(interval);
  const tz = canonicalTimeZone(timezone);
  const limit = options.limit ?? 10_000;
  if (!isRecurring(parsed) || to.getTime() <= from.getTime()) return [];
  const job = cronFor(parsed.cron, tz);
  const dates: Date[] = [];
  let cursor = job.nextRun(from);
  while (cursor !== null && cursor.getTime() <= to.getTime()) {
    if (dates.length === limit) {
      throw new TooManyDueTimesError(
        `More than ${limit} execution dates of '${parsed.source}' between ${from.toISOString()} and ${to.toISOString()}.`,
      );
    }
    dates.push(cursor);
    cursor = job.nextRun(cursor);
  }
  return dates;
}

/**
 * The number of execution dates in `(from, to)`, counting at most `cap` of them.
 * Returns `{count, capped}`; `capped` means there are at least `count` (= cap).
 */
export function countDueTimes(
  interval: RecurringInterval,
  from: Date,
  to: Date,
  timezone: string,
  cap: number,
): { count: number; capped: boolean } {
  const job = cronFor(interval.cron, canonicalTimeZone(timezone));
  let count = 0;
  let cursor = job.nextRun(from);
  while (cursor !== null && cursor.getTime() < to.getTime()) {
    if (count === cap) return { count, capped: true };
    count += 1;
    cursor = job.nextRun(cursor);
  }
  return { count, capped: false };
}

/**
 * The last `n` execution dates strictly before `before`, oldest first (for catch-up).
 */
export function previousDueTimes(interval: RecurringInterval, before: Date, n: number, timezone: string): Date[] {
  if (n <= 0) return [];
  return cronFor(interval.cron, canonicalTimeZone(timezone)).previousRuns(n, before).reverse();
}

// ---------------------------------------------------------------------------------------------------------

/** Mage's `SettingsConfig` keys that `should_schedule` reads. */
export interface ScheduleSettings {
  /** Run the current interval even though it started before `last_enabled_at`. Default false. */
  create_initial_pipeline_run?: boolean | null;
  /** `start_time` is the time runs must finish by (hourly … monthly time triggers only). Default false. */
  landing_time_enabled?: boolean | null;
  [key: string]: unknown;
}

/** The trigger as `shouldSchedule` needs it. */
export interface ScheduleForDecision {
  /** `active` or `inactive`; only `active` fires. */
  status: string;
  /** `time` (default), `api` or `event`; only time triggers fire on their own. */
  scheduleType?: ScheduleType;
  scheduleInterval: IntervalInput;
  startTime: Date | null;
  lastEnabledAt: Date | null;
  settings: ScheduleSettings | null;
  /** IANA zone of the trigger (our extension). Default `UTC`. */
  timezone?: string | null;
}

/** Input of {@link shouldSchedule}. */
export interface ShouldScheduleInput {
  schedule: ScheduleForDecision;
  now: Date;
  /** Whether the trigger already has a run with exactly this `execution_date`. */
  hasRunForExecutionDate: (executionDate: Date) => boolean;
  /** The trigger's number of runs (`pipeline_runs_count`). */
  runCount: number;
  /** Status of the trigger's most recently created run, or null without runs. */
  lastRunStatus: string | null;
  /**
   * Runtimes in seconds of the most recent completed runs, newest first (Mage's `runtime_history`);
   * only the first 7 are used. Only read with landing time. Default: none.
   */
  previousRuntimesSeconds?: number[];
  /** The pipeline's `executor_count`: `@once` streaming pipelines fire until this many runs exist. Default 1. */
  executorCount?: number;
}

/** Outcome of {@link shouldSchedule}. `executionDate` is the date a run would carry (null without one). */
export interface ScheduleDecision {
  fire: boolean;
  executionDate: Date | null;
  /**
   * Why: `inactive`, `before_start_time`, `no_interval`, `once_has_run`, `once_first_run`,
   * `once_more_executors`, `always_on_no_runs`, `always_on_run_in_progress`, `always_on_restart`,
   * `no_execution_date`, `execution_date_before_start_time`, `execution_date_before_last_enabled_at`,
   * `run_exists`, `landing_time_not_yet`, `landing_time_due`, `landing_time_no_history`, `due`.
   */
  reason: string;
}

/**
 * Mage's `PipelineSchedule.should_schedule` (mage-api.md §6.2), for one scheduler tick.
 * The pipeline-exists check is left to the caller.
 *
 * @throws InvalidScheduleIntervalError, InvalidTimeZoneError
 */
export function shouldSchedule(input: ShouldScheduleInput): ScheduleDecision {
  const { schedule, now } = input;
  const tz = canonicalTimeZone(schedule.timezone ?? 'UTC');
  const scheduleType = schedule.scheduleType ?? 'time';
  const parsed = scheduleType === 'time' ? toParsedInterval(schedule.scheduleInterval) : null;
  const landing =
    parsed !== null &&
    parsed.kind !== 'cron' &&
    isRecurring(parsed) &&
    Boolean(schedule.settings?.landing_time_enabled);
  const no = (reason: string, executionDate: Date | null = null): ScheduleDecision => ({ fire: false, executionDate, reason });
  const yes = (reason: string, executionDate: Date | null): ScheduleDecision => ({ fire: true, executionDate, reason });

  if (schedule.status !== 'active') return no('inactive');
  if (!landing && schedule.startTime !== null && now.getTime() < schedule.startTime.getTime()) return no('before_start_time');
  if (parsed === null) return no('no_interval');

  if (parsed.kind === 'once') {
    const at = new Date(now.getTime());
    if (input.runCount === 0) return yes('once_first_run', at);
    const executors = input.executorCount ?? 1;
    if (executors > 1 && input.runCount < executors) return yes('once_more_executors', at);
    return no('once_has_run');
  }
  if (parsed.kind === 'always_on') {
    const at = new Date(now.getTime());
    if (input.runCount === 0) return yes('always_on_no_runs', at);
    if (input.lastRunStatus === 'running' || input.lastRunStatus === 'initial') return no('always_on_run_in_progress');
    return yes('always_on_restart', at);
  }

  const current = currentExecutionDate(parsed, now, tz, {
    landingStartTime: landing ? schedule.startTime : null,
  });
  if (current === null) return no('no_execution_date');
  if (schedule.startTime !== null && current.getTime() < schedule.startTime.getTime()) {
    return no('execution_date_before_start_time', current);
  }
  if (
    schedule.lastEnabledAt !== null &&
    !schedule.settings?.create_initial_pipeline_run &&
    current.getTime() < schedule.lastEnabledAt.getTime()
  ) {
    return no('execution_date_before_last_enabled_at', current);
  }
  if (input.hasRunForExecutionDate(current)) return no('run_exists', current);
  if (!landing) return yes('due', current);

  const runtimes = (input.previousRuntimesSeconds ?? []).slice(0, 7);
  if (runtimes.length === 0) return yes('landing_time_no_history', current);
  const leadSeconds = landingLeadSeconds(runtimes);
  if (now.getTime() >= current.getTime() - leadSeconds * 1000) return yes('landing_time_due', current);
  return no('landing_time_not_yet', current);
}

/**
 * How long before the landing time a run starts: `ceil(mean)` plus, with two or more samples,
 * `ceil(sample stdev / 2)` (Python's `statistics.stdev`), as Mage.
 */
export function landingLeadSeconds(runtimesSeconds: readonly number[]): number {
  const n = runtimesSeconds.length;
  if (n === 0) return 0;
  const mean = runtimesSeconds.reduce((a, b) => a + b, 0) / n;
  let sd = 0;
  if (n >= 2) {
    const variance = runtimesSeconds.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
    sd = Math.ceil(Math.sqrt(variance) / 2);
  }
  return Math.ceil(mean) + sd;
}

// ---------------------------------------------------------------------------------------------------------

/** Mage's `Backfill.IntervalType`; `custom` steps in seconds. */
export type BackfillIntervalType = 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year' | 'custom';

/** Input of {@link backfillDates}. */
export interface BackfillDatesInput {
  start: Date;
  /** Inclusive. */
  end: Date;
  intervalType: BackfillIntervalType;
  /** Positive integer. */
  intervalUnits: number;
  /** The most dates to produce; more is an error. Default 100 000. */
  limit?: number;
}

/**
 * Mage's backfill dates (`orchestration/backfills/service.py::__build_dates`): from `start`, stepping by
 * `intervalUnits` of `intervalType` while the date is `<= end`. Months and years step with
 * `relativedelta` from the previous date, in UTC, so a clamped day stays clamped
 * (Jan 31 → Feb 29 → Mar 29 → Apr 29), exactly as Mage.
 *
 * @throws RangeError for a bad unit count, an unknown type, or more than `limit` dates.
 */
export function backfillDates(input: BackfillDatesInput): Date[] {
  const { start, end, intervalType, intervalUnits } = input;
  const limit = input.limit ?? 100_000;
  if (!Number.isInteger(intervalUnits) || intervalUnits <= 0) {
    throw new RangeError(`interval_units must be a positive integer, got ${String(intervalUnits)}.`);
  }
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime())) {
    throw new RangeError('start_datetime and end_datetime must be valid dates.');
  }
  const fixedSeconds: Partial<Record<BackfillIntervalType, number>> = {
    second: 1,
    custom: 1,
    minute: 60,
    hour: 3600,
    day: 86_400,
    week: 604_800,
  };
  let step: (d: number) => number;
  if (intervalType === 'month' || intervalType === 'year') {
    const months = intervalType === 'month' ? intervalUnits : 12 * intervalUnits;
    step = (d) => addMonthsClamped(d, months);
  } else if (fixedSeconds[intervalType] !== undefined) {
    const ms = fixedSeconds[intervalType]! * 1000 * intervalUnits;
    step = (d) => d + ms;
  } else {
    throw new RangeError(
      `Unknown interval_type '${String(intervalType)}': expected second, minute, hour, day, week, month, year or custom.`,
    );
  }
  const dates: Date[] = [];
  for (let d = start.getTime(); d <= end.getTime(); d = step(d)) {
    if (dates.length === limit) {
      throw new RangeError(`The backfill would create more than ${limit} runs; narrow the range or widen the interval.`);
    }
    dates.push(new Date(d));
  }
  return dates;
}
