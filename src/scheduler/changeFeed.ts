/**
 * How the scheduler leader hears about changes made by other server processes on the same database, without
 * waiting for its sweep. On PostgreSQL this is LISTEN/NOTIFY on one channel per project: a process that changed
 * triggers, or finished a run of a pipeline that has runs waiting, sends `pg_notify` through its store; the
 * leader LISTENs on a dedicated connection (a pooled one would be handed to other queries) and acts at once.
 *
 * The feed is a shortcut, never the only path: a notification sent while no leader listens (leader changing,
 * connection dropped) is lost, so the leader sweeps after every (re)connection and keeps its periodic sweep.
 *
 * On SQLite there is nothing to send: several processes share the file, and the leader polls SQLite's
 * `data_version`, which changes when another connection commits. Only then does it look at what changed (the
 * trigger table's fingerprint, pipelines with waiting runs), so an idle database costs one pragma per poll.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import type { Store } from '../store/db.js';
import { pipelinesWithWaitingRuns, schedulesFingerprint } from './queries.js';

/** A change another process should know about. */
export type SchedulerChange =
  /** A trigger was created, updated or deleted. */
  | { kind: 'triggers' }
  /** A run of the pipeline finished while it had runs waiting for a run-limit slot. */
  | { kind: 'waiting'; pipelineUuid: string };

export interface ChangeFeedListener {
  /** A change published by another process. */
  change(change: SchedulerChange): void;
  /**
   * The feed is listening, after the first connection or a reconnection. Changes published while it was not
   * listening were missed, so the listener should look at the database once.
   */
  listening(): void;
  /** The listening connection failed; the feed retries with backoff. */
  lost(err: Error): void;
}

export interface ChangeFeed {
  /** Whether changes must be published for the leader to hear of them (false: it detects them itself). */
  readonly publishes: boolean;
  /** Tells the leader, wherever it runs, about a change made here. Best effort: never throws. */
  publish(change: SchedulerChange): Promise<void>;
  /** Starts listening in the background (connecting and reconnecting as needed). Calling it again replaces the listener. */
  subscribe(listener: ChangeFeedListener): void;
  /** Stops listening and closes the connection. */
  unsubscribe(): Promise<void>;
}

export interface PgChangeFeedOptions {
  /**
   * URL of the store's PostgreSQL database, for the listening connection (the store does not expose its pool).
   * SQLAlchemy's `postgresql+psycopg2://` form is accepted. Without it the feed only publishes.
   */
  url?: string;
  /** First delay before reconnecting after the listening connection failed, doubled per failure. Default 500 ms. */
  reconnectMinMs?: number;
  /** Longest delay between reconnection attempts. Default 30000 ms. */
  reconnectMaxMs?: number;
  /** Milliseconds between health checks (`select 1`) of the listening connection. Default 10000. */
  checkMs?: number;
  /**
   * How long a connection attempt, a health check, or the probe (a notification sent through the store that
   * must come back on the listening connection, proving both reach one database) may take. Default 5000 ms.
   */
  timeoutMs?: number;
  /** Called with problems of publishing (the listener's `lost` gets the listening ones). Default: ignored. */
  onError?: (err: Error) => void;
}

/** `application_name` of the listening connection, so it is recognisable in `pg_stat_activity`. */
export const FEED_APPLICATION_NAME = 'blockflow-scheduler-feed';

/** The NOTIFY channel of a project, so projects sharing one database do not wake each other. */
export function changeChannel(projectKey: string): string {
  return `blockflow_scheduler_${createHash('sha256').update(projectKey).digest('hex').slice(0, 24)}`;
}

/** The connection string pg accepts for a PostgreSQL URL (SQLAlchemy's `+driver` dropped); null for other URLs. */
export function pgConnectionString(url: string): string | null {
  const trimmed = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  const base = scheme?.split('+')[0];
  if (base !== 'postgres' && base !== 'postgresql') return null;
  return 'postgresql' + trimmed.slice(scheme!.length);
}

interface Wire {
  /** The sending feed, so a process ignores its own notifications. */
  s: string;
  k: 'triggers' | 'waiting' | 'probe';
  p?: string;
}

export class PgChangeFeed implements ChangeFeed {
  readonly publishes = true;
  readonly channel: string;
  private readonly sender = randomBytes(8).toString('hex');
  private listener?: ChangeFeedListener;
  private client?: pg.Client;
  private retryTimer?: NodeJS.Timeout;
  private checkTimer?: NodeJS.Timeout;
  private failures = 0;
  /** Probes in flight, by nonce. */
  private readonly probes = new Map<string, () => void>();
  /** Bumped whenever a connection is abandoned, so late callbacks of an old connection do nothing. */
  private generation = 0;

  constructor(
    private readonly store: Store,
    projectKey: string,
    private readonly options: PgChangeFeedOptions = {},
  ) {
    this.channel = changeChannel(projectKey);
  }

  async publish(change: SchedulerChange): Promise<void> {
    const wire: Wire = change.kind === 'waiting' ? { s: this.sender, k: 'waiting', p: change.pipelineUuid } : { s: this.sender, k: 'triggers' };
    await this.send(wire).catch((err) => this.options.onError?.(new Error(`scheduler change feed: publishing failed: ${(err as Error).message}`)));
  }

  subscribe(listener: ChangeFeedListener): void {
    this.listener = listener;
    if (!this.options.url) return;
    if (!this.client && !this.retryTimer) void this.connect();
  }

  async unsubscribe(): Promise<void> {
    this.listener = undefined;
    this.generation++;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.dropClient();
  }

