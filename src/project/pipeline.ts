/**
 * pipelines/<uuid>/metadata.yaml: load with Mage's defaults, save in Mage's format (PyYAML dump of the
 * pipeline dict, keys sorted) while keeping keys Mage does not know, create, rename, delete.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isBlockType, PIPELINE_TYPES, type BlockLanguage, type BlockStatus, type BlockType } from './blockTypes.js';
import { findCycle } from './dag.js';
import { PipelineConfigError, PipelineCycleError, PipelineExistsError, PipelineNotFoundError } from './errors.js';
import { checkNameBytes, cleanName } from './names.js';
import { PathRefusedError, checkPathName, resolveUnderRoot } from './paths.js';
import type { Project, RetryConfig } from './projectConfig.js';
import { parseYaml, pyyamlDump, writeFileAtomic } from './yamlFiles.js';

export { PipelineConfigError, PipelineCycleError, PipelineExistsError, PipelineNotFoundError } from './errors.js';
export { topologicalOrder, upstreamClosure, downstreamClosure, findCycle, hasCycle } from './dag.js';

/** One block entry of metadata.yaml (Mage's Block.to_dict_base), unknown keys kept. */
export interface BlockConfig {
  uuid: string;
  name: string;
  type: BlockType | string;
  language: BlockLanguage | string;
  /** `not_executed` | `executed` | `failed` | `updated`. */
  status: BlockStatus | string | null;
  color: string | null;
  configuration: Record<string, unknown>;
  upstream_blocks: string[];
  downstream_blocks: string[];
  /** Default `local_python`. */
  executor_type: string | null;
  executor_config: Record<string, unknown> | null;
  retry_config: RetryConfig | null;
  /** Seconds. */
  timeout: number | null;
  has_callback: boolean;
  /** Recomputed on save: every transitive upstream block has status `executed`. */
  all_upstream_blocks_executed: boolean;
  replicated_block?: string | null;
  groups?: string[];
  tags?: string[];
  catalog?: unknown;
  callback_blocks?: string[];
  conditional_blocks?: string[];
  extension_uuid?: string;
  /** Never saved to metadata.yaml; accepted so API payloads can carry it. */
  content?: string;
  [key: string]: unknown;
}

export interface PipelineConcurrencyConfig {
  block_run_limit?: number;
  pipeline_run_limit?: number;
  pipeline_run_limit_all_triggers?: number;
  on_pipeline_run_limit_reached?: 'wait' | 'skip' | string;
  [key: string]: unknown;
}

export interface PipelineExtension {
  blocks?: BlockConfig[];
  [key: string]: unknown;
}

/** A pipeline's metadata.yaml (Mage's Pipeline.to_dict as saved), unknown keys kept. */
export interface PipelineConfig {
  uuid: string;
  name: string;
  description: string | null;
  /** `python` (batch), `pyspark`, `streaming`, `integration`, `databricks`, `execution_framework`. */
  type: string;
  tags: string[];
  /** Text such as `2024-09-27 23:18:10.554952+00:00`; null for pipelines created without one. */
  created_at: string | null;
  blocks: BlockConfig[];
  callbacks: BlockConfig[];
  conditionals: BlockConfig[];
  /** Chart blocks. */
  widgets: BlockConfig[];
  extensions: Record<string, PipelineExtension>;
  cache_block_output_in_memory: boolean;
  concurrency_config: PipelineConcurrencyConfig;
  data_integration: unknown;
  executor_config: Record<string, unknown>;
  executor_count: number;
  executor_type: string | null;
  notification_config: Record<string, unknown>;
  remote_variables_dir: string | null;
  retry_config: RetryConfig;
  run_pipeline_in_one_process: boolean;
  settings: { triggers: { save_in_code_automatically?: boolean; [key: string]: unknown } | null; [key: string]: unknown };
  spark_config: Record<string, unknown>;
  /** Global variables; absent (or null) when not set, and then not written. */
  variables?: Record<string, unknown> | null;
  variables_dir: string | null;
  [key: string]: unknown;
}

