/**
 * Executes one block run: its conditions, then the block with retries (retry.ts), then its callbacks; logs
 * go to the block's Mage-format log file. Returns the final status; the engine records it.
 */
import type { Project } from '../project/projectConfig.js';
import type { Store } from '../store/db.js';
import type { PipelineRunRow } from '../store/pipelineRuns.js';
import type { ScheduleRow } from '../store/schedules.js';
import type { BlockConfig, PipelineConfig } from '../project/pipeline.js';
import { blockFileProblem, blockFilePath } from '../project/blocks.js';
import type { RuntimeRegistry } from '../runtimes/registry.js';
import type { BlockErrorInfo, BlockLanguage, BlockMode, BlockRunRequest, BlockRunResult } from '../runtimes/types.js';
import { blockVariablesDir, executionPartition } from '../variables/layout.js';
import { buildKwargs } from './kwargs.js';
import { effectiveRetryConfig, retryDelaySeconds } from './retry.js';
import { BlockRunLog, blockLogPath } from './logs.js';
import { intervalVariablesFor } from './intervals.js';
import { blockRequestFields, callbackErrorKwargs, dynamicPlanBlocks, findBlock, findRunBlock } from './blockRequest.js';
import { upstreamSources } from './plan.js';
import { resolveUpstreamInputs } from './dynamicInputs.js';
import { isUsablePartition } from './runVariables.js';

export interface ExecuteBlockInput {
  project: Project;
  store: Store;
  runtimes: RuntimeRegistry;
  pipeline: PipelineConfig;
  schedule: ScheduleRow | null;
  run: PipelineRunRow;
  blockRunId: number;
  /** The block run's `block_uuid`: the block's uuid, or a dynamic child's (`<block>:<item>`). */
  blockUuid: string;
  /** The block run's metrics: a dynamic child's `dynamic_block_index` and `dynamic_upstream_block_uuids`. */
  metrics?: Record<string, unknown> | null;
  signal: AbortSignal;
  getSecret: (name: string) => Promise<string | undefined>;
}

export interface BlockRunOutcome {
  status: 'completed' | 'failed' | 'cancelled' | 'condition_failed';
  metrics?: Record<string, unknown>;
  errorMessage?: string;
}

/**
 * The run's partition: its `execution_partition` variable, else `<trigger id>/<execution date>`. A stored value
 * that is no plain partition (a row written before such values were refused) is ignored here, so readers of
 * logs and outputs never follow it; the engine fails such a run (runVariables.ts).
 */
export function runPartition(run: PipelineRunRow): string {
  const fromVars = run.variables?.execution_partition;
  return isUsablePartition(fromVars) ? fromVars : executionPartition(run.pipeline_schedule_id, runExecutionDate(run));
}

/** Mage's execution_date column is nullable; a run without one uses its creation time. */
export function runExecutionDate(run: PipelineRunRow): Date {
  return new Date((run.execution_date ?? run.created_at).replace(' ', 'T'));
}