  private send(wire: Wire): Promise<unknown> {
    return sql`select pg_notify(${this.channel}, ${JSON.stringify(wire)})`.execute(this.store.db);
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    const connectionString = pgConnectionString(this.options.url!);
    const timeoutMs = this.options.timeoutMs ?? 5000;
    if (!connectionString) return this.fail(generation, new Error(`not a PostgreSQL URL: ${JSON.stringify(this.options.url)}`));
    const client = new pg.Client({
      connectionString,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      keepAlive: true,
      application_name: FEED_APPLICATION_NAME,
    });
    this.client = client;
    // Without an 'error' handler a dropped connection would crash the process.
    client.on('error', (err) => this.fail(generation, err));
    client.on('end', () => this.fail(generation, new Error('the listening connection closed')));
    client.on('notification', (msg) => {
      if (generation === this.generation && msg.channel === this.channel) this.receive(msg.payload);
    });
    try {
      await client.connect();
      // The channel is built from hex digits only, so quoting it as an identifier is safe.
      await client.query(`LISTEN "${this.channel}"`);
      await this.proveSameDatabase(timeoutMs);
    } catch (err) {
      return this.fail(generation, err as Error);
    }
    if (generation !== this.generation) return;
    this.failures = 0;
    this.checkTimer = setInterval(() => {
      client.query('select 1').catch((err: Error) => this.fail(generation, err));
    }, this.options.checkMs ?? 10_000);
    this.checkTimer.unref();
    this.listener?.listening();
  }

  /** A notification sent through the store must arrive here; otherwise the URL names another database. */
  private async proveSameDatabase(timeoutMs: number): Promise<void> {
    const nonce = randomBytes(8).toString('hex');
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<void>((resolve, reject) => {
      this.probes.set(nonce, resolve);
      timer = setTimeout(
        () => reject(new Error(`a notification sent through the store did not arrive within ${timeoutMs} ms; does the feed's URL name the store's database?`)),
        timeoutMs,
      );
    });
    try {
      await this.send({ s: this.sender, k: 'probe', p: nonce });
      await arrived;
    } finally {
      clearTimeout(timer);
      this.probes.delete(nonce);
    }
  }

  private receive(payload: string | undefined): void {
    let wire: Wire;
    try {
      wire = JSON.parse(payload ?? '') as Wire;
    } catch {
      return;
    }
    if (wire.s !== this.sender) {
      if (wire.k === 'triggers') this.listener?.change({ kind: 'triggers' });
      else if (wire.k === 'waiting' && typeof wire.p === 'string') this.listener?.change({ kind: 'waiting', pipelineUuid: wire.p });
    } else if (wire.k === 'probe' && typeof wire.p === 'string') {
      this.probes.get(wire.p)?.();
    }
  }

  private fail(generation: number, err: Error): void {
    if (generation !== this.generation) return;
    this.generation++;
    void this.dropClient();
    if (!this.listener) return;
    this.listener.lost(new Error(`scheduler change feed: ${err.message}`));
    const min = this.options.reconnectMinMs ?? 500;
    const delay = Math.min(this.options.reconnectMaxMs ?? 30_000, min * 2 ** Math.min(this.failures, 16));
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.listener) void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private async dropClient(): Promise<void> {
    clearInterval(this.checkTimer);
    this.checkTimer = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

/** The feed for this store's dialect: LISTEN/NOTIFY on PostgreSQL, none on SQLite. */
export function changeFeedFor(store: Store, projectKey: string, options: PgChangeFeedOptions & SqliteChangeFeedOptions = {}): ChangeFeed {
  return store.dialect === 'postgres' ? new PgChangeFeed(store, projectKey, options) : new SqliteChangeFeed(store, options);
}

export interface SqliteChangeFeedOptions {
  /** Milliseconds between two reads of `pragma data_version`. Default 500. */
  pollMs?: number;
  /** Called with problems of a poll. Default: ignored. */
  onError?: (err: Error) => void;
}

/** Changes other processes committed to the SQLite file, seen by polling `data_version` (see the file comment). */
export class SqliteChangeFeed implements ChangeFeed {
  readonly publishes = false;
  private timer?: NodeJS.Timeout;
  private version: number | undefined;
  private fingerprint: string | undefined;
  private polling = false;

  constructor(
    private readonly store: Store,
    private readonly options: SqliteChangeFeedOptions = {},
  ) {}

  async publish(): Promise<void> {}

  subscribe(listener: ChangeFeedListener): void {
    this.stop();
    this.version = undefined;
    this.fingerprint = undefined;
    const every = Math.max(10, this.options.pollMs ?? 500);
    const poll = async () => {
      if (this.polling) return;
      this.polling = true;
      try {
        await this.poll(listener);
      } catch (err) {
        this.options.onError?.(err as Error);
      } finally {
        this.polling = false;
      }
    };
    this.timer = setInterval(() => void poll(), every);
    this.timer.unref();
    void poll().then(() => listener.listening());
  }

  private async poll(listener: ChangeFeedListener): Promise<void> {
    const { rows } = await sql<{ data_version: number }>`pragma data_version`.execute(this.store.db);
    const version = Number(rows[0]?.data_version);
    const first = this.version === undefined;
    if (version === this.version) return;
    this.version = version;
    const fingerprint = await schedulesFingerprint(this.store);
    const triggersChanged = !first && fingerprint !== this.fingerprint;
    this.fingerprint = fingerprint;
    if (first) return;
    if (triggersChanged) listener.change({ kind: 'triggers' });
    for (const pipelineUuid of await pipelinesWithWaitingRuns(this.store)) listener.change({ kind: 'waiting', pipelineUuid });
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async unsubscribe(): Promise<void> {
    this.stop();
  }
}