/** The collections of a pipeline that hold blocks. */
export const BLOCK_COLLECTIONS = ['blocks', 'callbacks', 'conditionals', 'widgets'] as const;
export type BlockCollection = (typeof BLOCK_COLLECTIONS)[number];

const PIPELINE_FILE = 'metadata.yaml';

function checkUuidSegment(uuid: string): void {
  if (typeof uuid !== 'string' || uuid === '' || /[/\\]/.test(uuid)) {
    throw new PathRefusedError('separator', `Pipeline uuid ${JSON.stringify(uuid)} is not a single folder name.`);
  }
}

/** Absolute path of pipelines/<uuid> (checked to stay under the root). */
export function pipelineDir(project: Project, uuid: string): string {
  checkUuidSegment(uuid);
  return resolveUnderRoot(project.root, `pipelines/${uuid}`);
}

/** Absolute path of pipelines/<uuid>/metadata.yaml. */
export function pipelineConfigPath(project: Project, uuid: string): string {
  return join(pipelineDir(project, uuid), PIPELINE_FILE); // path-checked: pipelineDir resolves the uuid
}

/** True when pipelines/<uuid>/metadata.yaml exists (a bad uuid gives false). */
export function pipelineExists(project: Project, uuid: string): boolean {
  try {
    return existsSync(pipelineConfigPath(project, uuid));
  } catch {
    return false;
  }
}

