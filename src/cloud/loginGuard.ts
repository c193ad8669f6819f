/**
 * Login rate limiting per normalised email and per client address, counted in the database (shared by every
 * control-plane instance on one PostgreSQL database and kept across restarts).
 */
import type { Kysely } from 'kysely';
import type { CloudDatabase } from './db/schema.js';
import { clearFailures, recentFailures, recordLoginAttempt } from './store/loginAttempts.js';
import { fromDbTime } from './time.js';

export interface LoginLimits {
  /** Failures per email within the window (default 5). */
  maxPerEmail: number;
  /** Failures per address within the window (default 100). */
  maxPerAddress: number;
  /** Window length (default 15 min). */
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { maxPerEmail: 5, maxPerAddress: 100, windowMs: 15 * 60_000 };

export class LoginGuard {
  constructor(private readonly db: Kysely<CloudDatabase>, private readonly limits: LoginLimits) {}

  /** Seconds to wait before another attempt, or 0 when one is allowed now. */
  async retryAfter(email: string, address: string, now = new Date()): Promise<number> {
    const since = new Date(now.getTime() - this.limits.windowMs);
    const f = await recentFailures(this.db, email, address, since);
    let wait = 0;
    const until = (oldest: string | undefined) =>
      oldest ? Math.max(1, Math.ceil((fromDbTime(oldest).getTime() + this.limits.windowMs - now.getTime()) / 1000)) : 1;
    if (f.byEmail >= this.limits.maxPerEmail) wait = Math.max(wait, until(f.oldestEmail));
    if (f.byAddress >= this.limits.maxPerAddress) wait = Math.max(wait, until(f.oldestAddress));
    return wait;
  }

  async failed(email: string, address: string): Promise<void> {
    await recordLoginAttempt(this.db, email, address, false);
  }

  async succeeded(email: string, address: string): Promise<void> {
    await clearFailures(this.db, email);
    await recordLoginAttempt(this.db, email, address, true);
  }
}
