/**
 * Which process runs the scheduler loop. On PostgreSQL: a session-level `pg_try_advisory_lock` held on one
 * dedicated pooled connection for as long as this process leads. When the process dies (even by SIGKILL) its
 * connection closes and PostgreSQL releases the lock, so a standby's next try wins. The holder checks its
 * connection every few seconds and gives up leadership when the connection fails, since the lock may then be
 * gone. On SQLite the database belongs to one process, so the lock is always held.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Store } from '../store/db.js';

export interface LeaderLock {
  /** Tries once, without waiting. True when this process now holds the lock (or already held it). */
  tryAcquire(): Promise<boolean>;
  /** Whether this process holds the lock. */
  held(): boolean;
  /** Called once when a held lock is lost (its connection failed). */
  onLost(listener: () => void): void;
  /** Releases the lock if held. */
  release(): Promise<void>;
}

/** The two 32-bit keys of the advisory lock for a project, so two projects can share one database. */
export function advisoryKeys(projectKey: string): [number, number] {
  const digest = createHash('sha256').update(`blockflow-scheduler:${projectKey}`).digest();
  return [digest.readInt32BE(0), digest.readInt32BE(4)];
}

export interface PgLeaderLockOptions {
  /** Milliseconds between health checks of the lock's connection. Default 2000. */
  checkMs?: number;
}

export class PgLeaderLock implements LeaderLock {
  private holding = false;
  private releaseHold?: () => void;
  private session?: Promise<void>;
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly store: Store,
    private readonly keys: [number, number],
    private readonly options: PgLeaderLockOptions = {},
  ) {}

  held(): boolean {
    return this.holding;
  }

  onLost(listener: () => void): void {
    this.listeners.push(listener);
  }

  tryAcquire(): Promise<boolean> {
    if (this.holding) return Promise.resolve(true);
    return new Promise<boolean>((resolveAcquire, rejectAcquire) => {
      let answered = false;
      const answer = (won: boolean) => {
        if (!answered) (answered = true), resolveAcquire(won);
      };
      this.session = this.store.db
        .connection()
        .execute(async (conn) => {
          const [k1, k2] = this.keys;
          const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${k1}::int4, ${k2}::int4) as locked`.execute(conn);
          if (!rows[0]?.locked) return answer(false);
          this.holding = true;
          answer(true);
          // Hold the connection (and so the lock) until released or until the connection fails.
          await new Promise<void>((resolveHold, rejectHold) => {
            const every = this.options.checkMs ?? 2000;
            const timer = setInterval(() => {
              sql`select 1`.execute(conn).catch((err) => {
                clearInterval(timer);
                rejectHold(err);
              });
            }, every);
            this.releaseHold = () => {
              clearInterval(timer);
              resolveHold();
            };
          });
          await sql`select pg_advisory_unlock(${k1}::int4, ${k2}::int4)`.execute(conn);
        })
        .catch((err) => {
          if (!answered) return rejectAcquire(err);
          if (this.holding) {
            this.holding = false;
            for (const l of this.listeners) l();
          }
        })
        .finally(() => {
          this.holding = false;
        });
    });
  }

  async release(): Promise<void> {
    if (!this.holding) return;
    this.holding = false;
    this.releaseHold?.();
    await this.session?.catch(() => undefined);
  }
}

/** SQLite: one process owns the database file, so it always leads. */
export class LocalLeaderLock implements LeaderLock {
  private holding = false;
  async tryAcquire(): Promise<boolean> {
    this.holding = true;
    return true;
  }
  held(): boolean {
    return this.holding;
  }
  onLost(): void {}
  async release(): Promise<void> {
    this.holding = false;
  }
}

/** The lock for this store's dialect. */
export function leaderLockFor(store: Store, projectKey: string, options: PgLeaderLockOptions = {}): LeaderLock {
  return store.dialect === 'postgres' ? new PgLeaderLock(store, advisoryKeys(projectKey), options) : new LocalLeaderLock();
}
