/**
 * Which process runs the scheduler loop. On PostgreSQL: a session-level `pg_try_advisory_lock` held on one
 * dedicated pooled connection for as long as this process leads. When the process dies (even by SIGKILL) its
 * connection closes and PostgreSQL releases the lock, so a standby's next try wins. The holder checks its
 * connection every few seconds and gives up leadership when the connection fails, since the lock may then be
 * gone. On SQLite, where advisory locks do not exist, a lease row in the database file (SqliteLeaseLock) keeps
 * two processes on one file from both leading.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
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

export interface SqliteLeaseLockOptions {
  /** Milliseconds between the holder's renewals of its lease. Default 2000. */
  renewMs?: number;
  /**
   * Milliseconds a lease lasts after its last renewal: a holder that could not renew for this long gives up
   * leadership, and a standby takes over once it has passed. Default 3 × `renewMs`.
   */
  leaseMs?: number;
}

/** Table of the SQLite leases, one row per project sharing the file. Created by the lock on first use. */
export const LEASE_TABLE = 'scheduler_leader_lease';

interface LeaseRow {
  owner: string;
  host: string;
  pid: number;
  expires_at: number;
}

/**
 * This machine and PID namespace, so a standby can tell that the lease holder's process is gone: two
 * containers with one hostname but separate PID namespaces must not read each other's PIDs. Null when the
 * namespace cannot be read on Linux (then only expiry frees a lease).
 */
function processHost(): string | null {
  if (process.platform !== 'linux') return hostname();
  try {
    return `${hostname()} ${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return null;
  }
}

/** True only when the lease holder certainly no longer runs: same machine and PID namespace, and no such PID. */
function holderIsGone(row: LeaseRow, host: string | null): boolean {
  if (host === null || row.host !== host || Number(row.pid) === process.pid) return false;
  try {
    process.kill(Number(row.pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * SQLite: a lease row per project (owner, expiry) in the database file, so two processes on one file never
 * lead at once. It is taken in a BEGIN IMMEDIATE transaction (the store's transactions are), which serialises
 * takers across processes, when it is free, expired, already ours, or held by a process of this machine that
 * no longer exists (a crash-restart then leads at once instead of after the lease). The holder renews it every
 * `renewMs` and gives up leadership (`onLost`) when a renewal finds another owner, or when it could not renew
 * for `leaseMs`. Expiry uses each process's wall clock, so the processes must share a clock, as processes
 * sharing a SQLite file on one machine do. Releasing deletes the row, so a standby takes over at its next try.
 */
export class SqliteLeaseLock implements LeaderLock {
  /** This lock's identity in the lease row. */
  readonly owner = randomUUID();
  private readonly host = processHost();
  private readonly renewMs: number;
  private readonly leaseMs: number;
  private holding = false;
  private validUntil = 0;
  private renewing = false;
  private tableReady = false;
  private timer?: NodeJS.Timeout;
  private readonly listeners: Array<() => void> = [];

  constructor(
    private readonly store: Store,
    private readonly projectKey: string,
    options: SqliteLeaseLockOptions = {},
  ) {
    this.renewMs = options.renewMs ?? 2000;
    this.leaseMs = options.leaseMs ?? 3 * this.renewMs;
    if (!(this.renewMs > 0) || !(this.leaseMs > this.renewMs)) {
      throw new Error(`SQLite leader lease needs renewMs > 0 and leaseMs > renewMs; got renewMs=${this.renewMs}, leaseMs=${this.leaseMs}`);
    }
  }

  held(): boolean {
    return this.holding && Date.now() < this.validUntil;
  }

  onLost(listener: () => void): void {
    this.listeners.push(listener);
  }

  async tryAcquire(): Promise<boolean> {
    if (this.held()) return true;
    await this.ensureTable();
    const now = Date.now();
    const won = await this.store.transaction(async ({ db }) => {
      const { rows } = await sql<LeaseRow>`select owner, host, pid, expires_at from ${sql.table(LEASE_TABLE)} where project_key = ${this.projectKey}`.execute(db);
      const current = rows[0];
      if (current && current.owner !== this.owner && Number(current.expires_at) > now && !holderIsGone(current, this.host)) return false;
      await sql`insert into ${sql.table(LEASE_TABLE)} (project_key, owner, host, pid, expires_at, acquired_at)
        values (${this.projectKey}, ${this.owner}, ${this.host ?? ''}, ${process.pid}, ${now + this.leaseMs}, ${now})
        on conflict (project_key) do update set owner = excluded.owner, host = excluded.host, pid = excluded.pid,
          expires_at = excluded.expires_at, acquired_at = excluded.acquired_at`.execute(db);
      return true;
    });
    if (!won) {
      if (this.holding) this.lose();
      return false;
    }
    this.validUntil = now + this.leaseMs;
    if (!this.holding) {
      this.holding = true;
      this.timer = setInterval(() => void this.renew(), this.renewMs);
      this.timer.unref();
    }
    return true;
  }

  async release(): Promise<void> {
    const wasHolding = this.holding;
    this.stopHolding();
    if (!wasHolding) return;
    await sql`delete from ${sql.table(LEASE_TABLE)} where project_key = ${this.projectKey} and owner = ${this.owner}`
      .execute(this.store.db)
      .catch(() => undefined);
  }

  private async renew(): Promise<void> {
    if (!this.holding || this.renewing) return;
    this.renewing = true;
    const now = Date.now();
    try {
      const { rows } = await sql<{ owner: string }>`update ${sql.table(LEASE_TABLE)} set expires_at = ${now + this.leaseMs}
        where project_key = ${this.projectKey} and owner = ${this.owner} returning owner`.execute(this.store.db);
      if (!this.holding) return;
      if (rows.length) this.validUntil = now + this.leaseMs;
      else this.lose();
    } catch {
      // A busy or failing database: keep leading while the lease is still ours, retry at the next interval.
      if (this.holding && Date.now() >= this.validUntil) this.lose();
    } finally {
      this.renewing = false;
    }
  }

  private lose(): void {
    this.stopHolding();
    for (const l of this.listeners) l();
  }

  private stopHolding(): void {
    this.holding = false;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async ensureTable(): Promise<void> {
    if (this.tableReady) return;
    await sql`create table if not exists ${sql.table(LEASE_TABLE)} (
      project_key text primary key,
      owner text not null,
      host text not null,
      pid integer not null,
      expires_at integer not null,
      acquired_at integer not null
    )`.execute(this.store.db);
    this.tableReady = true;
  }
}

/** Timings of the leader lock; each applies to its dialect's lock. */
export type LeaderLockOptions = PgLeaderLockOptions & SqliteLeaseLockOptions;

/** The lock for this store's dialect: an advisory lock on PostgreSQL, a lease row on SQLite. */
export function leaderLockFor(store: Store, projectKey: string, options: LeaderLockOptions = {}): LeaderLock {
  return store.dialect === 'postgres' ? new PgLeaderLock(store, advisoryKeys(projectKey), options) : new SqliteLeaseLock(store, projectKey, options);
}
