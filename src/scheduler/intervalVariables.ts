/**
 * The interval variables Mage gives the blocks of a time trigger's run (`PipelineRun.get_variables` in
 * `mage_ai/orchestration/db/models/schedules.py`; mage-api.md §5.4), and the per-run variables of a
 * backfill (`orchestration/backfills/service.py::__build_variables_list`).
 *
 * Mage computes them only when the run's own variables carry none of the four keys; when they do (as
 * backfill runs do), those win and are parsed as dates. That precedence is the caller's.
 *
 * Datetimes are rendered like Python's `datetime.isoformat()` of an aware UTC datetime
 * (`2023-10-11T00:00:00+00:00`, microseconds only when non-zero), which `datetime.fromisoformat` and
 * `dateutil.parser.parse` read back, also for triggers in another time zone (same instants).
 */
import {
  addMonthsClamped,
  canonicalTimeZone,
  cronFor,
  fromWall,
  isRecurring,
  toParsedInterval,
  toWall,
  type IntervalInput,
  type RecurringInterval,
} from './schedule.js';

/** Mage's interval variables (datetimes as ISO strings). */
export interface IntervalVariables {
  /** The run's execution date. */
  interval_start_datetime: string;
  /** The end of the interval; null for `@once`/`@always_on`. */
  interval_end_datetime: string | null;
  /** End minus start in seconds; null for `@once`/`@always_on`. */
  interval_seconds: number | null;
  /**
   * Start minus `interval_seconds` (Mage's formula, so for `@monthly` it is start minus the length of the
   * *current* month, e.g. 2023-08-31 for October, and for cron it need not be a fire time); null for
   * `@once`/`@always_on`.
   */
  interval_start_datetime_previous: string | null;
}

/** Python's `datetime.isoformat()` of an aware UTC datetime. */
export function pythonIsoformat(date: Date): string {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const ms = date.getUTCMilliseconds();
  return `${iso.slice(0, 19)}${ms === 0 ? '' : `.${String(ms).padStart(3, '0')}000`}+00:00`;
}

const DAY_MS = 86_400_000;

/**
 * Mage's interval variables of a run of a time trigger, from its execution date.
 * - `@hourly`: one hour; `@daily`: one day; `@weekly`: seven days; `@monthly`: one calendar month
 *   (`relativedelta(months=1)`); previous = start − interval_seconds.
 * - cron: as Mage drives croniter from the execution date: the end is the second fire after the fire
 *   preceding the execution date (for an execution date on a fire time, simply the next fire),
 *   interval_seconds = end − start, previous = start − interval_seconds.
 * - `@once`, `@always_on`: only `interval_start_datetime`.
 * Returns null when the trigger has no interval (api and event triggers get no interval variables).
 *
 * In a non-UTC zone (our extension) days, weeks and months are wall-clock days, weeks and months of the
 * zone (a DST day lasts 23 or 25 hours), and cron fires are the zone's; hours stay real hours.
 *
 * @param timezone IANA zone of the trigger. Default `UTC` (Mage).
 */
export function intervalVariables(interval: IntervalInput, executionDate: Date, timezone = 'UTC'): IntervalVariables | null {
  const parsed = toParsedInterval(interval);
  const tz = canonicalTimeZone(timezone);
  if (parsed === null) return null;
  const start = executionDate;
  const result: IntervalVariables = {
    interval_start_datetime: pythonIsoformat(start),
    interval_end_datetime: null,
    interval_seconds: null,
    interval_start_datetime_previous: null,
  };
  if (!isRecurring(parsed)) return result;

  const span = intervalSpan(parsed, start, tz);
  if (span === null) return result;
  result.interval_end_datetime = pythonIsoformat(span.end);
  result.interval_seconds = (span.end.getTime() - start.getTime()) / 1000;
  result.interval_start_datetime_previous = pythonIsoformat(span.previous);
  return result;
}

function intervalSpan(interval: RecurringInterval, start: Date, tz: string): { end: Date; previous: Date } | null {
  if (interval.kind === 'hourly' || interval.kind === 'cron') {
    const end = interval.kind === 'hourly' ? new Date(start.getTime() + 3_600_000) : cronEnd(interval.cron, start, tz);
    if (end === null) return null;
    return { end, previous: new Date(2 * start.getTime() - end.getTime()) };
  }
  const wall = toWall(start, tz);
  const wallEnd =
    interval.kind === 'daily' ? wall + DAY_MS : interval.kind === 'weekly' ? wall + 7 * DAY_MS : addMonthsClamped(wall, 1);
  return { end: fromWall(wallEnd, tz), previous: fromWall(2 * wall - wallEnd, tz) };
}

function cronEnd(cron: string, start: Date, tz: string): Date | null {
  const job = cronFor(cron, tz);
  const before = job.previousRuns(1, start)[0];
  if (before === undefined) return null;
  const first = job.nextRun(before);
  return first === null ? null : job.nextRun(first);
}

/** The variables Mage stores on each backfill run. */
export interface BackfillRunVariables {
  /** `%Y-%m-%d` of the execution date (UTC). */
  ds: string;
  execution_date: string;
  /** `%H` of the execution date (UTC). */
  hr: string;
  /** The next date of the list; null for the last. */
  interval_end_datetime: string | null;
  /** Seconds to the next date; null for the last. */
  interval_seconds: number | null;
  interval_start_datetime: string;
}

/** Mage's per-run backfill variables for a list of dates from `backfillDates`. */
export function backfillRunVariables(dates: readonly Date[]): BackfillRunVariables[] {
  return dates.map((date, i) => {
    const next = dates[i + 1];
    const iso = pythonIsoformat(date);
    return {
      ds: iso.slice(0, 10),
      execution_date: iso,
      hr: iso.slice(11, 13),
      interval_end_datetime: next ? pythonIsoformat(next) : null,
      interval_seconds: next ? (next.getTime() - date.getTime()) / 1000 : null,
      interval_start_datetime: iso,
    };
  });
}
