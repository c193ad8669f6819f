/** How pipelines and blocks are shown (Mage's Pipeline.to_dict and Block.to_dict, mage-api.md §3.1, §3.2). */
import type { Project } from '../../project/projectConfig.js';
import { BLOCK_COLLECTIONS, allBlocks, allUpstreamExecuted, pipelineUpdatedAt, type BlockConfig, type PipelineConfig } from '../../project/pipeline.js';
import { blockFileProblem, readBlockContent } from '../../project/blocks.js';
import { blockVariablesDir } from '../../variables/layout.js';
import { readOutputSummaries } from '../../variables/read.js';

export interface BlockViewOptions {
  content: boolean;
  outputs: boolean;
  /** Most sample rows per output (Mage's max_results_for_block_outputs, default 10). */
  maxOutputRows?: number;
}

const BLOCK_BASE_KEYS = [
  'all_upstream_blocks_executed',
  'color',
  'configuration',
  'downstream_blocks',
  'executor_config',
  'executor_type',
  'has_callback',
  'name',
  'language',
  'retry_config',
  'status',
  'timeout',
  'type',
  'upstream_blocks',
  'uuid',
] as const;

/** A `dynamic` / `reduce_output` setting as Mage reads it (dynamic/shared.py): only a boolean counts. */
const flag = (block: BlockConfig | undefined, key: 'dynamic' | 'reduce_output'): boolean => block?.configuration?.[key] === true;

function isDynamicChild(block: BlockConfig, byUuid: ReadonlyMap<string, BlockConfig>, seen = new Set<string>()): boolean {
  if (seen.has(block.uuid)) return false;
  seen.add(block.uuid);
  const parents = (block.upstream_blocks ?? []).map((u) => byUuid.get(u)).filter((b): b is BlockConfig => b !== undefined);
  const dynamicOrChild = parents.filter((p) => flag(p, 'dynamic') || isDynamicChild(p, byUuid, seen));
  return dynamicOrChild.length > dynamicOrChild.filter((p) => flag(p, 'reduce_output')).length;
}

/**
 * Mage's Block.tags(): computed from the dynamic settings and replication, never read from metadata.yaml (a
 * `tags` list saved on a block there is ignored by Mage too).
 */
export function mageBlockTags(block: BlockConfig, byUuid: ReadonlyMap<string, BlockConfig>): string[] {
  const tags: string[] = [];
  if (flag(block, 'dynamic')) tags.push('dynamic');
  if (isDynamicChild(block, byUuid)) tags.push('dynamic_child');
  if (flag(block, 'reduce_output')) tags.push('reduce_output');
  if (block.replicated_block) tags.push('replica');
  return tags;
}

export async function presentBlock(project: Project, pipeline: PipelineConfig, block: BlockConfig, view: BlockViewOptions): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of BLOCK_BASE_KEYS) out[key] = block[key] ?? null;
  // Computed from the statuses now, as Mage's Block.to_dict does, not the value last saved in metadata.yaml.
  const byUuid = new Map(allBlocks(pipeline).map((b) => [b.uuid, b]));
  out.all_upstream_blocks_executed = allUpstreamExecuted(block, byUuid);
  for (const key of ['replicated_block', 'groups', 'extension_uuid'] as const) if (block[key] !== undefined) out[key] = block[key];
  if (view.content) {
    out.callback_blocks = block.callback_blocks ?? [];
    out.conditional_blocks = block.conditional_blocks ?? [];
    out.tags = mageBlockTags(block, byUuid);
    out.metadata = {};
    let content: string | null = null;
    let readError: Error | null = null;
    try {
      content = readBlockContent(project, block);
    } catch (err) {
      readError = err as Error;
    }
    out.content = content;
    // A block whose file is gone is shown with why, never as an empty block the next save would write out.
    if (content === null) {
      const problem = blockFileProblem(project, block);
      if (problem) out.error = problem;
      else if (readError) out.error = { error: 'file_unreadable', message: `Block ${block.uuid}: ${readError.message}` };
    }
  }
  if (view.outputs) {
    try {
      out.outputs = await readOutputSummaries(blockVariablesDir(project.dataDir, pipeline.uuid, '', block.uuid), view.maxOutputRows ?? 10);
    } catch {
      out.outputs = [];
    }
  }
  return out;
}

export interface PipelineViewOptions extends BlockViewOptions {
  extensions: boolean;
  schedules?: unknown[];
}

export async function presentPipeline(project: Project, pipeline: PipelineConfig, view: PipelineViewOptions): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {
    uuid: pipeline.uuid,
    name: pipeline.name,
    description: pipeline.description ?? null,
    type: pipeline.type,
    tags: pipeline.tags ?? [],
    created_at: pipeline.created_at ?? null,
    updated_at: safeUpdatedAt(project, pipeline.uuid),
    cache_block_output_in_memory: pipeline.cache_block_output_in_memory ?? false,
    concurrency_config: pipeline.concurrency_config ?? {},
    data_integration: pipeline.data_integration ?? null,
    executor_config: pipeline.executor_config ?? {},
    executor_count: pipeline.executor_count ?? 1,
    executor_type: pipeline.executor_type ?? null,
    notification_config: pipeline.notification_config ?? {},
    remote_variables_dir: pipeline.remote_variables_dir ?? null,
    retry_config: pipeline.retry_config ?? {},
    run_pipeline_in_one_process: pipeline.run_pipeline_in_one_process ?? false,
    settings: pipeline.settings ?? { triggers: null },
    spark_config: pipeline.spark_config ?? {},
    variables_dir: pipeline.variables_dir ?? null,
  };
  if (pipeline.variables !== undefined && pipeline.variables !== null) out.variables = pipeline.variables;
  for (const collection of BLOCK_COLLECTIONS) {
    out[collection] = await Promise.all((pipeline[collection] ?? []).map((b) => presentBlock(project, pipeline, b, view)));
  }
  if (view.extensions) out.extensions = pipeline.extensions ?? {};
  if (view.schedules) out.schedules = view.schedules;
  return out;
}

function safeUpdatedAt(project: Project, uuid: string): string | null {
  try {
    return pipelineUpdatedAt(project, uuid);
  } catch {
    return null;
  }
}
