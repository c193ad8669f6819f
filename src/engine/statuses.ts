/** Run and block-run statuses exactly as Mage's (mage-api.md §3.5, §3.6, §6.3). */
export const RUN_STATUSES = ['initial', 'running', 'completed', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const BLOCK_RUN_STATUSES = [
  'initial',
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
  'upstream_failed',
  'condition_failed',
] as const;
export type BlockRunStatus = (typeof BLOCK_RUN_STATUSES)[number];

export const FINISHED_RUN: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];
export const ACTIVE_RUN: readonly RunStatus[] = ['initial', 'running'];
export const FINISHED_BLOCK: readonly BlockRunStatus[] = ['completed', 'failed', 'cancelled', 'upstream_failed', 'condition_failed'];
export const PENDING_BLOCK: readonly BlockRunStatus[] = ['initial', 'queued', 'running'];
