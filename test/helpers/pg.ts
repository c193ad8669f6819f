/**
 * Test databases: a fresh PostgreSQL database per suite (dropped at the end) and a temp SQLite file, plus
 * `forEachDialect` so one test file runs against both.
 *
 * The server is the local PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth); `BLOCKFLOW_TEST_PG_URL`
 * points elsewhere (an admin connection URL, usually to the `postgres` database).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe } from 'node:test';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/db.js';

/** Admin connection used to create and drop test databases. */
export const PG_ADMIN_URL = process.env.BLOCKFLOW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface FreshPgDatabase {
  /** Connection URL of the new database. */
  url: string;
  /** Drops the database, ending any connection still open to it. Safe to call twice. */
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`Cannot reach the test PostgreSQL at ${PG_ADMIN_URL} (set BLOCKFLOW_TEST_PG_URL): ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates `blockflow_test_<random>` and returns its URL and a drop function. */
export async function createFreshPgDatabase(): Promise<FreshPgDatabase> {
  const name = `blockflow_test_${randomBytes(6).toString('hex')}`;
  // Identifiers cannot be bind parameters; the name is generated here from hex digits only.
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    drop: async () => {
      if (dropped) return;
      dropped = true;
      // WITH (FORCE) (PostgreSQL 13+) terminates the connections still open to it, e.g. a leaked pool.
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

export type StoreTarget = 'sqlite' | 'postgres';

/** The dialects every store test runs against. */
export function storeTargets(): StoreTarget[] {
  return ['sqlite', 'postgres'];
}

/**
 * One database of a test suite. `open()` may be called many times: each call is a new store (its own SQLite
 * connection or pg pool) on the same database, which is how tests get two competing connections.
 */
export class TestDatabase {
  private pgDb?: Promise<FreshPgDatabase>;
  private dir?: string;
  private readonly stores: Store[] = [];

  constructor(readonly dialect: StoreTarget) {}

  /** The URL of this suite's database, created on first use. */
  async url(): Promise<string> {
    if (this.dialect === 'postgres') {
      // The promise is kept (not its result) so concurrent first calls share one database.
      this.pgDb ??= createFreshPgDatabase();
      return (await this.pgDb).url;
    }
    this.dir ??= mkdtempSync(join(tmpdir(), 'blockflow-store-'));
    return `sqlite://${join(this.dir, 'mage-ai.db')}`;
  }

  async open(): Promise<Store> {
    const store = await openStore({ url: await this.url() });
    this.stores.push(store);
    return store;
  }

  /** Closes every store opened here and removes the database. */
  async dispose(): Promise<void> {
    await Promise.allSettled(this.stores.splice(0).map((s) => s.close()));
    if (this.pgDb) await (await this.pgDb).drop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Opens a store on the suite's database (see TestDatabase.open). */
export type OpenStoreForTest = () => Promise<Store>;

/**
 * Declares `describe(\`${name} [<dialect>]\`)` once per dialect. Inside, `open()` gives stores on that suite's
 * own database (created lazily, so a suite that never opens costs nothing); everything is closed and dropped
 * after the suite.
 */
export function forEachDialect(name: string, body: (open: OpenStoreForTest, dialect: StoreTarget) => void): void {
  for (const dialect of storeTargets()) {
    describe(`${name} [${dialect}]`, () => {
      const db = new TestDatabase(dialect);
      after(() => db.dispose());
      body(() => db.open(), dialect);
    });
  }
}