/** The run's pipeline uuid (nullable in Mage's schema; every run we create has one). */
export function runPipelineUuid(run: PipelineRunRow): string {
  if (!run.pipeline_uuid) throw new Error(`Pipeline run ${run.id} has no pipeline_uuid.`);
  return run.pipeline_uuid;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

function errorMetrics(error: BlockErrorInfo): Record<string, unknown> {
  return { error: { error: `${error.exception}: ${error.message}`, errors: error.traceback, message: error.message, type: error.type } };
}

export async function executeBlockRun(input: ExecuteBlockInput): Promise<BlockRunOutcome> {
  const { project, pipeline, run, blockUuid, signal } = input;
  const block = findRunBlock(pipeline, blockUuid);
  if (!block) throw new Error(`Block ${blockUuid} is no longer in pipeline ${pipeline.uuid}.`);
  const partition = runPartition(run);
  const dynamicIndex = typeof input.metrics?.dynamic_block_index === 'number' ? input.metrics.dynamic_block_index : undefined;
  const upstreamRuns = Array.isArray(input.metrics?.dynamic_upstream_block_uuids)
    ? (input.metrics.dynamic_upstream_block_uuids as unknown[]).filter((u): u is string => typeof u === 'string')
    : undefined;
  const log = new BlockRunLog(
    blockLogPath(project.dataDir, pipeline.uuid, partition, blockUuid),
    // Mage's block log tags (block_type and pipeline_schedule_id too), so log readers filter on the same keys.
    { pipeline_uuid: pipeline.uuid, block_uuid: blockUuid, pipeline_run_id: run.id, block_run_id: input.blockRunId, block_type: block.type, pipeline_schedule_id: run.pipeline_schedule_id },
    input.blockRunId,
  );
  const cleanups: Array<() => Promise<void>> = [];
  try {
    if (block.language === 'markdown' || block.type === 'markdown') {
      log.info(`Block ${blockUuid} is markdown; nothing to run.`);
      return { status: 'completed' };
    }
    const intervalVariables = input.schedule ? intervalVariablesFor(input.schedule, runExecutionDate(run)) : undefined;
    let inputs;
    try {
      inputs = await resolveUpstreamInputs(
        project.dataDir,
        pipeline.uuid,
        partition,
        upstreamSources({ upstream: block.upstream_blocks ?? [] }, dynamicPlanBlocks(pipeline), upstreamRuns, dynamicIndex),
        block.language === 'python',
      );
    } catch (err) {
      // A dynamic child's item or a reduce that cannot be handed over fails this block run, in its own log.
      const message = (err as Error).message;
      log.error(`Inputs of block ${blockUuid} could not be prepared: ${message}`);
      return { status: 'failed', metrics: { error: { error: message, errors: [], message } }, errorMessage: message };
    }
    cleanups.push(inputs.cleanup);
    // Mage: a dynamic child also gets its item's metadata and its index as keyword arguments.
    const dynamicKwargs = dynamicIndex === undefined ? {} : { ...inputs.kwargs, dynamic_block_index: dynamicIndex };
    const kwargsFor = (b: BlockConfig) => ({
      ...buildKwargs({
        globalVariables: pipeline.variables as Record<string, unknown> | undefined,
        triggerVariables: input.schedule?.variables ?? null,
        runVariables: run.variables,
        eventVariables: run.event_variables,
        executionDate: runExecutionDate(run),
        executionPartition: partition,
        pipelineRunId: run.id,
        pipelineUuid: pipeline.uuid,
        blockUuid: b.uuid,
        configuration: (b.configuration ?? {}) as Record<string, unknown>,
        repoPath: project.root,
        triggerName: input.schedule?.name ?? null,
        // Mage: `prod` in triggered runs; a run without a trigger (`blockflow run`, as `mage run`) gets get_env().
        env: input.schedule ? 'prod' : undefined,
        intervalVariables,
      }),
      ...dynamicKwargs,
    });
    const upstream = inputs.upstream;
    const request = (b: BlockConfig, mode: BlockMode, extra: Partial<BlockRunRequest> = {}): BlockRunRequest => ({
      ...blockRequestFields(project, pipeline.uuid, b, blockFilePath(project, b), mode),
      upstream,
      kwargs: kwargsFor(block),
      outputDir: null,
      returnOutputs: false,
      runTests: true,
      signal,
      onLog: (line) => log.write(line),
      getSecret: input.getSecret,
      ...extra,
    });
    const runtimeFor = async (b: BlockConfig) => input.runtimes.get(b.language as BlockLanguage);

    // A block whose file is missing fails with the message the API shows for it, naming the block and the key.
    const fileProblem = blockFileProblem(project, block);
    if (fileProblem) {
      log.error(fileProblem.message);
      return { status: 'failed', metrics: { error: { error: fileProblem.message, errors: [], message: fileProblem.message, type: fileProblem.error } }, errorMessage: fileProblem.message };
    }

    // Conditions: every conditional block attached to this block must say true.
    for (const uuid of block.conditional_blocks ?? []) {
      const cond = findBlock(pipeline, uuid);
      if (!cond) continue;
      const result = await (await runtimeFor(cond)).run(request(cond, 'condition'));
      if (signal.aborted) return { status: 'cancelled' };
      // As Mage: a condition that raises counts as false.
      if (!result.ok) {
        log.error(`Failed to execute conditional block ${uuid} for block ${blockUuid}: ${result.error.exception}: ${result.error.message}`);
        log.info(`Conditional block(s) returned false for ${blockUuid}; ${blockUuid} and its downstream blocks are skipped.`);
        return { status: 'condition_failed' };
      }
      if (result.conditionResult === false) {
        log.info(`Condition ${uuid} evaluated to false; ${blockUuid} and its downstream blocks are skipped.`);
        return { status: 'condition_failed' };
      }
    }

    const retry = effectiveRetryConfig(project.retryConfig, pipeline.retry_config, block.retry_config);
    const timeoutMs = typeof block.timeout === 'number' && block.timeout > 0 ? block.timeout * 1000 : undefined;
    const runtime = await runtimeFor(block);
    let result: BlockRunResult | undefined;
    for (let attempt = 0; attempt <= retry.retries; attempt++) {
      if (attempt > 0) {
        const wait = retryDelaySeconds(retry, attempt);
        log.info(`Retrying block ${blockUuid} (attempt ${attempt + 1} of ${retry.retries + 1}) in ${wait} seconds.`);
        await sleep(wait * 1000, signal);
        if (signal.aborted) return { status: 'cancelled' };
        await input.store.blockRuns.recordAttempt(input.blockRunId, attempt + 1);
      }
      if (signal.aborted) return { status: 'cancelled' };
      log.info(`Executing ${block.type} block ${blockUuid}.`);
      result = await runtime.run(
        request(block, 'run', { outputDir: blockVariablesDir(project.dataDir, pipeline.uuid, partition, blockUuid), timeoutMs }),
      );
      if (result.ok) break;
      if (result.error.type === 'cancelled' || signal.aborted) return { status: 'cancelled' };
      log.error(`${result.error.exception}: ${result.error.message}\n${result.error.traceback.join('\n')}`);
    }
    // Callbacks run after the last attempt; as Mage, a failing callback is logged and changes nothing.
    const callbackMode: BlockMode = result?.ok ? 'on_success' : 'on_failure';
    for (const uuid of block.callback_blocks ?? []) {
      const callback = findBlock(pipeline, uuid);
      if (!callback || signal.aborted) continue;
      const kwargs = { ...kwargsFor(block) };
      if (result && !result.ok) Object.assign(kwargs, callbackErrorKwargs(result.error));
      const cb = await (await runtimeFor(callback)).run(request(callback, callbackMode, { runTests: false, kwargs }));
      if (!cb.ok) log.error(`Failed to execute ${callbackMode} callback block ${uuid} for block ${blockUuid}: ${cb.error.exception}: ${cb.error.message}`);
    }
    if (result?.ok) {
      log.info(`Block ${blockUuid} completed with ${result.outputCount} output(s).`);
      return { status: 'completed' };
    }
    const error = result && !result.ok ? result.error : undefined;
    return { status: 'failed', metrics: error ? errorMetrics(error) : undefined, errorMessage: error?.message };
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    await log.close();
  }
}