/** Uuids of every folder under pipelines/ that holds a metadata.yaml, sorted (Mage's default order). */
export function listPipelineUuids(project: Project): string[] {
  const dir = join(project.root, 'pipelines');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.'))
    .map((e) => e.name)
    .filter((name) => pipelineExists(project, name))
    .sort();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** A block entry with Mage's defaults for missing keys (Pipeline.load_config / Block.__init__). */
export function normalizeBlock(raw: unknown, pipelineUuid: string, where: string): BlockConfig {
  if (!isRecord(raw)) throw new PipelineConfigError(pipelineUuid, `${where} is not a mapping.`);
  const uuid = raw.uuid;
  if (typeof uuid !== 'string' || uuid === '') {
    throw new PipelineConfigError(pipelineUuid, `${where} has no uuid.`);
  }
  try {
    // The uuid names the block's output folder and log file; a `..` or absolute uuid in a cloned or edited
    // metadata.yaml must not reach outside the data folder. Nested uuids (`folder/name`) are Mage's own.
    checkPathName('block uuid', uuid, { single: false });
  } catch (err) {
    if (err instanceof PathRefusedError) throw new PipelineConfigError(pipelineUuid, `${where}: ${err.message}`);
    throw err;
  }
  if (!isBlockType(raw.type)) {
    throw new PipelineConfigError(pipelineUuid, `Block ${uuid} has an unknown type ${JSON.stringify(raw.type)}.`);
  }
  return {
    ...raw,
    uuid,
    name: typeof raw.name === 'string' ? raw.name : uuid,
    type: raw.type,
    language: typeof raw.language === 'string' && raw.language !== '' ? raw.language : 'python',
    status: raw.status === undefined ? 'not_executed' : (raw.status as string | null),
    color: (raw.color as string | null | undefined) ?? null,
    configuration: isRecord(raw.configuration) ? raw.configuration : {},
    upstream_blocks: stringList(raw.upstream_blocks),
    downstream_blocks: stringList(raw.downstream_blocks),
    executor_type: raw.executor_type === undefined ? 'local_python' : ((raw.executor_type as string | null) ?? null),
    executor_config: isRecord(raw.executor_config) ? raw.executor_config : null,
    retry_config: isRecord(raw.retry_config) ? (raw.retry_config as RetryConfig) : null,
    timeout: typeof raw.timeout === 'number' ? raw.timeout : null,
    has_callback: raw.has_callback === true,
    all_upstream_blocks_executed: raw.all_upstream_blocks_executed !== false,
  };
}

/** Every block of the pipeline, whatever collection (or extension) holds it. */
export function allBlocks(pipeline: PipelineConfig): BlockConfig[] {
  const out: BlockConfig[] = [];
  for (const c of BLOCK_COLLECTIONS) out.push(...(pipeline[c] ?? []));
  for (const ext of Object.values(pipeline.extensions ?? {})) out.push(...(ext?.blocks ?? []));
  return out;
}

/** Drops links to blocks that do not exist (as Mage does) and adds missing reverse links among `blocks`. */
function reconcileLinks(pipeline: PipelineConfig): void {
  const known = new Set(allBlocks(pipeline).map((b) => b.uuid));
  for (const b of allBlocks(pipeline)) {
    b.upstream_blocks = b.upstream_blocks.filter((u) => known.has(u));
    b.downstream_blocks = b.downstream_blocks.filter((u) => known.has(u));
  }
  const byUuid = new Map(pipeline.blocks.map((b) => [b.uuid, b]));
  for (const b of pipeline.blocks) {
    for (const u of b.upstream_blocks) {
      const up = byUuid.get(u);
      if (up && !up.downstream_blocks.includes(b.uuid)) up.downstream_blocks.push(b.uuid);
    }
    for (const d of b.downstream_blocks) {
      const down = byUuid.get(d);
      if (down && !down.upstream_blocks.includes(b.uuid)) down.upstream_blocks.push(b.uuid);
    }
  }
}

/** Throws PipelineCycleError when the pipeline's blocks form a cycle. */
export function assertAcyclic(pipeline: PipelineConfig, prefix?: string): void {
  const cycle = findCycle(allBlocks(pipeline));
  if (cycle) throw new PipelineCycleError(pipeline.uuid, cycle, prefix);
}

/**
 * A pipeline dict with Mage's defaults for missing keys; unknown keys are kept. The uuid is the folder name,
 * as in Mage. Throws PipelineConfigError for a non-mapping file, an unknown block type, a duplicate block
 * uuid or a cycle.
 */
export function normalizePipeline(raw: unknown, uuid: string, project: Project): PipelineConfig {
  if (!isRecord(raw) || Object.keys(raw).length === 0) {
    throw new PipelineConfigError(uuid, `Invalid pipeline config in pipelines/${uuid}/metadata.yaml: it must be a non-empty mapping.`);
  }
  const collection = (key: string): BlockConfig[] => {
    const v = raw[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new PipelineConfigError(uuid, `${key} in pipeline ${uuid} must be a list.`);
    return v.map((b, i) => normalizeBlock(b, uuid, `${key}[${i}]`));
  };
  const extensions: Record<string, PipelineExtension> = {};
  if (isRecord(raw.extensions)) {
    for (const [key, ext] of Object.entries(raw.extensions)) {
      const e = isRecord(ext) ? ext : {};
      extensions[key] = {
        ...e,
        blocks: Array.isArray(e.blocks)
          ? e.blocks.map((b, i) => ({ ...normalizeBlock(b, uuid, `extensions.${key}.blocks[${i}]`), extension_uuid: key }))
          : [],
      };
    }
  }
  const executorCount = Number.parseInt(String(raw.executor_count), 10);
  const settings = isRecord(raw.settings) ? raw.settings : {};
  const pipeline: PipelineConfig = {
    ...raw,
    uuid,
    name: typeof raw.name === 'string' ? raw.name : uuid,
    description: (raw.description as string | null | undefined) ?? null,
    type: typeof raw.type === 'string' && raw.type !== '' ? raw.type : 'python',
    tags: stringList(raw.tags),
    created_at: raw.created_at === undefined || raw.created_at === null ? null : String(raw.created_at),
    blocks: collection('blocks'),
    callbacks: collection('callbacks'),
    conditionals: collection('conditionals'),
    widgets: collection('widgets'),
    extensions,
    cache_block_output_in_memory: raw.cache_block_output_in_memory === true,
    concurrency_config: isRecord(raw.concurrency_config) ? raw.concurrency_config : {},
    data_integration: raw.data_integration ?? null,
    executor_config: isRecord(raw.executor_config) ? raw.executor_config : {},
    executor_count: Number.isFinite(executorCount) ? executorCount : 1,
    executor_type: (raw.executor_type as string | null | undefined) ?? null,
    notification_config: isRecord(raw.notification_config) ? raw.notification_config : {},
    remote_variables_dir: (raw.remote_variables_dir as string | null | undefined) ?? null,
    retry_config: isRecord(raw.retry_config) ? (raw.retry_config as RetryConfig) : {},
    run_pipeline_in_one_process: raw.run_pipeline_in_one_process === true,
    settings: { ...settings, triggers: isRecord(settings.triggers) ? settings.triggers : null },
    spark_config: isRecord(raw.spark_config) ? raw.spark_config : {},
    variables_dir: typeof raw.variables_dir === 'string' ? raw.variables_dir : project.dataDir,
  };
  if (raw.variables === undefined) delete pipeline.variables;
  const seen = new Set<string>();
  for (const b of allBlocks(pipeline)) {
    if (seen.has(b.uuid)) throw new PipelineConfigError(uuid, `Block ${b.uuid} appears more than once in pipeline ${uuid}.`);
    seen.add(b.uuid);
  }
  reconcileLinks(pipeline);
  assertAcyclic(pipeline, 'A cycle was detected in the loaded pipeline');
  return pipeline;
}

/** Loads pipelines/<uuid>/metadata.yaml. Throws PipelineNotFoundError or PipelineConfigError. */
export function loadPipeline(project: Project, uuid: string): PipelineConfig {
  const path = pipelineConfigPath(project, uuid);
  if (!existsSync(path)) throw new PipelineNotFoundError(uuid);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'), `pipelines/${uuid}/metadata.yaml`);
  } catch (err) {
    throw new PipelineConfigError(uuid, err instanceof Error ? err.message : String(err));
  }
  return normalizePipeline(raw, uuid, project);
}

/** Mage's all_upstream_blocks_executed: every block above `block` (transitively) has status `executed`. */
export function allUpstreamExecuted(block: BlockConfig, byUuid: Map<string, BlockConfig>): boolean {
  const seen = new Set<string>();
  const queue = [...block.upstream_blocks];
  while (queue.length > 0) {
    const u = queue.shift() as string;
    if (seen.has(u)) continue;
    seen.add(u);
    const up = byUuid.get(u);
    if (!up) continue;
    if (up.status !== 'executed') return false;
    queue.push(...up.upstream_blocks);
  }
  return true;
}

/** Keys of a block that exist only in API payloads and never reach metadata.yaml. */
const UNSAVED_BLOCK_KEYS = ['content', 'outputs', 'callback_content'];

function blockForSave(block: BlockConfig, byUuid: Map<string, BlockConfig>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...block, all_upstream_blocks_executed: allUpstreamExecuted(block, byUuid) };
  for (const k of UNSAVED_BLOCK_KEYS) delete out[k];
  return out;
}

