/**
 * pipelines/<uuid>/triggers.yaml (Mage's triggers-in-code, mage_ai/data_preparation/models/triggers): read
 * and written as `yaml.safe_dump(dict(triggers=[...]))`, unknown keys kept.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipelineDir, pipelineExists } from './pipeline.js';
import { PipelineNotFoundError } from './errors.js';
import type { Project } from './projectConfig.js';
import { parseYaml, PY_TIMESTAMP_RE, pyyamlDump, writeFileAtomic, YamlTimestamp } from './yamlFiles.js';

/** A triggers.yaml that cannot be used; carries the pipeline uuid so callers can report it per pipeline. */
export class TriggerFileError extends Error {
  constructor(
    readonly pipelineUuid: string,
    detail: string,
  ) {
    super(`Invalid triggers.yaml of pipeline ${pipelineUuid}: ${detail}`);
    this.name = 'TriggerFileError';
  }
}

/** One entry of triggers.yaml (Mage's Trigger.to_dict). */
export interface TriggerConfig {
  /** Unique per pipeline; the key used to sync with the database. */
  name: string;
  /** `time` | `api` | `event`. */
  schedule_type?: string;
  /** `@once`, `@hourly`, `@daily`, `@weekly`, `@monthly`, a cron expression, or null. */
  schedule_interval?: string | null;
  /** Text as written, e.g. `2023-01-01 00:00:00`; written back as a YAML timestamp. */
  start_time?: string | null;
  /** `active` | `inactive` (Mage's default). */
  status?: string;
  variables?: Record<string, unknown> | null;
  sla?: number | null;
  settings?: Record<string, unknown> | null;
  /** Environments the trigger applies to (`dev`, `staging`, `prod`, `test`); empty means all. */
  envs?: string[];
  description?: string | null;
  last_enabled_at?: string | null;
  token?: string | null;
  pipeline_uuid?: string;
  [key: string]: unknown;
}

/** Keys holding datetimes, which Mage writes as YAML timestamps rather than strings. */
const DATETIME_KEYS = ['start_time', 'last_enabled_at'];

/** Absolute path of pipelines/<uuid>/triggers.yaml. */
export function triggersYamlPath(project: Project, pipelineUuid: string): string {
  return join(pipelineDir(project, pipelineUuid), 'triggers.yaml'); // path-checked: pipelineDir resolves the uuid
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates parsed triggers.yaml content; throws TriggerFileError naming the problem. */
export function parseTriggers(pipelineUuid: string, parsed: unknown): TriggerConfig[] {
  if (parsed === null || parsed === undefined) return [];
  if (!isRecord(parsed)) throw new TriggerFileError(pipelineUuid, 'the file must be a mapping with a `triggers` list.');
  const list = parsed.triggers;
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) throw new TriggerFileError(pipelineUuid, '`triggers` must be a list.');
  const names = new Set<string>();
  return list.map((t, i) => {
    if (!isRecord(t)) throw new TriggerFileError(pipelineUuid, `triggers[${i}] is not a mapping.`);
    if (typeof t.name !== 'string' || t.name === '') throw new TriggerFileError(pipelineUuid, `triggers[${i}] has no name.`);
    if (names.has(t.name)) throw new TriggerFileError(pipelineUuid, `trigger name ${JSON.stringify(t.name)} appears more than once.`);
    names.add(t.name);
    if (t.envs !== undefined && t.envs !== null && !Array.isArray(t.envs)) {
      throw new TriggerFileError(pipelineUuid, `envs of trigger ${t.name} must be a list.`);
    }
    return { ...t, name: t.name } as TriggerConfig;
  });
}

/**
 * The triggers of a pipeline's triggers.yaml; [] when the file does not exist. Throws TriggerFileError for
 * a file that does not parse or has the wrong shape, PipelineNotFoundError for a missing pipeline.
 */
export function readTriggers(project: Project, pipelineUuid: string): TriggerConfig[] {
  if (!pipelineExists(project, pipelineUuid)) throw new PipelineNotFoundError(pipelineUuid);
  const path = triggersYamlPath(project, pipelineUuid);
  if (!existsSync(path)) return [];
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, 'utf8'), `pipelines/${pipelineUuid}/triggers.yaml`);
  } catch (err) {
    throw new TriggerFileError(pipelineUuid, err instanceof Error ? err.message : String(err));
  }
  return parseTriggers(pipelineUuid, parsed);
}

function forDump(trigger: TriggerConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...trigger };
  for (const key of DATETIME_KEYS) {
    const v = out[key];
    if (typeof v === 'string' && PY_TIMESTAMP_RE.test(v)) out[key] = new YamlTimestamp(v);
  }
  return out;
}

/** triggers.yaml text for these triggers, as Mage's `yaml.safe_dump(dict(triggers=[...]))`. */
export function dumpTriggersYaml(triggers: TriggerConfig[]): string {
  return pyyamlDump({ triggers: triggers.map(forDump) });
}

/** Replaces the pipeline's triggers.yaml atomically. */
export function writeTriggers(project: Project, pipelineUuid: string, triggers: TriggerConfig[]): void {
  if (!pipelineExists(project, pipelineUuid)) throw new PipelineNotFoundError(pipelineUuid);
  parseTriggers(pipelineUuid, { triggers });
  writeFileAtomic(triggersYamlPath(project, pipelineUuid), dumpTriggersYaml(triggers));
}

/** Adds the trigger, or replaces the one with the same name (keeping its position). */
export function upsertTrigger(project: Project, pipelineUuid: string, trigger: TriggerConfig): TriggerConfig[] {
  const triggers = readTriggers(project, pipelineUuid);
  const index = triggers.findIndex((t) => t.name === trigger.name);
  if (index >= 0) triggers[index] = trigger;
  else triggers.push(trigger);
  writeTriggers(project, pipelineUuid, triggers);
  return triggers;
}
