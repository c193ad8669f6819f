/** Timeout and cancellation of one SQL block run. */
import { RunStoppedError, type StopReason } from './errors.js';

/**
 * Tracks whether a run was stopped (deadline or abort signal) and calls the engine's interrupt hooks
 * (DuckDB `interrupt()`, PostgreSQL `pg_cancel_backend`, MySQL `KILL QUERY`) when it is.
 */
export class RunControl {
  reason: StopReason | null = null;
  private readonly hooks = new Set<() => void | Promise<void>>();
  private readonly waiters = new Set<(reason: StopReason) => void>();
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => this.stop('cancelled');

  constructor(
    private readonly signal?: AbortSignal,
    timeoutMs?: number,
  ) {
    if (signal?.aborted) this.reason = 'cancelled';
    else signal?.addEventListener('abort', this.onAbort, { once: true });
    if (this.reason === null && timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      this.timer = setTimeout(() => this.stop('timeout'), Math.max(0, timeoutMs));
    }
  }

  /** Registers an interrupt hook; the returned function unregisters it. */
  onStop(hook: () => void | Promise<void>): () => void {
    this.hooks.add(hook);
    return () => this.hooks.delete(hook);
  }

  /** Resolves with the reason once the run is stopped (never resolves otherwise). */
  stopped(): Promise<StopReason> {
    if (this.reason) return Promise.resolve(this.reason);
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  /** Throws RunStoppedError when the run has been stopped; engines call it between steps. */
  check(): void {
    if (this.reason) throw new RunStoppedError(this.reason);
  }

  stop(reason: StopReason): void {
    if (this.reason) return;
    this.reason = reason;
    for (const hook of this.hooks) {
      try {
        void Promise.resolve(hook()).catch(() => undefined);
      } catch {
        // An interrupt that fails leaves the query running to its end; the run is already reported stopped.
      }
    }
    for (const w of this.waiters) w(reason);
    this.waiters.clear();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.hooks.clear();
  }
}