/** The dict Mage's Pipeline.save dumps, plus the unknown keys the file had. */
export function pipelineToSavedDict(pipeline: PipelineConfig): Record<string, unknown> {
  const byUuid = new Map(allBlocks(pipeline).map((b) => [b.uuid, b]));
  const out: Record<string, unknown> = { ...pipeline };
  for (const c of BLOCK_COLLECTIONS) out[c] = (pipeline[c] ?? []).map((b) => blockForSave(b, byUuid));
  const extensions: Record<string, unknown> = {};
  for (const [key, ext] of Object.entries(pipeline.extensions ?? {})) {
    extensions[key] = {
      ...ext,
      blocks: (ext.blocks ?? []).map((b) => {
        const saved = blockForSave(b, byUuid);
        delete saved.extension_uuid;
        return saved;
      }),
    };
  }
  out.extensions = extensions;
  if (out.variables === null || out.variables === undefined) delete out.variables;
  return out;
}

/** metadata.yaml text for the pipeline, byte-for-byte as Mage's `yaml.dump` would write it. */
export function dumpPipelineYaml(pipeline: PipelineConfig): string {
  return pyyamlDump(pipelineToSavedDict(pipeline));
}

/** Writes pipelines/<uuid>/metadata.yaml atomically (after checking for cycles). */
export function savePipeline(project: Project, pipeline: PipelineConfig): void {
  assertAcyclic(pipeline);
  const dir = pipelineDir(project, pipeline.uuid);
  if (!existsSync(dir)) throw new PipelineNotFoundError(pipeline.uuid);
  writeFileAtomic(join(dir, PIPELINE_FILE), dumpPipelineYaml(pipeline));
}

