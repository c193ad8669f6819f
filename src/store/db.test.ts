import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { sql } from 'kysely';
import { forEachDialect, TestDatabase } from '../../test/helpers/pg.js';
import { openStore, resolveDatabaseUrl } from './db.js';

const run = promisify(execFile);

describe('resolveDatabaseUrl', () => {
  it('prefers MAGE_DATABASE_CONNECTION_URL, then DATABASE_URL, then <dataDir>/mage-ai.db', () => {
    assert.equal(resolveDatabaseUrl({ MAGE_DATABASE_CONNECTION_URL: 'postgresql://a/b', DATABASE_URL: 'postgres://c/d' }, '/x'), 'postgresql://a/b');
    assert.equal(resolveDatabaseUrl({ MAGE_DATABASE_CONNECTION_URL: '', DATABASE_URL: 'postgres://c/d' }, '/x'), 'postgres://c/d');
    assert.equal(resolveDatabaseUrl({}, '/data/proj'), 'sqlite:///data/proj/mage-ai.db');
  });

  it('rejects unknown schemes and relative SQLite URLs with the expected form', async () => {
    await assert.rejects(openStore({ url: 'mysql://h/db' }), /Unsupported database URL scheme "mysql"/);
    await assert.rejects(openStore({ url: 'sqlite://rel.db' }), /sqlite:\/\/\/<absolute path>/);
    await assert.rejects(openStore({}), /needs a url or a sqlitePath/);
  });
});

