/**
 * What a trigger may hold, checked in one place for the API and for triggers.yaml: its type, interval, time
 * zone, catch-up policy and every `settings` key of Mage's `SettingsConfig` (mage-api.md §3.3), plus the run
 * limits that apply to it (§6.1).
 */
import type { PipelineConfig } from '../project/pipeline.js';
import type { ScheduleRow } from '../store/schedules.js';
import { CATCH_UP_POLICIES, type CatchUpPolicy } from './catchUp.js';
import { canonicalTimeZone, InvalidScheduleIntervalError, InvalidTimeZoneError, parseScheduleInterval } from './schedule.js';

export const SCHEDULE_TYPES = ['time', 'event', 'api'] as const;
export const SCHEDULE_STATUSES = ['active', 'inactive'] as const;

/**
 * Mage's settings keys, and ours:
 * - `skip_if_previous_running`: a new run of this trigger is created cancelled while another is initial/running.
 * - `allow_blocks_to_fail`: the run goes on past failed blocks (the engine reads it).
 * - `create_initial_pipeline_run`: fire the interval that began before the trigger was enabled.
 * - `landing_time_enabled`: `start_time` is when runs must finish (hourly … monthly only).
 * - `pipeline_run_limit`: runs of this trigger running at once (overrides the pipeline's).
 * - `timeout` (seconds) and `timeout_status` (`failed` | `cancelled`): the engine ends runs that take longer.
 * - `invalid_schedule_interval`: set by the server, never by clients.
 * - `catch_up_max` (Blockflow): the most runs one catch-up of policy `all` creates. Default 100.
 */
export const SETTINGS_KEYS = [
  'skip_if_previous_running',
  'allow_blocks_to_fail',
  'create_initial_pipeline_run',
  'landing_time_enabled',
  'pipeline_run_limit',
  'timeout',
  'timeout_status',
  'invalid_schedule_interval',
  'catch_up_max',
] as const;

const BOOLEAN_SETTINGS = ['skip_if_previous_running', 'allow_blocks_to_fail', 'create_initial_pipeline_run', 'landing_time_enabled', 'invalid_schedule_interval'];

/** Default bound of the `all` catch-up policy. */
export const DEFAULT_CATCH_UP_MAX = 100;

/** A trigger field holds a value it may not; `field` names it (e.g. `settings.timeout`). */
export class TriggerConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'TriggerConfigError';
  }
}

export interface TriggerFields {
  schedule_type?: string | null;
  schedule_interval?: string | null;
  status?: string | null;
  timezone?: string | null;
  catch_up_policy?: string | null;
  sla?: number | null;
  settings?: Record<string, unknown> | null;
}

/**
 * Checks the fields a trigger will have after a create or update (pass the merged values). Returns the
 * canonical time zone (null for UTC/unset). Unknown settings keys are refused so a typo does not silently do
 * nothing.
 * @throws TriggerConfigError naming the field.
 */
export function validateTriggerFields(t: TriggerFields): { timezone: string | null } {
  const type = t.schedule_type ?? 'time';
  if (!(SCHEDULE_TYPES as readonly string[]).includes(type)) {
    throw new TriggerConfigError('schedule_type', `schedule_type must be one of ${SCHEDULE_TYPES.join(', ')}; got ${JSON.stringify(type)}.`);
  }
  if (t.status != null && !(SCHEDULE_STATUSES as readonly string[]).includes(t.status)) {
    throw new TriggerConfigError('status', `status must be active or inactive; got ${JSON.stringify(t.status)}.`);
  }
  if (t.schedule_interval != null) {
    try {
      parseScheduleInterval(t.schedule_interval, 'time');
    } catch (err) {
      if (err instanceof InvalidScheduleIntervalError) throw new TriggerConfigError('schedule_interval', err.message);
      throw err;
    }
  }
  let timezone: string | null = null;
  if (t.timezone != null && t.timezone !== '') {
    try {
      const tz = canonicalTimeZone(t.timezone);
      timezone = tz === 'UTC' ? null : tz;
    } catch (err) {
      if (err instanceof InvalidTimeZoneError) throw new TriggerConfigError('timezone', err.message);
      throw err;
    }
  }
  if (t.catch_up_policy != null && !(CATCH_UP_POLICIES as readonly string[]).includes(t.catch_up_policy)) {
    throw new TriggerConfigError('catch_up_policy', `catch_up_policy must be one of ${CATCH_UP_POLICIES.join(', ')}; got ${JSON.stringify(t.catch_up_policy)}.`);
  }
  if (t.sla != null && (typeof t.sla !== 'number' || !Number.isInteger(t.sla) || t.sla <= 0)) {
    throw new TriggerConfigError('sla', `sla must be a positive number of seconds; got ${JSON.stringify(t.sla)}.`);
  }
  validateSettings(t.settings ?? null);
  return { timezone };
}