/** `str(datetime.now(tz=timezone.utc))`, the created_at text Mage writes. */
export function mageNow(date = new Date()): string {
  const iso = date.toISOString(); // 2024-09-27T23:18:10.554Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000+00:00`;
}

export interface CreatePipelineInput {
  name: string;
  /** Default `python`. */
  type?: string;
  description?: string | null;
  tags?: string[];
}

/**
 * Creates pipelines/<clean_name(name)>/ with an empty `__init__.py` and a metadata.yaml holding only
 * created_at, description, name, tags, type and uuid, as Mage's Pipeline.create. Throws PipelineExistsError
 * when the folder exists.
 */
export function createPipeline(project: Project, input: CreatePipelineInput): PipelineConfig {
  const uuid = checkNameBytes('Pipeline', cleanName(input.name));
  const type = input.type ?? 'python';
  if (!(PIPELINE_TYPES as readonly string[]).includes(type)) {
    throw new PipelineConfigError(uuid, `Pipeline type ${JSON.stringify(type)} is not one of ${PIPELINE_TYPES.join(', ')}.`);
  }
  if (input.tags !== undefined && (!Array.isArray(input.tags) || input.tags.some((t) => typeof t !== 'string'))) {
    throw new PipelineConfigError(uuid, 'Pipeline tags must be a list of strings.');
  }
  const root = resolveUnderRoot(project.root, 'pipelines');
  mkdirSync(root, { recursive: true });
  const dir = pipelineDir(project, uuid);
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new PipelineExistsError(uuid, `Pipeline ${input.name} already exists.`);
    throw err;
  }
  try {
    writeFileAtomic(join(dir, '__init__.py'), '');
    writeFileAtomic(
      join(dir, PIPELINE_FILE),
      pyyamlDump({
        created_at: mageNow(),
        description: input.description ?? null,
        name: input.name,
        tags: input.tags ?? [],
        type,
        uuid,
      }),
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return loadPipeline(project, uuid);
}

/**
 * Renames a pipeline: the uuid becomes clean_name(newName) and the folder moves with it (Mage's
 * Pipeline.update with `name`). Throws PipelineExistsError when another pipeline has that uuid. Moving runs
 * and schedules in the database to the new uuid is the caller's job.
 */
export function renamePipeline(project: Project, uuid: string, newName: string): PipelineConfig {
  const pipeline = loadPipeline(project, uuid);
  const newUuid = checkNameBytes('Pipeline', cleanName(newName));
  if (newUuid !== uuid) {
    if (pipelineExists(project, newUuid) || existsSync(pipelineDir(project, newUuid))) {
      throw new PipelineExistsError(newUuid, `Pipeline ${newUuid} already exists. Choose a different name.`);
    }
    renameSync(pipelineDir(project, uuid), pipelineDir(project, newUuid));
  }
  pipeline.name = newName;
  pipeline.uuid = newUuid;
  savePipeline(project, pipeline);
  return pipeline;
}

/** Removes pipelines/<uuid> entirely (rm -rf); block files stay, as in Mage. */
export function deletePipeline(project: Project, uuid: string): void {
  const dir = pipelineDir(project, uuid);
  if (!existsSync(join(dir, PIPELINE_FILE))) throw new PipelineNotFoundError(uuid);
  rmSync(dir, { recursive: true, force: true });
}

/** Modification time of the pipeline's metadata.yaml, as an ISO 8601 string (Mage's `updated_at`). */
export function pipelineUpdatedAt(project: Project, uuid: string): string {
  const path = pipelineConfigPath(project, uuid);
  if (!existsSync(path)) throw new PipelineNotFoundError(uuid);
  return statSync(path).mtime.toISOString();
}

/** Finds a block by uuid in any collection of the pipeline. */
export function findBlock(pipeline: PipelineConfig, blockUuid: string): BlockConfig | undefined {
  return allBlocks(pipeline).find((b) => b.uuid === blockUuid);
}
