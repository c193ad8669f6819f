/**
 * The metadata database: one Kysely query layer over SQLite (better-sqlite3, the embedded default) or
 * PostgreSQL (pg). `openStore` picks the dialect from the URL, runs pending migrations under a lock, and returns
 * the table-family repositories.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  Migrator,
  OperationNodeTransformer,
  PostgresDialect,
  PrimitiveValueListNode,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type KyselyPlugin,
  type Migration,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type SqliteDialectConfig,
  type UnknownRow,
  type ValueNode,
} from 'kysely';
import pg from 'pg';
import type { StoreDialect } from './dialect.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Database } from './schema.js';
import { nowDbTime } from './time.js';
import { AccessTokensRepo } from './accessTokens.js';
import { BackfillsRepo } from './backfills.js';
import { BlockRunsRepo } from './blockRuns.js';
import { EventMatchersRepo } from './eventMatchers.js';
import { PipelineRunsRepo } from './pipelineRuns.js';
import { SchedulesRepo } from './schedules.js';
import { SecretsRepo } from './secrets.js';
import { UsersRepo } from './users.js';

export type { StoreDialect } from './dialect.js';
export type { Database } from './schema.js';

export interface OpenStoreOptions {
  /**
   * Connection URL. `postgres://`, `postgresql://` (also SQLAlchemy's `postgresql+psycopg2://` form, as Mage
   * users write it) select PostgreSQL; `sqlite:///abs/path.db` (or SQLAlchemy's `sqlite:////abs/path.db`) selects
   * SQLite. Takes precedence over `sqlitePath`.
   */
  url?: string;
  /** SQLite file path (made absolute against the working directory), used when `url` is not given. */
  sqlitePath?: string;
  /** Largest number of pooled PostgreSQL connections. Default 10. Ignored for SQLite (one connection). */
  poolSize?: number;
  /** The environment `BLOCKFLOW_SQLITE_SYNCHRONOUS` is read from (see sqliteSynchronous). Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The repositories, bound either to the store's connection or to one open transaction. */
export interface StoreScope {
  db: Kysely<Database>;
  dialect: StoreDialect;
  users: UsersRepo;
  accessTokens: AccessTokensRepo;
  schedules: SchedulesRepo;
  eventMatchers: EventMatchersRepo;
  pipelineRuns: PipelineRunsRepo;
  blockRuns: BlockRunsRepo;
  secrets: SecretsRepo;
  backfills: BackfillsRepo;
  /**
   * Runs `fn` in one transaction, with repositories bound to it; commits when `fn` resolves, rolls back when it
   * throws. Called on a scope that is already a transaction, it joins that transaction.
   */
  transaction<T>(fn: (tx: StoreScope) => Promise<T>): Promise<T>;
  /**
   * Points every schedule, run and backfill of pipeline `from` at `to` (a pipeline rename), atomically.
   * Returns how many rows of each table moved.
   */
  renamePipeline(from: string, to: string): Promise<{ schedules: number; runs: number; backfills: number }>;
}

export interface Store extends StoreScope {
  /** Closes the SQLite file or drains the pg pool. */
  close(): Promise<void>;
}

/**
 * The database URL as Mage decides it: `MAGE_DATABASE_CONNECTION_URL`, then `DATABASE_URL`, otherwise SQLite
 * at `<dataDir>/mage-ai.db`.
 */
export function resolveDatabaseUrl(env: Record<string, string | undefined>, dataDir: string): string {
  const given = env.MAGE_DATABASE_CONNECTION_URL?.trim() || env.DATABASE_URL?.trim();
  if (given) return given;
  return `sqlite://${join(resolve(dataDir), 'mage-ai.db')}`;
}

type Target = { dialect: 'sqlite'; path: string } | { dialect: 'postgres'; url: string };

/** The SQLite file a database URL names, or null for PostgreSQL (and for a URL openStore would refuse). */
export function sqliteFileOf(url: string): string | null {
  try {
    const target = parseTarget({ url });
    return target.dialect === 'sqlite' ? target.path : null;
  } catch {
    return null;
  }
}

