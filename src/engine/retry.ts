/**
 * Which retry_config applies to a block: Mage's defaults, overlaid by the project's `retry_config`, then the
 * pipeline's, then the block's (the most specific wins, key by key). This is the one place that decides it.
 */
export interface RetryConfig {
  /** Extra attempts after the first (default 0). */
  retries: number;
  /** Seconds before the first retry (default 5). */
  delay: number;
  /** Cap on the delay in seconds (default 60). */
  max_delay: number;
  /** Double the delay after each attempt (default true). */
  exponential_backoff: boolean;
}

export const DEFAULT_RETRY_CONFIG: RetryConfig = { retries: 0, delay: 5, max_delay: 60, exponential_backoff: true };

function pick(source: unknown): Partial<RetryConfig> {
  if (!source || typeof source !== 'object') return {};
  const s = source as Record<string, unknown>;
  const out: Partial<RetryConfig> = {};
  if (typeof s.retries === 'number' && s.retries >= 0) out.retries = Math.floor(s.retries);
  if (typeof s.delay === 'number' && s.delay >= 0) out.delay = s.delay;
  if (typeof s.max_delay === 'number' && s.max_delay >= 0) out.max_delay = s.max_delay;
  if (typeof s.exponential_backoff === 'boolean') out.exponential_backoff = s.exponential_backoff;
  return out;
}

export function effectiveRetryConfig(project: unknown, pipeline: unknown, block: unknown): RetryConfig {
  return { ...DEFAULT_RETRY_CONFIG, ...pick(project), ...pick(pipeline), ...pick(block) };
}

/** Seconds to wait before attempt number `attempt` (1 = first retry). */
export function retryDelaySeconds(config: RetryConfig, attempt: number): number {
  const base = config.exponential_backoff ? config.delay * 2 ** (attempt - 1) : config.delay;
  return Math.min(base, config.max_delay);
}
