/**
 * Runs the block of a synchronous request on the warm runtimes: first, with `run_upstream_blocks`, every
 * upstream block in DAG order (their outputs go through the run's partition on disk, so DataFrames reach the
 * target as DataFrames), then the target with `returnOutputs`, its outputs coming back inline. Nothing is
 * written to disk unless `store_variables` asks for it or upstream outputs have to be handed over.
 */
import type { BlockConfig } from '../project/pipeline.js';
import { topologicalOrder, upstreamClosure } from '../project/pipeline.js';
import type { RuntimeRegistry } from '../runtimes/registry.js';
import type { BlockErrorInfo, BlockRunRequest, LogLine } from '../runtimes/types.js';
import type { BlockRunStatus } from '../store/blockRuns.js';
import { buildKwargs } from '../engine/kwargs.js';
import { blockRequestFields, callbackErrorKwargs, findBlock } from '../engine/blockRequest.js';
import { blockVariablesDir } from '../variables/layout.js';
import type { CachedPipeline } from './pipelineCache.js';
import type { RunOptions } from './contract.js';
import type { ExecutionInstant } from './record.js';
import type { RunTrigger } from './trigger.js';
import { hasLatestOutputs, latestOutputsDir, LazyBlockLog, publishCopy, removePartition, writeRunVariables } from './persist.js';

export interface SyncRunInput {
  target: CachedPipeline;
  block: BlockConfig;
  options: RunOptions;
  schedule: RunTrigger;
  runtimes: RuntimeRegistry;
  getSecret?: (name: string) => Promise<string | undefined>;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  /** Time left for the whole request (upstream blocks included), in ms. */
  timeoutMs: number;
  executionDate: ExecutionInstant;
  /** `<schedule_id>/<YYYYmmddTHHMMSS_ffffff>/<hex>`: where stored outputs and logs of this run go. */
  partition: string;
}

/** How one block of the run ended, for the records. */
export interface BlockOutcome {
  blockUuid: string;
  status: BlockRunStatus;
  startedAt: Date | null;
  completedAt: Date | null;
  error?: BlockErrorInfo;
}

export type SyncRunStatus = 'completed' | 'failed' | 'timeout' | 'cancelled';

export interface SyncRunResult {
  status: SyncRunStatus;
  /** The target's outputs in Mage's `output` shape, when completed. */
  outputs?: unknown[];
  /** The block that failed, timed out or was cancelled. */
  failedBlock?: string;
  error?: BlockErrorInfo;
  /** Every block that ran or was meant to run, in order (the target last). */
  blocks: BlockOutcome[];
}

function runnable(block: BlockConfig): boolean {
  return block.language !== 'markdown' && block.type !== 'markdown';
}

