/**
 * Counts failed logins per normalised email and per client address in a sliding window, so password guessing
 * is slowed down. In memory: one API process guards its own door (the cloud control plane shares counters
 * through its database instead).
 */
export interface LoginLimiterOptions {
  /** Failures allowed per email within the window (default 10). */
  maxPerEmail?: number;
  /** Failures allowed per address within the window (default 100). */
  maxPerAddress?: number;
  /** Window length in milliseconds (default 15 minutes). */
  windowMs?: number;
}

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly maxPerEmail: number;
  private readonly maxPerAddress: number;
  private readonly windowMs: number;

  constructor(options: LoginLimiterOptions = {}) {
    this.maxPerEmail = options.maxPerEmail ?? 10;
    this.maxPerAddress = options.maxPerAddress ?? 100;
    this.windowMs = options.windowMs ?? 15 * 60_000;
  }

  private recent(key: string, now: number): number[] {
    const list = (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  /** Seconds until another attempt is allowed, or 0 when allowed now. */
  retryAfter(email: string, address: string, now = Date.now()): number {
    const checks: Array<[string, number]> = [
      [`e:${email.trim().toLowerCase()}`, this.maxPerEmail],
      [`a:${address}`, this.maxPerAddress],
    ];
    let wait = 0;
    for (const [key, max] of checks) {
      const list = this.recent(key, now);
      if (list.length >= max) wait = Math.max(wait, Math.ceil((list[0] + this.windowMs - now) / 1000));
    }
    return wait;
  }

  recordFailure(email: string, address: string, now = Date.now()): void {
    for (const key of [`e:${email.trim().toLowerCase()}`, `a:${address}`]) {
      this.failures.set(key, [...this.recent(key, now), now]);
    }
  }

  recordSuccess(email: string): void {
    this.failures.delete(`e:${email.trim().toLowerCase()}`);
  }
}
