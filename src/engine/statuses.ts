/**
 * Run and block-run statuses exactly as Mage's (mage-api.md §3.5, §3.6, §6.3). The lists themselves live with
 * the tables that store them; the engine adds the groupings it decides with.
 */
import { RUN_STATUSES, type RunStatus } from '../store/pipelineRuns.js';
import { BLOCK_RUN_STATUSES, type BlockRunStatus } from '../store/blockRuns.js';

export { RUN_STATUSES, BLOCK_RUN_STATUSES };
export type { RunStatus, BlockRunStatus };

export const FINISHED_RUN: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];
export const ACTIVE_RUN: readonly RunStatus[] = ['initial', 'running'];
export const FINISHED_BLOCK: readonly BlockRunStatus[] = ['completed', 'failed', 'cancelled', 'upstream_failed', 'condition_failed'];
export const PENDING_BLOCK: readonly BlockRunStatus[] = ['initial', 'queued', 'running'];