/** @throws TriggerConfigError */
export function validateSettings(settings: Record<string, unknown> | null): void {
  if (settings === null) return;
  if (typeof settings !== 'object' || Array.isArray(settings)) throw new TriggerConfigError('settings', 'settings must be a mapping.');
  for (const [key, value] of Object.entries(settings)) {
    if (!(SETTINGS_KEYS as readonly string[]).includes(key)) {
      throw new TriggerConfigError(`settings.${key}`, `settings.${key} is not a trigger setting; known keys: ${SETTINGS_KEYS.join(', ')}.`);
    }
    if (value === null) continue;
    if (BOOLEAN_SETTINGS.includes(key) && typeof value !== 'boolean') {
      throw new TriggerConfigError(`settings.${key}`, `settings.${key} must be true or false; got ${JSON.stringify(value)}.`);
    }
    if ((key === 'pipeline_run_limit' || key === 'catch_up_max') && !(Number.isInteger(value) && (value as number) >= 1)) {
      throw new TriggerConfigError(`settings.${key}`, `settings.${key} must be a positive integer; got ${JSON.stringify(value)}.`);
    }
    if (key === 'timeout' && !(typeof value === 'number' && value > 0)) {
      throw new TriggerConfigError('settings.timeout', `settings.timeout must be a positive number of seconds; got ${JSON.stringify(value)}.`);
    }
    if (key === 'timeout_status' && value !== 'failed' && value !== 'cancelled') {
      throw new TriggerConfigError('settings.timeout_status', `settings.timeout_status must be failed or cancelled; got ${JSON.stringify(value)}.`);
    }
  }
}

/** The trigger's catch-up policy (default `none`, Mage's behaviour) and the bound of `all`. */
export function catchUpOf(schedule: Pick<ScheduleRow, 'catch_up_policy' | 'settings'>): { policy: CatchUpPolicy; max: number } {
  const policy = (CATCH_UP_POLICIES as readonly string[]).includes(schedule.catch_up_policy ?? '') ? (schedule.catch_up_policy as CatchUpPolicy) : 'none';
  const max = Number(schedule.settings?.catch_up_max);
  return { policy, max: Number.isInteger(max) && max >= 1 ? max : DEFAULT_CATCH_UP_MAX };
}

function positiveInt(v: unknown): number | null {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : null;
}

/** Run limits of one trigger in its pipeline (§6.1). Null means unlimited. */
export interface RunLimits {
  /** `settings.pipeline_run_limit`, else the pipeline's `concurrency_config.pipeline_run_limit`. */
  perTrigger: number | null;
  /** The pipeline's `concurrency_config.pipeline_run_limit_all_triggers`. */
  perPipeline: number | null;
  /** `on_pipeline_run_limit_reached`: `wait` (default, the run stays initial) or `skip` (it is cancelled). */
  onLimitReached: 'wait' | 'skip';
}

export function runLimits(schedule: Pick<ScheduleRow, 'settings'> | null, pipeline: Pick<PipelineConfig, 'concurrency_config'>): RunLimits {
  const cc = pipeline.concurrency_config ?? {};
  return {
    perTrigger: positiveInt(schedule?.settings?.pipeline_run_limit) ?? positiveInt(cc.pipeline_run_limit),
    perPipeline: positiveInt(cc.pipeline_run_limit_all_triggers),
    onLimitReached: cc.on_pipeline_run_limit_reached === 'skip' ? 'skip' : 'wait',
  };
}

/** True when any limit applies (so starting a run needs the admission check). */
export function hasLimits(l: RunLimits): boolean {
  return l.perTrigger !== null || l.perPipeline !== null;
}
