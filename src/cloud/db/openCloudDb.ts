/**
 * Opens the control plane's database: SQLite (a file path or `sqlite:` URL, the default) or PostgreSQL
 * (`postgres://` / `postgresql://` URL). Migrations run at open.
 */
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type MigrationProvider } from 'kysely';
import pg from 'pg';
import { cloudMigrations, type CloudDialect } from './migrations.js';
import type { CloudDatabase } from './schema.js';

export interface CloudDb {
  db: Kysely<CloudDatabase>;
  dialect: CloudDialect;
  close(): Promise<void>;
}

export function dialectOf(url: string): CloudDialect {
  return /^postgres(ql)?:\/\//i.test(url) ? 'postgres' : 'sqlite';
}

export async function openCloudDb(url: string): Promise<CloudDb> {
  const dialect = dialectOf(url);
  let db: Kysely<CloudDatabase>;
  if (dialect === 'postgres') {
    const pool = new pg.Pool({ connectionString: url, max: 5 });
    // As in the server's store: an idle pooled client whose server connection dies (restart, failover, a
    // terminated backend) emits 'error' on the pool, which would crash the process unhandled. The next checkout
    // gets a fresh client, and queries in flight still reject normally.
    pool.on('error', () => {});
    db = new Kysely<CloudDatabase>({ dialect: new PostgresDialect({ pool }) });
  } else {
    const file = url.replace(/^sqlite:(\/\/)?/i, '');
    const sqlite = new Database(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    db = new Kysely<CloudDatabase>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  const provider: MigrationProvider = { getMigrations: async () => cloudMigrations(dialect) };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'cloud_migrations',
    migrationLockTableName: 'cloud_migrations_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    throw new Error(`cloud database migration failed: ${(error as Error).message ?? String(error)}`);
  }
  return { db, dialect, close: () => db.destroy() };
}