/** Runs the request's blocks. Never throws for a block's own failure: that is in the result. */
export async function executeSyncRun(input: SyncRunInput): Promise<SyncRunResult> {
  const { target, block, options, partition } = input;
  const { project, pipeline } = target;
  const store = options.storeVariables;
  const deadline = Date.now() + input.timeoutMs;
  const blocks: BlockOutcome[] = [];
  const logs: LazyBlockLog[] = [];
  const kwargsBase = buildKwargs({
    globalVariables: pipeline.variables ?? null,
    triggerVariables: input.schedule.variables,
    runVariables: options.variables,
    executionDate: new Date(Math.floor(input.executionDate.micros / 1000)),
    executionPartition: partition,
    pipelineRunId: null,
    pipelineUuid: pipeline.uuid,
    blockUuid: block.uuid,
    configuration: {},
    repoPath: project.root,
    triggerName: input.schedule.name,
    env: 'prod',
  });
  kwargsBase.execution_date = input.executionDate.iso;
  const variablesWrite = store ? writeRunVariables(project.dataDir, pipeline.uuid, partition, options.variables) : null;
  variablesWrite?.catch(() => undefined);

  const runOne = async (
    b: BlockConfig,
    upstreamDirs: Map<string, string>,
    outputDir: string | null,
    returnOutputs: boolean,
    call: { mode?: BlockRunRequest['mode']; kwargsOf?: BlockConfig; extraKwargs?: Record<string, unknown> } = {},
  ) => {
    const left = deadline - Date.now();
    const startedAt = new Date();
    if (left <= 0) {
      const error: BlockErrorInfo = { type: 'timeout', exception: 'TimeoutError', message: `the run exceeded its timeout of ${input.timeoutMs} ms before block ${b.uuid} started`, traceback: [] };
      return { result: { ok: false as const, error }, startedAt };
    }
    const blockTimeout = typeof b.timeout === 'number' && b.timeout > 0 ? b.timeout * 1000 : Number.POSITIVE_INFINITY;
    let onLog: ((line: LogLine) => void) | undefined;
    if (store) {
      const log = LazyBlockLog.at(project.dataDir, pipeline.uuid, partition, b.uuid, { pipeline_uuid: pipeline.uuid, block_uuid: b.uuid });
      logs.push(log);
      onLog = (line) => log.write(line);
    }
    const fields = blockRequestFields(project, pipeline.uuid, b, target.filePath(b), call.mode ?? 'run');
    const request: BlockRunRequest = {
      ...fields,
      upstream: (b.upstream_blocks ?? []).map((u) => ({
        blockUuid: u,
        variablesDir: upstreamDirs.get(u) ?? latestOutputsDir(project.dataDir, pipeline.uuid, u),
      })),
      kwargs: {
        ...kwargsBase,
        ...((call.kwargsOf ?? b) === block ? {} : { block_uuid: (call.kwargsOf ?? b).uuid }),
        configuration: call.kwargsOf ? ((call.kwargsOf.configuration ?? {}) as Record<string, unknown>) : fields.configuration,
        ...call.extraKwargs,
      },
      outputDir,
      returnOutputs,
      runTests: false,
      timeoutMs: Math.min(left, blockTimeout),
      signal: input.signal,
      onLog,
      getSecret: input.getSecret,
    };
    if (!runnable(b)) return { result: { ok: true as const, outputCount: 0, outputs: [] }, startedAt };
    const runtime = await input.runtimes.get(request.language);
    return { result: await runtime.run(request), startedAt };
  };

  const fail = (b: BlockConfig, error: BlockErrorInfo, startedAt: Date): SyncRunResult => {
    const status: SyncRunStatus = error.type === 'timeout' ? 'timeout' : error.type === 'cancelled' || input.signal.aborted ? 'cancelled' : 'failed';
    blocks.push({ blockUuid: b.uuid, status: status === 'cancelled' ? 'cancelled' : 'failed', startedAt, completedAt: new Date(), error });
    return { status, failedBlock: b.uuid, error, blocks };
  };

  /**
   * Mage's `execute_with_callback`: after the block ran, its callback blocks are called with `on_success` or
   * `on_failure` (the error in the `__error` kwarg), with the block's inputs and kwargs. As in the engine, a
   * failing callback is logged and changes nothing; a block that timed out or was cancelled gets none.
   */
  const runCallbacks = async (
    error: BlockErrorInfo | undefined,
    log: LazyBlockLog | undefined,
    call: (callback: BlockConfig, mode: 'on_success' | 'on_failure', extraKwargs: Record<string, unknown>) => Promise<{ result: { ok: boolean; error?: BlockErrorInfo } }>,
  ) => {
    if (error && error.type !== 'block_execution_failed') return;
    const mode = error ? 'on_failure' : 'on_success';
    for (const uuid of block.callback_blocks ?? []) {
      const callback = findBlock(pipeline, uuid);
      if (!callback || input.signal.aborted || deadline - Date.now() <= 0) continue;
      const { result } = await call(callback, mode, error ? callbackErrorKwargs(error) : {});
      if (!result.ok) {
        log?.write({ level: 'ERROR', message: `Failed to execute ${mode} callback block ${uuid} for block ${block.uuid}: ${result.error?.exception}: ${result.error?.message}`, timestamp: Date.now() / 1000 });
      }
    }
  };

  let ranUpstream = false;
  try {
    const upstreamDirs = new Map<string, string>();
    if (options.runUpstreamBlocks) {
      const closure = new Set(upstreamClosure(pipeline, block.uuid));
      const order = topologicalOrder({ blocks: pipeline.blocks.filter((b) => closure.has(b.uuid)) });
      for (let i = 0; i < order.length; i++) {
        const up = order[i];
        if (options.incompleteOnly && hasLatestOutputs(project.dataDir, pipeline.uuid, up.uuid)) {
          upstreamDirs.set(up.uuid, latestOutputsDir(project.dataDir, pipeline.uuid, up.uuid));
          continue;
        }
        ranUpstream = true;
        const dir = blockVariablesDir(project.dataDir, pipeline.uuid, partition, up.uuid);
        const { result, startedAt } = await runOne(up, upstreamDirs, dir, false);
        if (!result.ok) {
          const failed = fail(up, result.error, startedAt);
          for (const rest of [...order.slice(i + 1), block]) {
            blocks.push({ blockUuid: rest.uuid, status: 'upstream_failed', startedAt: null, completedAt: null });
          }
          return failed;
        }
        blocks.push({ blockUuid: up.uuid, status: 'completed', startedAt, completedAt: new Date() });
        upstreamDirs.set(up.uuid, dir);
        if (store) await publishCopy(dir, latestOutputsDir(project.dataDir, pipeline.uuid, up.uuid));
      }
    }
    const outputDir = store ? blockVariablesDir(project.dataDir, pipeline.uuid, partition, block.uuid) : null;
    const { result, startedAt } = await runOne(block, upstreamDirs, outputDir, true);
    const targetLog = store ? logs.at(-1) : undefined;
    await runCallbacks(result.ok ? undefined : result.error, targetLog, (cb, mode, extraKwargs) => runOne(cb, upstreamDirs, null, false, { mode, kwargsOf: block, extraKwargs }));
    if (!result.ok) return fail(block, result.error, startedAt);
    blocks.push({ blockUuid: block.uuid, status: 'completed', startedAt, completedAt: new Date() });
    return { status: 'completed', outputs: result.outputs ?? [], blocks };
  } finally {
    await Promise.all([variablesWrite, ...logs.map((l) => l.close())]).catch(() => undefined);
    if (!store && ranUpstream) await removePartition(project.dataDir, pipeline.uuid, partition).catch(() => undefined);
  }
}
