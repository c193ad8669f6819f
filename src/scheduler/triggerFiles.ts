/**
 * triggers.yaml both ways (mage-api.md §5.3).
 * - File → database: `TriggerFileSync.syncChanged()` re-reads each pipeline's triggers.yaml whose file changed
 *   (by mtime, size and inode) and upserts its triggers by (pipeline, name), as Mage's `sync_schedules`.
 *   Entries whose `envs` do not include the environment are skipped; removing an entry does not delete the
 *   trigger (Mage). Only keys present in an entry are applied. A file that does not parse, or an entry with a
 *   bad interval, zone, setting or an `execution_partition` variable that is not plain folder names, is
 *   recorded as an error of that pipeline; other entries and pipelines go on.
 * - Database → file: `writeBackTrigger` / `removeTriggerFromFile`, used by the API when save-in-code is on for
 *   the pipeline (pipeline `settings.triggers.save_in_code_automatically`, or the project's
 *   `pipelines.settings.triggers.save_in_code_automatically`) or the file already has an entry of that name.
 *
 * Tokens: an API trigger's token is never written to the file, because only its hash is stored (a raw token
 * in a repository would let anyone with read access start runs). A `token` found in a file (a Mage project)
 * is imported as its hash, so existing callers keep working.
 */
import { mageEnv } from '../engine/kwargs.js';
import { existsSync, statSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { Project } from '../project/projectConfig.js';
import { listPipelineUuids, loadPipeline } from '../project/pipeline.js';
import { readTriggers, TriggerFileError, triggersYamlPath, writeTriggers, type TriggerConfig } from '../project/triggersYaml.js';
import type { Store } from '../store/db.js';
import type { NewSchedule, ScheduleRow } from '../store/schedules.js';
import { dbTime, fromDbTime } from '../store/time.js';
import { TriggerConfigError, validateTriggerFields } from './triggerConfig.js';
import { triggerTokenHash } from './triggerTokens.js';
import { runVariableProblem } from '../engine/runVariables.js';

/** The fields of a schedule that triggers.yaml carries. */
type FileFields = Pick<
  NewSchedule,
  'name' | 'description' | 'schedule_type' | 'schedule_interval' | 'start_time' | 'status' | 'variables' | 'sla' | 'settings' | 'last_enabled_at' | 'timezone' | 'catch_up_policy' | 'token_hash'
>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function timeField(v: unknown, field: string): string | null {
  if (v === null || v === undefined || v === '') return null;
  try {
    return dbTime(String(v));
  } catch {
    throw new TriggerConfigError(field, `${field} must be a date such as 2024-01-01 00:00:00; got ${JSON.stringify(v)}.`);
  }
}

/**
 * The schedule fields an entry sets (keys absent from the entry are absent here).
 * @throws TriggerConfigError
 */
export function fieldsFromEntry(entry: TriggerConfig): FileFields {
  const out: FileFields = { name: entry.name };
  const has = (k: string) => Object.prototype.hasOwnProperty.call(entry, k);
  if (has('description')) out.description = entry.description == null ? null : String(entry.description);
  if (has('schedule_type')) out.schedule_type = entry.schedule_type ?? 'time';
  if (has('schedule_interval')) out.schedule_interval = entry.schedule_interval ?? null;
  if (has('start_time')) out.start_time = timeField(entry.start_time, 'start_time');
  if (has('last_enabled_at')) out.last_enabled_at = timeField(entry.last_enabled_at, 'last_enabled_at');
  if (has('status')) out.status = entry.status ?? 'inactive';
  if (has('variables')) {
    if (entry.variables != null && !isRecord(entry.variables)) throw new TriggerConfigError('variables', 'variables must be a mapping.');
    out.variables = (entry.variables as Record<string, unknown> | null) ?? {};
    const refused = runVariableProblem(out.variables);
    if (refused) throw new TriggerConfigError(`variables.${refused.variable}`, refused.message);
  }
  if (has('sla')) out.sla = entry.sla == null ? null : Number(entry.sla);
  if (has('settings')) {
    if (entry.settings != null && !isRecord(entry.settings)) throw new TriggerConfigError('settings', 'settings must be a mapping.');
    out.settings = (entry.settings as Record<string, unknown> | null) ?? {};
  }
  if (has('timezone')) out.timezone = (entry.timezone as string | null) ?? null;
  if (has('catch_up_policy')) out.catch_up_policy = (entry.catch_up_policy as string | null) ?? null;
  if (typeof entry.token === 'string' && entry.token !== '') out.token_hash = triggerTokenHash(entry.token);
  // Mage's loader drops None settings values; so do we, and the keys are then checked.
  if (out.settings) out.settings = Object.fromEntries(Object.entries(out.settings).filter(([, v]) => v !== null));
  const { timezone } = validateTriggerFields({
    schedule_type: out.schedule_type,
    schedule_interval: out.schedule_interval,
    status: out.status,
    timezone: out.timezone,
    catch_up_policy: out.catch_up_policy,
    sla: out.sla,
    settings: out.settings,
  });
  if (has('timezone')) out.timezone = timezone;
  return out;
}

function same(key: keyof FileFields, a: unknown, b: unknown): boolean {
  if (key === 'start_time' || key === 'last_enabled_at') return (a == null ? null : dbTime(a as string)) === (b == null ? null : dbTime(b as string));
  return isDeepStrictEqual(a ?? null, b ?? null);
}

/** Whether save-in-code is on for the pipeline (its own setting wins over the project's). */
export function saveInCodeEnabled(project: Project, pipelineUuid: string): boolean {
  try {
    const own = loadPipeline(project, pipelineUuid).settings?.triggers?.save_in_code_automatically;
    if (typeof own === 'boolean') return own;
  } catch {
    return false;
  }
  const pipelines = project.metadata.pipelines as { settings?: { triggers?: { save_in_code_automatically?: unknown } } } | undefined;
  return pipelines?.settings?.triggers?.save_in_code_automatically === true;
}

/** Text of a time as Mage writes it to triggers.yaml (`2024-01-01 00:00:00+00:00`, microseconds only when set). */
function fileTime(value: string | null): string | null {
  if (value === null) return null;
  const d = fromDbTime(value);
  const ms = d.getUTCMilliseconds();
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)}${ms ? `.${String(ms).padStart(3, '0')}000` : ''}+00:00`;
}

/** The triggers.yaml entry of a schedule, keeping the unknown keys and `envs` of the entry it replaces. */
export function entryFromSchedule(schedule: ScheduleRow, previous?: TriggerConfig): TriggerConfig {
  const entry: TriggerConfig = {
    ...(previous ?? {}),
    name: schedule.name,
    pipeline_uuid: schedule.pipeline_uuid ?? undefined,
    schedule_type: schedule.schedule_type ?? 'time',
    schedule_interval: schedule.schedule_interval,
    start_time: fileTime(schedule.start_time),
    status: schedule.status,
    variables: schedule.variables ?? {},
    sla: schedule.sla,
    settings: schedule.settings ?? {},
    envs: previous?.envs ?? [],
    description: schedule.description,
    last_enabled_at: fileTime(schedule.last_enabled_at),
  };
  delete entry.token;
  if (schedule.timezone) entry.timezone = schedule.timezone;
  else delete entry.timezone;
  if (schedule.catch_up_policy) entry.catch_up_policy = schedule.catch_up_policy;
  else delete entry.catch_up_policy;
  return entry;
}

/**
 * Writes the schedule into its pipeline's triggers.yaml when save-in-code is on or the file has an entry
 * named `previousName` (default: its name). A rename replaces the old entry in place. Returns whether the
 * file was written. Throws TriggerFileError when save-in-code is on and the file cannot be read; with it off,
 * an unreadable file is left untouched.
 */
export function writeBackTrigger(project: Project, schedule: ScheduleRow, previousName = schedule.name): boolean {
  const uuid = schedule.pipeline_uuid;
  if (!uuid) return false;
  const saveInCode = saveInCodeEnabled(project, uuid);
  let triggers: TriggerConfig[] = [];
  try {
    triggers = existsSync(triggersYamlPath(project, uuid)) ? readTriggers(project, uuid) : [];
  } catch (err) {
    // An unreadable file is only an error when the trigger must be saved in code; otherwise it is left alone.
    if (!saveInCode) return false;
    throw err;
  }
  const index = triggers.findIndex((t) => t.name === previousName);
  if (index < 0 && !saveInCode) return false;
  const entry = entryFromSchedule(schedule, index >= 0 ? triggers[index] : undefined);
  if (index >= 0) triggers[index] = entry;
  else triggers.push(entry);
  writeTriggers(project, uuid, triggers);
  return true;
}

/**
 * Removes the schedule's entry from triggers.yaml, if there is one. Returns whether the file changed. An
 * unreadable file is an error (TriggerFileError) only with save-in-code on.
 */
export function removeTriggerFromFile(project: Project, schedule: Pick<ScheduleRow, 'pipeline_uuid' | 'name'>): boolean {
  const uuid = schedule.pipeline_uuid;
  if (!uuid || !existsSync(triggersYamlPath(project, uuid))) return false;
  let triggers: TriggerConfig[];
  try {
    triggers = readTriggers(project, uuid);
  } catch (err) {
    if (!saveInCodeEnabled(project, uuid)) return false;
    throw err;
  }
  const kept = triggers.filter((t) => t.name !== schedule.name);
  if (kept.length === triggers.length) return false;
  writeTriggers(project, uuid, kept);
  return true;
}

/**
 * Checks, before a database change, that the trigger file can be written afterwards, so an API change is not
 * half applied. @throws TriggerFileError
 */
export function assertTriggerFileWritable(project: Project, pipelineUuid: string): void {
  if (existsSync(triggersYamlPath(project, pipelineUuid))) readTriggers(project, pipelineUuid);
}

export interface TriggerFileSyncOptions {
  /** The environment entries' `envs` are matched against (Mage's `ENV`). Default Mage's get_env() of `ENV` (mageEnv: `prod` for production, else `dev`...). */
  env?: string;
  /** The clock, for `last_enabled_at` of triggers the file enables. */
  now?: () => Date;
}

export interface SyncReport {
  /** Pipelines whose file was read this time. */
  synced: string[];
  /** Triggers created or changed. */
  changed: number;
}

export class TriggerFileSync {
  private readonly stamps = new Map<string, string>();
  /** Problems per pipeline uuid, as of its last sync (absent when its file synced cleanly). */
  readonly errors = new Map<string, string[]>();

  constructor(
    private readonly project: Project,
    private readonly store: Store,
    private readonly options: TriggerFileSyncOptions = {},
  ) {}

  /** Forgets what was read, so the next sync reads every file. */
  reset(): void {
    this.stamps.clear();
  }

  /** Syncs the pipelines whose triggers.yaml changed since the last call (all of them the first time). */
  async syncChanged(): Promise<SyncReport> {
    const report: SyncReport = { synced: [], changed: 0 };
    const uuids = listPipelineUuids(this.project);
    for (const gone of [...this.stamps.keys()].filter((u) => !uuids.includes(u))) {
      this.stamps.delete(gone);
      this.errors.delete(gone);
    }
    for (const uuid of uuids) {
      const stamp = fileStamp(triggersYamlPath(this.project, uuid));
      if (this.stamps.get(uuid) === stamp) continue;
      this.stamps.set(uuid, stamp);
      report.synced.push(uuid);
      report.changed += await this.syncPipeline(uuid);
    }
    return report;
  }

  /** Reads one pipeline's file and upserts its triggers. Returns how many triggers were created or changed. */
  async syncPipeline(uuid: string): Promise<number> {
    const problems: string[] = [];
    let entries: TriggerConfig[];
    try {
      entries = readTriggers(this.project, uuid);
    } catch (err) {
      this.errors.set(uuid, [err instanceof TriggerFileError ? err.message : `Cannot read triggers.yaml of pipeline ${uuid}: ${(err as Error).message}`]);
      return 0;
    }
    const env = this.options.env ?? mageEnv();
    const existing = await this.store.schedules.listForPipeline(uuid);
    const byName = new Map<string, ScheduleRow>();
    for (const s of [...existing].sort((a, b) => a.id - b.id)) if (!byName.has(s.name)) byName.set(s.name, s);
    let changed = 0;
    for (const entry of entries) {
      if (Array.isArray(entry.envs) && entry.envs.length > 0 && !entry.envs.includes(env)) continue;
      let fields: FileFields;
      try {
        fields = fieldsFromEntry(entry);
      } catch (err) {
        problems.push(`Trigger ${JSON.stringify(entry.name)} in pipelines/${uuid}/triggers.yaml: ${(err as Error).message}`);
        continue;
      }
      const now = (this.options.now ?? (() => new Date()))();
      const current = byName.get(entry.name);
      try {
        if (!current) {
          const status = fields.status ?? 'inactive';
          await this.store.schedules.create({
            schedule_type: 'time',
            // Mage's triggers.yaml loader gives a trigger without them empty mappings (an API-created one: null).
            variables: {},
            settings: {},
            ...fields,
            status,
            pipeline_uuid: uuid,
            repo_path: this.project.root,
            last_enabled_at: fields.last_enabled_at ?? (status === 'active' ? now : null),
          });
          changed++;
          continue;
        }
        const patch: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(fields) as Array<[keyof FileFields, unknown]>) {
          if (!same(key, value, current[key as keyof ScheduleRow])) patch[key] = value;
        }
        if (patch.status === 'active' && current.status !== 'active' && fields.last_enabled_at == null) patch.last_enabled_at = now;
        if (Object.keys(patch).length) {
          await this.store.schedules.update(current.id, patch);
          changed++;
        }
      } catch (err) {
        problems.push(`Trigger ${JSON.stringify(entry.name)} of pipeline ${uuid} could not be saved: ${(err as Error).message}`);
      }
    }
    if (problems.length) this.errors.set(uuid, problems);
    else this.errors.delete(uuid);
    return changed;
  }
}

function fileStamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}|${s.size}|${s.ino}`;
  } catch {
    return 'absent';
  }
}
