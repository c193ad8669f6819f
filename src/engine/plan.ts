/**
 * The engine's decisions as pure functions of a run's DAG and its block runs' statuses (Mage's
 * PipelineScheduler.schedule rules, mage-api.md §6.3). No I/O here: the engine applies what these return with
 * guarded updates, so the same decision can be tested without a database.
 */
import type { BlockRunStatus } from './statuses.js';

export interface PlanBlock {
  uuid: string;
  upstream: string[];
}

export interface PlanInput {
  blocks: PlanBlock[];
  /** Current status per block uuid (every block of the run has one). */
  statuses: Record<string, BlockRunStatus>;
  /** Trigger setting `allow_blocks_to_fail`: a failure does not end the run until every block has finished. */
  allowBlocksToFail: boolean;
  /** `concurrency_config.block_run_limit`: most block runs of this run queued or running at once. */
  blockRunLimit?: number;
}

export interface PlanDecision {
  /** The run is over, with this status. */
  finish?: 'completed' | 'failed';
  /** Block runs to move initial -> queued now (ready, within the limit), in DAG order. */
  queue: string[];
  /** Block runs whose upstream failed: initial -> upstream_failed. */
  upstreamFailed: string[];
  /** Block runs skipped because an upstream's condition was false: initial -> condition_failed. */
  conditionFailed: string[];
  /** When the run fails early (no allow_blocks_to_fail): the not-yet-started block runs to cancel. */
  cancel: string[];
}

const DONE_OK: ReadonlySet<BlockRunStatus> = new Set(['completed']);
const FAILED: ReadonlySet<BlockRunStatus> = new Set(['failed', 'upstream_failed', 'cancelled']);
const FINISHED: ReadonlySet<BlockRunStatus> = new Set(['completed', 'failed', 'cancelled', 'upstream_failed', 'condition_failed']);

export function decide(input: PlanInput): PlanDecision {
  const statuses = { ...input.statuses };
  const decision: PlanDecision = { queue: [], upstreamFailed: [], conditionFailed: [], cancel: [] };
  const byUuid = new Map(input.blocks.map((b) => [b.uuid, b]));

  // Propagate failures and skipped conditions downstream until nothing changes (the DAG is small).
  let changed = true;
  while (changed) {
    changed = false;
    for (const block of input.blocks) {
      if (statuses[block.uuid] !== 'initial') continue;
      const ups = block.upstream.filter((u) => byUuid.has(u)).map((u) => statuses[u]);
      if (ups.some((s) => s === 'failed' || s === 'upstream_failed')) {
        statuses[block.uuid] = 'upstream_failed';
        decision.upstreamFailed.push(block.uuid);
        changed = true;
      } else if (ups.some((s) => s === 'condition_failed')) {
        statuses[block.uuid] = 'condition_failed';
        decision.conditionFailed.push(block.uuid);
        changed = true;
      }
    }
  }

  const all = Object.values(statuses);
  const anyFailed = all.some((s) => s === 'failed' || s === 'upstream_failed');
  const allFinished = all.every((s) => FINISHED.has(s));

  if (allFinished) {
    decision.finish = all.some((s) => FAILED.has(s)) ? 'failed' : 'completed';
    return decision;
  }
  if (anyFailed && !input.allowBlocksToFail) {
    decision.finish = 'failed';
    decision.cancel = input.blocks.filter((b) => statuses[b.uuid] === 'initial').map((b) => b.uuid);
    return decision;
  }

  let active = all.filter((s) => s === 'queued' || s === 'running').length;
  for (const block of input.blocks) {
    if (statuses[block.uuid] !== 'initial') continue;
    const ready = block.upstream.filter((u) => byUuid.has(u)).every((u) => DONE_OK.has(statuses[u]));
    if (!ready) continue;
    if (input.blockRunLimit !== undefined && input.blockRunLimit > 0 && active >= input.blockRunLimit) break;
    decision.queue.push(block.uuid);
    active++;
  }
  return decision;
}