describe('SQLite durability and prepared statements', () => {
  const dir = mkdtempSync(join(tmpdir(), 'blockflow-sync-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const synchronous = async (env: NodeJS.ProcessEnv, file: string) => {
    const store = await openStore({ sqlitePath: join(dir, file), env });
    try {
      return Number(Object.values((await sql.raw('pragma synchronous').execute(store.db)).rows[0] as object)[0]);
    } finally {
      await store.close();
    }
  };

  it('uses synchronous=NORMAL by default and FULL when BLOCKFLOW_SQLITE_SYNCHRONOUS asks; refuses other values', async () => {
    assert.equal(await synchronous({}, 'a.db'), 1);
    assert.equal(await synchronous({ BLOCKFLOW_SQLITE_SYNCHRONOUS: 'full' }, 'b.db'), 2);
    await assert.rejects(openStore({ sqlitePath: join(dir, 'c.db'), env: { BLOCKFLOW_SQLITE_SYNCHRONOUS: 'OFF' } }), /must be NORMAL or FULL; got "OFF"/);
  });

  it('answers correctly past the statement cache bound, with reused statements and after a schema change', async () => {
    const store = await openStore({ sqlitePath: join(dir, 'cache.db'), env: {} });
    try {
      // Each distinct list length is a distinct SQL text: 700 of them evict the oldest cached statements.
      for (let n = 1; n <= 700; n++) {
        const ids = Array.from({ length: n }, (_, i) => i + 1);
        const rows = await store.db.selectFrom('user').select('id').where('id', 'in', ids).execute();
        assert.equal(rows.length, 0);
      }
      const user = await store.users.create({ username: 'cached' });
      for (let i = 0; i < 3; i++) assert.equal((await store.users.getById(user.id))?.username, 'cached');
      await sql.raw('alter table "user" add column "extra_for_test" text').execute(store.db);
      assert.equal((await store.users.getById(user.id))?.username, 'cached');
    } finally {
      await store.close();
    }
  });
});

forEachDialect('openStore', (open, dialect) => {
  it('reports its dialect and opens the SQLite file with WAL, busy_timeout and foreign keys', async () => {
    const store = await open();
    assert.equal(store.dialect, dialect);
    if (dialect === 'sqlite') {
      const pragma = async (name: string) => Object.values((await sql.raw(`pragma ${name}`).execute(store.db)).rows[0] as object)[0];
      assert.equal(String(await pragma('journal_mode')), 'wal');
      assert.equal(Number(await pragma('busy_timeout')), 5000);
      assert.equal(Number(await pragma('foreign_keys')), 1);
    }
  });

  it('runs migrations once: a reopen keeps data and applies nothing again', async () => {
    const a = await open();
    const user = await a.users.create({ username: 'reopen', email: 'reopen@example.com' });
    await a.close();
    const b = await open();
    assert.equal((await b.users.getById(user.id))?.username, 'reopen');
    const applied = await b.db.selectFrom('kysely_migration' as never).selectAll().execute();
    assert.deepEqual(applied.map((r) => (r as { name: string }).name), ['0001_initial']);
  });

  it('returns count(*) as a number (pg int8 parsed for this pool only)', async () => {
    const store = await open();
    await store.users.create({ username: 'counted' });
    const { n } = await store.db.selectFrom('user').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    assert.equal(typeof n, 'number');
    assert.equal(typeof (await store.users.count()), 'number');
    // The global pg parser is untouched: other pg users in the process still get int8 as text.
    assert.equal(pg.types.getTypeParser(20, 'text')('5'), '5');
  });

  it('writes booleans through plain Kysely queries and reads them back as booleans', async () => {
    const store = await open();
    const u = await store.users.create({ username: 'flag', owner: true });
    assert.equal(u.owner, true);
    await store.db.updateTable('user').set({ owner: false }).where('id', '=', u.id).execute();
    assert.equal((await store.users.getById(u.id))?.owner, false);
    const found = await store.db.selectFrom('user').select('id').where('owner', '=', false).where('id', '=', u.id).execute();
    assert.equal(found.length, 1);
  });

  it('commits a transaction when fn resolves and rolls it back when it throws', async () => {
    const store = await open();
    await store.transaction(async (tx) => {
      await tx.users.create({ username: 'tx-kept' });
      // A nested call joins the outer transaction instead of failing.
      await tx.transaction((inner) => inner.users.create({ username: 'tx-kept-2' }));
    });
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.users.create({ username: 'tx-dropped' });
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(await store.users.getByEmailOrUsername('tx-kept'));
    assert.ok(await store.users.getByEmailOrUsername('tx-kept-2'));
    assert.equal(await store.users.getByEmailOrUsername('tx-dropped'), undefined);
  });
});

forEachDialect('renamePipeline', (open) => {
  it('moves schedules, runs and backfills of a pipeline to the new uuid', async () => {
    const store = await open();
    const sched = await store.schedules.create({ name: 't', pipeline_uuid: 'old_name' });
    const run = await store.pipelineRuns.create({ pipeline_uuid: 'old_name', pipeline_schedule_id: sched.id });
    const bf = await store.backfills.create({ pipeline_uuid: 'old_name' });
    await store.pipelineRuns.create({ pipeline_uuid: 'untouched' });
    assert.deepEqual(await store.renamePipeline('old_name', 'new_name'), { schedules: 1, runs: 1, backfills: 1 });
    assert.equal((await store.schedules.get(sched.id))?.pipeline_uuid, 'new_name');
    assert.equal((await store.pipelineRuns.get(run.id))?.pipeline_uuid, 'new_name');
    assert.equal((await store.backfills.get(bf.id))?.pipeline_uuid, 'new_name');
    assert.equal((await store.pipelineRuns.list({ pipelineUuids: ['untouched'] })).count, 1);
  });
});

describe('concurrent first opens of a new database', () => {
  const databases: TestDatabase[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'blockflow-open-'));
  after(async () => {
    await Promise.allSettled(databases.map((d) => d.dispose()));
    rmSync(scratch, { recursive: true, force: true });
  });

  const check = async (database: TestDatabase) => {
    const store = await database.open();
    const applied = await store.db.selectFrom('kysely_migration' as never).selectAll().execute();
    assert.equal(applied.length, 1);
    assert.ok(await store.users.create({ username: 'after-race' }));
  };

  it('postgres: three stores (three pools, as three processes would) migrate it exactly once', async () => {
    const database = new TestDatabase('postgres');
    databases.push(database);
    await Promise.all([database.open(), database.open(), database.open()]);
    await check(database);
  });

  // better-sqlite3 is synchronous, so competing SQLite openers must be separate processes.
  it('sqlite: two processes migrate it exactly once', async () => {
    const script = join(scratch, 'open.mts');
    const dbModule = fileURLToPath(new URL('./db.ts', import.meta.url));
    writeFileSync(script, `const { openStore } = await import(${JSON.stringify(dbModule)});\nawait (await openStore({ url: process.argv[2] })).close();\n`);
    const database = new TestDatabase('sqlite');
    databases.push(database);
    const url = await database.url();
    await Promise.all([1, 2].map(() => run(process.execPath, ['--import', 'tsx', script, url])));
    await check(database);
  });
});

describe('SQLite file mode', () => {
  it('a new database file is created owner-only (it holds password and token hashes), its WAL too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bf-dbmode-'));
    try {
      const store = await openStore({ url: `sqlite://${join(dir, 'mage-ai.db')}` });
      try {
        assert.equal(statSync(join(dir, 'mage-ai.db')).mode & 0o777, 0o600);
        assert.equal(statSync(join(dir, 'mage-ai.db-wal')).mode & 0o777, 0o600);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
