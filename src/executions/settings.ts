/**
 * Bounds of the interactive execution service (docs/architecture.md, "Interactive executions"), from the
 * environment. Every bound is a whole number; a bad value fails the server start naming the variable.
 */

export interface ExecutionSettings {
  /** `: ping` comment on every open event stream this often (BLOCKFLOW_EXECUTION_HEARTBEAT_MS, 15,000). */
  heartbeatMs: number;
  /** Rows of a table output sent in an `output` event (BLOCKFLOW_EXECUTION_SAMPLE_ROWS, 100); `shape` has all. */
  sampleRows: number;
  /** Columns of a table output sent in an `output` event (BLOCKFLOW_EXECUTION_SAMPLE_COLUMNS, 50). */
  sampleColumns: number;
  /** Events kept per execution for Last-Event-ID replay (BLOCKFLOW_EXECUTION_BUFFER_EVENTS, 5,000). */
  bufferEvents: number;
  /** Events older than this are dropped from the replay buffer (BLOCKFLOW_EXECUTION_BUFFER_SECONDS, 600). */
  bufferAgeMs: number;
  /** A finished execution is kept (snapshot, replay) this long (BLOCKFLOW_EXECUTION_RETAIN_SECONDS, 900). */
  retainMs: number;
  /** Finished executions kept per user; older ones are forgotten first (BLOCKFLOW_EXECUTION_RETAIN_COUNT, 50). */
  retainCount: number;
  /** Executions one user may have queued or running at once; more is 429 (BLOCKFLOW_EXECUTION_MAX_ACTIVE, 10). */
  maxActive: number;
  /** stdout + stderr lines streamed per block run; the rest are counted, not sent (BLOCKFLOW_EXECUTION_MAX_LINES, 5,000). */
  maxLinesPerBlock: number;
  /** Longest line sent; longer ones are cut and flagged `truncated` (10,000 characters). */
  maxLineChars: number;
  /** stdout/stderr lines are sent in batches at most this old (100 ms). */
  logBatchMs: number;
  /** A JSON output file above this size is sent from its sample (sample_data.json) and flagged (1 MiB). */
  maxJsonBytes: number;
  /** An open stream whose client reads slower than this many unsent bytes is closed; it reconnects (8 MiB). */
  maxStreamBacklogBytes: number;
}

export const DEFAULT_EXECUTION_SETTINGS: ExecutionSettings = {
  heartbeatMs: 15_000,
  sampleRows: 100,
  sampleColumns: 50,
  bufferEvents: 5_000,
  bufferAgeMs: 600_000,
  retainMs: 900_000,
  retainCount: 50,
  maxActive: 10,
  maxLinesPerBlock: 5_000,
  maxLineChars: 10_000,
  logBatchMs: 100,
  maxJsonBytes: 1024 * 1024,
  maxStreamBacklogBytes: 8 * 1024 * 1024,
};

function envInteger(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}; got ${JSON.stringify(raw)}.`);
  return value;
}

export function executionSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ExecutionSettings {
  const d = DEFAULT_EXECUTION_SETTINGS;
  const seconds = (name: string, fallbackMs: number) => {
    const s = envInteger(env, name, 1);
    return s === undefined ? fallbackMs : s * 1000;
  };
  return {
    ...d,
    heartbeatMs: envInteger(env, 'BLOCKFLOW_EXECUTION_HEARTBEAT_MS', 10) ?? d.heartbeatMs,
    sampleRows: envInteger(env, 'BLOCKFLOW_EXECUTION_SAMPLE_ROWS', 1) ?? d.sampleRows,
    sampleColumns: envInteger(env, 'BLOCKFLOW_EXECUTION_SAMPLE_COLUMNS', 1) ?? d.sampleColumns,
    bufferEvents: envInteger(env, 'BLOCKFLOW_EXECUTION_BUFFER_EVENTS', 10) ?? d.bufferEvents,
    bufferAgeMs: seconds('BLOCKFLOW_EXECUTION_BUFFER_SECONDS', d.bufferAgeMs),
    retainMs: seconds('BLOCKFLOW_EXECUTION_RETAIN_SECONDS', d.retainMs),
    retainCount: envInteger(env, 'BLOCKFLOW_EXECUTION_RETAIN_COUNT', 1) ?? d.retainCount,
    maxActive: envInteger(env, 'BLOCKFLOW_EXECUTION_MAX_ACTIVE', 1) ?? d.maxActive,
    maxLinesPerBlock: envInteger(env, 'BLOCKFLOW_EXECUTION_MAX_LINES', 1) ?? d.maxLinesPerBlock,
  };
}