function parseTarget(opts: OpenStoreOptions): Target {
  if (opts.url) {
    const url = opts.url.trim();
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
    // SQLAlchemy URLs name the driver after a '+' (postgresql+psycopg2); pg does not want it.
    const base = scheme?.split('+')[0];
    if (base === 'postgres' || base === 'postgresql') {
      return { dialect: 'postgres', url: 'postgresql' + url.slice(scheme!.length) };
    }
    if (base === 'sqlite') {
      const rest = url.slice(url.indexOf(':') + 1);
      if (!rest.startsWith('///')) {
        throw new Error(`SQLite database URL must be sqlite:///<absolute path>, got ${JSON.stringify(url)}`);
      }
      // sqlite:///abs and SQLAlchemy's sqlite:////abs both name /abs.
      const path = '/' + rest.slice(3).replace(/^\/+/, '').split('?')[0];
      return { dialect: 'sqlite', path: decodeURIComponent(path) };
    }
    throw new Error(
      `Unsupported database URL scheme ${JSON.stringify(scheme ?? url)}: use postgresql://... or sqlite:///<absolute path>`,
    );
  }
  if (opts.sqlitePath) return { dialect: 'sqlite', path: resolve(opts.sqlitePath) };
  throw new Error('openStore needs a url or a sqlitePath');
}

/** Opens the database, runs pending migrations and returns the store. */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const target = parseTarget(opts);
  let db: Kysely<Database>;
  let sqliteFile: BetterSqlite3.Database | undefined;
  if (target.dialect === 'sqlite') {
    mkdirSync(dirname(target.path), { recursive: true });
    // The file holds password and token hashes: created owner-only, and SQLite gives its -wal and -shm files the
    // same mode. An existing file keeps the mode its owner chose.
    closeSync(openSync(target.path, 'a', 0o600));
    sqliteFile = new BetterSqlite3(target.path);
    // busy_timeout first: switching to WAL needs a lock another process may briefly hold.
    sqliteFile.pragma('busy_timeout = 5000');
    sqliteFile.pragma('journal_mode = WAL');
    sqliteFile.pragma('foreign_keys = ON');
    sqliteFile.pragma(`synchronous = ${sqliteSynchronous(opts.env ?? process.env)}`);
    db = new Kysely<Database>({
      dialect: new BlockflowSqliteDialect({ database: new StatementCache(sqliteFile) }, sqliteFile),
      plugins: [new SqliteBooleanPlugin()],
    });
  } else {
    const pool = new pg.Pool({ connectionString: target.url, max: opts.poolSize ?? 10, types: PG_TYPES });
    // An idle pooled client whose server connection dies emits 'error' on the pool; unhandled, that would
    // crash the process. The next checkout gets a fresh client, and queries in flight still reject normally.
    pool.on('error', () => {});
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  try {
    await migrate(db, target.dialect, sqliteFile);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const store = makeScope(db, target.dialect) as Store;
  store.close = () => db.destroy();
  return store;
}

function makeScope(db: Kysely<Database>, dialect: StoreDialect): StoreScope {
  const scope: StoreScope = {
    db,
    dialect,
    users: new UsersRepo(db),
    accessTokens: new AccessTokensRepo(db),
    schedules: new SchedulesRepo(db),
    eventMatchers: new EventMatchersRepo(db),
    pipelineRuns: new PipelineRunsRepo(db),
    blockRuns: new BlockRunsRepo(db),
    secrets: new SecretsRepo(db),
    backfills: new BackfillsRepo(db),
    transaction: (fn) =>
      db.isTransaction ? fn(scope) : db.transaction().execute((trx) => fn(makeScope(trx, dialect))),
    renamePipeline: (from, to) =>
      scope.transaction(async ({ db: tx }) => {
        const now = nowDbTime();
        const moved = async (table: 'pipeline_schedule' | 'pipeline_run' | 'backfill') =>
          Number(
            (await tx.updateTable(table).set({ pipeline_uuid: to, updated_at: now }).where('pipeline_uuid', '=', from).executeTakeFirst())
              .numUpdatedRows,
          );
        return { schedules: await moved('pipeline_schedule'), runs: await moved('pipeline_run'), backfills: await moved('backfill') };
      }),
  };
  return scope;
}

async function migrate(db: Kysely<Database>, dialect: StoreDialect, sqliteFile?: BetterSqlite3.Database): Promise<void> {
  const migrations: Record<string, Migration> = {};
  for (const [name, m] of Object.entries(MIGRATIONS)) {
    migrations[name] = {
      up: async (conn) => {
        try {
          await m.up(conn, dialect);
        } catch (err) {
          // SQLite migrations run inside the BEGIN IMMEDIATE taken as the migration lock (see
          // LockingSqliteAdapter); roll it back here so the lock release does not commit half a migration.
          if (sqliteFile?.inTransaction) await sql`rollback`.execute(conn);
          throw err;
        }
      },
    };
  }
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`Database migration ${failed ?? ''} failed: ${why}`.replace('  ', ' '), { cause: error });
  }
}

