/**
 * Which blocks an interactive execution runs, in order (pure: the caller says which blocks count as executed).
 * - mode `block`: the block; with `run_upstream` every block above it first, or with `run_incomplete_upstream`
 *   only those above it that were never executed (no notebook outputs); with `run_downstream` every block
 *   below it after it. `run_upstream` wins over `run_incomplete_upstream` when both are set.
 * - mode `pipeline`: every block of the pipeline.
 * The order is the DAG's (topologicalOrder: upstreams first, list order among equals). Markdown blocks have
 * nothing to run and are left out; one named as the target is refused.
 */
import { downstreamClosure, topologicalOrder, upstreamClosure } from '../project/dag.js';
import { allBlocks, type BlockConfig, type PipelineConfig } from '../project/pipeline.js';

export type ExecutionMode = 'block' | 'pipeline';

export interface ExecutionRequest {
  mode: ExecutionMode;
  blockUuid: string | null;
  /** The unsaved editor text of `blockUuid`, run instead of its file. */
  code: string | null;
  runUpstream: boolean;
  runIncompleteUpstream: boolean;
  runDownstream: boolean;
  runTests: boolean;
  variables: Record<string, unknown>;
}

/** A request that cannot be planned, with the HTTP status it answers. */
export class ExecutionRequestError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 422 | 429,
    message: string,
  ) {
    super(message);
    this.name = 'ExecutionRequestError';
  }
}

export interface ExecutionPlan {
  /** The named block (null in mode pipeline without block_uuid). */
  target: BlockConfig | null;
  /** The blocks to run, in order. */
  order: BlockConfig[];
}

export function isMarkdown(block: BlockConfig): boolean {
  return block.language === 'markdown' || block.type === 'markdown';
}

export function planExecution(pipeline: PipelineConfig, request: ExecutionRequest, executed: (blockUuid: string) => boolean): ExecutionPlan {
  const { mode, blockUuid } = request;
  let target: BlockConfig | null = null;
  if (blockUuid !== null) {
    target = pipeline.blocks.find((b) => b.uuid === blockUuid) ?? null;
    if (!target) {
      const other = allBlocks(pipeline).find((b) => b.uuid === blockUuid);
      if (other) {
        throw new ExecutionRequestError(422, `Block ${blockUuid} is a ${other.type} block of pipeline ${pipeline.uuid}; it runs with the blocks it is attached to, not on its own.`);
      }
      throw new ExecutionRequestError(404, `Block ${blockUuid} does not exist in pipeline ${pipeline.uuid}.`);
    }
  }
  if (request.code !== null && target === null) throw new ExecutionRequestError(400, 'execution.code is the unsaved text of a block: execution.block_uuid must name that block.');
  if (target && isMarkdown(target) && (mode === 'block' || request.code !== null)) {
    throw new ExecutionRequestError(422, `Block ${target.uuid} is a markdown block; it has no code to run.`);
  }
  let chosen: Set<string>;
  if (mode === 'pipeline') {
    const flags = (['runUpstream', 'runIncompleteUpstream', 'runDownstream'] as const).filter((k) => request[k]);
    if (flags.length > 0) {
      const names = { runUpstream: 'run_upstream', runIncompleteUpstream: 'run_incomplete_upstream', runDownstream: 'run_downstream' };
      throw new ExecutionRequestError(400, `${flags.map((f) => names[f]).join(', ')} apply to mode "block"; mode "pipeline" runs every block of the pipeline.`);
    }
    chosen = new Set(pipeline.blocks.map((b) => b.uuid));
  } else {
    if (target === null) throw new ExecutionRequestError(400, 'execution.block_uuid is required in mode "block".');
    chosen = new Set([target.uuid]);
    if (request.runUpstream || request.runIncompleteUpstream) {
      for (const up of upstreamClosure(pipeline, target.uuid)) {
        if (request.runUpstream || !executed(up)) chosen.add(up);
      }
    }
    if (request.runDownstream) for (const down of downstreamClosure(pipeline, target.uuid)) chosen.add(down);
  }
  let order: BlockConfig[];
  try {
    order = topologicalOrder({ blocks: pipeline.blocks.filter((b) => chosen.has(b.uuid)) });
  } catch (err) {
    throw new ExecutionRequestError(422, `Pipeline ${pipeline.uuid} cannot be executed: ${(err as Error).message}`);
  }
  return { target, order: order.filter((b) => !isMarkdown(b)) };
}