// pg returns int8 (count(*), bigint) as strings. Parse them as numbers for this store's pool only, instead of
// changing pg's process-wide parser that other pg users in the process may rely on. Metadata counts and ids
// stay far below 2^53.
const INT8_OID = 20;
const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * `BLOCKFLOW_SQLITE_SYNCHRONOUS`: SQLite's `synchronous` pragma, `NORMAL` (default) or `FULL`. With WAL,
 * NORMAL never corrupts the file and loses no commit when the process crashes; only an OS crash or power cut
 * can roll back the last commits. FULL also survives those at the price of an fsync per commit (about ten
 * times slower writes here), which every run state change pays.
 */
function sqliteSynchronous(env: NodeJS.ProcessEnv): 'NORMAL' | 'FULL' {
  const value = (env.BLOCKFLOW_SQLITE_SYNCHRONOUS ?? 'NORMAL').trim().toUpperCase();
  if (value !== 'NORMAL' && value !== 'FULL') {
    throw new Error(`BLOCKFLOW_SQLITE_SYNCHRONOUS must be NORMAL or FULL; got ${JSON.stringify(env.BLOCKFLOW_SQLITE_SYNCHRONOUS)}`);
  }
  return value;
}

/**
 * Kysely's SQLite driver prepares every query anew, and preparing costs more than running the small queries a
 * run's state changes make. Statements are kept per SQL text (least recently used dropped past the bound).
 * Reusing one is safe because the driver runs it to completion synchronously (`all`/`run`); `iterate`, which
 * would hold it open, is only used by streamQuery, which this store never calls.
 */
class StatementCache {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(
    private readonly file: BetterSqlite3.Database,
    private readonly max = 500,
  ) {}

  prepare(sqlText: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sqlText);
    if (statement) {
      this.statements.delete(sqlText);
    } else {
      statement = this.file.prepare(sqlText);
      if (this.statements.size >= this.max) this.statements.delete(this.statements.keys().next().value as string);
    }
    this.statements.set(sqlText, statement);
    return statement;
  }

  close(): void {
    this.statements.clear();
    this.file.close();
  }
}

/** SQLite dialect with IMMEDIATE transactions and a real migration lock. */
class BlockflowSqliteDialect extends SqliteDialect {
  constructor(
    private readonly sqliteConfig: SqliteDialectConfig,
    private readonly file: BetterSqlite3.Database,
  ) {
    super(sqliteConfig);
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.sqliteConfig);
  }
  override createAdapter(): DialectAdapter {
    return new LockingSqliteAdapter(this.file);
  }
}

/**
 * A deferred BEGIN that reads and then writes fails at once with SQLITE_BUSY when another process wrote in
 * between (busy_timeout cannot help a stale snapshot); BEGIN IMMEDIATE takes the write lock up front, waiting
 * up to busy_timeout, so read-then-write transactions are safe across processes.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * Kysely's SQLite adapter takes no migration lock and runs migrations outside a transaction, which is unsafe
 * when two processes open the same file. Here the lock is BEGIN IMMEDIATE (the database's write lock) and its
 * release is COMMIT, so reading the applied list, applying and recording migrations is one atomic step.
 */
class LockingSqliteAdapter extends SqliteAdapter {
  constructor(private readonly file: BetterSqlite3.Database) {
    super();
  }
  override async acquireMigrationLock(db: Kysely<any>): Promise<void> {
    await sql`begin immediate`.execute(db);
  }
  override async releaseMigrationLock(db: Kysely<any>): Promise<void> {
    if (this.file.inTransaction) await sql`commit`.execute(db);
  }
}

/** better-sqlite3 cannot bind booleans; write them as 1/0 (what SQLite stores for booleans anyway). */
class SqliteBooleanTransformer extends OperationNodeTransformer {
  protected override transformValue(node: ValueNode): ValueNode {
    const out = super.transformValue(node);
    return typeof out.value === 'boolean' ? Object.freeze({ ...out, value: out.value ? 1 : 0 }) : out;
  }
  protected override transformPrimitiveValueList(node: PrimitiveValueListNode): PrimitiveValueListNode {
    return PrimitiveValueListNode.create(node.values.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v)));
  }
}

class SqliteBooleanPlugin implements KyselyPlugin {
  readonly #transformer = new SqliteBooleanTransformer();
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node, args.queryId);
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
