import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { BlockRunRequest, BlockRunResult } from '../types.js';
import { SqlRuntime } from './sql-runtime.js';
import { createTestProject, TEST_PIPELINE, writeOrdersAndRates, type TestProject } from './test-fixtures.js';

const ADMIN = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };

function rowsOf(result: BlockRunResult): Record<string, unknown>[] {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.exception}: ${result.error.message}`);
  assert.ok(result.ok && result.outputs);
  return result.outputs[0] as Record<string, unknown>[];
}

describe('SqlRuntime with PostgreSQL', () => {
  const database = `blockflow_sql_test_${randomBytes(5).toString('hex')}`;
  let project: TestProject;
  let runtime: SqlRuntime;
  let db: pg.Client;
  const secrets: Record<string, string> = { pg_user: 'postgres' };
  const getSecret = async (name: string) => secrets[name];

  const block = (uuid: string, sql: string, configuration: Record<string, unknown>, extra: Partial<BlockRunRequest> = {}) =>
    project.sqlBlock(uuid, sql, {
      configuration: { data_provider: 'postgres', data_provider_profile: 'default', ...configuration },
      getSecret,
      env: { SQL_TEST_PG_HOST: '127.0.0.1' },
      ...extra,
    });

  const count = async (table: string): Promise<number> =>
    Number((await db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n);

  before(async () => {
    const admin = new pg.Client(ADMIN);
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    db = new pg.Client({ ...ADMIN, database });
    await db.connect();
    project = await createTestProject();
    await writeFile(
      join(project.root, 'io_config.yaml'),
      [
        'version: 0.1.1',
        'default:',
        `  POSTGRES_DBNAME: ${database}`,
        "  POSTGRES_SCHEMA: analytics",
        "  POSTGRES_USER: \"{{ mage_secret_var('pg_user') }}\"",
        "  POSTGRES_PASSWORD: \"{{ env_var('SQL_TEST_UNSET_PASSWORD') }}\"",
        "  POSTGRES_HOST: \"{{ env_var('SQL_TEST_PG_HOST') }}\"",
        '  POSTGRES_PORT: 5432',
        '',
      ].join('\n'),
    );
    runtime = new SqlRuntime();
  });

  after(async () => {
    await runtime.close();
    await db.end();
    const admin = new pg.Client(ADMIN);
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
    await project.cleanup();
  });

  test('exports upstream outputs into tables and materialises the query into the default table', async () => {
    const upstream = await writeOrdersAndRates(project, 'pg');

    const request = await block(
      'pg_joined',
      'SELECT o.id, o.amount * r.rate AS value, o.at FROM {{ df_1 }} o JOIN {{ pg_rates }} r ON r.id = o.id ORDER BY o.id',
      {},
      {
        upstream,
        kwargs: { env: 'dev' },
      },
    );
    const rows = rowsOf(await runtime.run(request));
    assert.deepEqual(rows, [
      { id: 1, value: 5, at: '2024-01-01T01:00:00' },
      { id: 3, value: 75, at: '2024-01-01T03:00:00' },
    ]);
    // Upstreams were exported under Mage's table names, with the dev_ prefix for env=dev.
    assert.equal(await count(`analytics.dev_${TEST_PIPELINE}_pg_orders_v1`), 3);
    assert.equal(await count(`analytics.dev_${TEST_PIPELINE}_pg_rates_v1`), 2);
    assert.equal(await count(`analytics.dev_${TEST_PIPELINE}_pg_joined_v1`), 2);
    const marker = JSON.parse(await readFile(join(project.variablesDir('pg_joined'), 'output_0', 'sql_table.json'), 'utf8'));
    assert.deepEqual(marker, {
      data_provider: 'postgres',
      data_provider_profile: 'default',
      schema: 'analytics',
      table: `dev_${TEST_PIPELINE}_pg_joined_v1`,
    });
  });

  test("Jinja runs before PostgreSQL sees the SQL, and {{ '<uuid>' }} names the exported upstream table", async () => {
    const upstream = await writeOrdersAndRates(project, 'pgj');
    const sql = [
      'SELECT o.id{% for c in variables("extra") %}, {{ c }}{% endfor %}',
      "FROM {{ df_1 }} o JOIN {{ 'pgj_rates' }} r ON r.id = o.id",
      '{% if variables("only_id") %}WHERE o.id = {{ variables("only_id") }}{% endif %}',
      'ORDER BY o.id',
    ].join('\n');
    const request = await block('pgj_loop', sql, {}, { upstream, kwargs: { extra: ['r.rate', 'o.amount * 2 AS twice'], only_id: 3 } });
    assert.deepEqual(rowsOf(await runtime.run(request)), [{ id: 3, rate: 10, twice: 15 }]);
  });

  test('a downstream block reads an upstream SQL table directly, not a re-export of its sample', async () => {
    const upstream = await block('pg_many', 'SELECT g AS n FROM generate_series(1, 30) g', { limit: 10 });
    assert.equal(rowsOf(await runtime.run(upstream)).length, 10);
    const downstream = await block('pg_many_count', 'SELECT count(*) AS n FROM {{ df_1 }}', {}, {
      upstream: [{ blockUuid: 'pg_many', variablesDir: project.variablesDir('pg_many') }],
    });
    assert.deepEqual(rowsOf(await runtime.run(downstream)), [{ n: 30 }]);
  });

  test('export_write_policy append adds rows on each run (the default)', async () => {
    const request = await block('pg_append', 'SELECT 1 AS a UNION ALL SELECT 2', {});
    rowsOf(await runtime.run(request));
    const second = rowsOf(await runtime.run(request));
    assert.equal(second.length, 4);
    assert.equal(await count(`analytics.${TEST_PIPELINE}_pg_append_v1`), 4);
  });

  test('export_write_policy replace recreates the table', async () => {
    const request = await block('pg_replace', 'SELECT 1 AS a UNION ALL SELECT 2', { export_write_policy: 'replace' });
    rowsOf(await runtime.run(request));
    assert.deepEqual(rowsOf(await runtime.run(request)), [{ a: 1 }, { a: 2 }]);
    assert.equal(await count(`analytics.${TEST_PIPELINE}_pg_replace_v1`), 2);
  });

  test('export_write_policy fail refuses an existing table', async () => {
    const request = await block('pg_fail', 'SELECT 1 AS a', { export_write_policy: 'fail', data_provider_table: 'fail_target' });
    rowsOf(await runtime.run(request));
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.equal(result.error.type, 'block_execution_failed');
    assert.equal(result.error.exception, 'ValueError');
    assert.match(result.error.message, /Table analytics\.fail_target already exists/);
    assert.equal(await count('analytics.fail_target'), 1);
  });

  test('use_raw_sql runs the statements as written and returns the last query', async () => {
    const request = await block(
      'pg_raw',
      `CREATE TABLE analytics.raw_items (id int, label text);
       INSERT INTO analytics.raw_items VALUES (1, 'a'), (2, 'b'), (3, 'c');
       SELECT label FROM analytics.raw_items WHERE id > 1 ORDER BY id;`,
      { use_raw_sql: true },
    );
    assert.deepEqual(rowsOf(await runtime.run(request)), [{ label: 'b' }, { label: 'c' }]);
    const exists = await db.query(`SELECT to_regclass('analytics.${TEST_PIPELINE}_pg_raw_v1') AS t`);
    assert.equal(exists.rows[0].t, null, 'raw SQL materialises nothing');
  });

  test('a failing statement gives PostgresError with the failing SQL as traceback', async () => {
    const request = await block('pg_bad', 'SELECT 1 AS ok;\nSELECT nope\nFROM no_such_table', { use_raw_sql: true });
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.equal(result.error.exception, 'PostgresError');
    assert.match(result.error.message, /no_such_table/);
    assert.deepEqual(result.error.traceback, ['SELECT nope', 'FROM no_such_table']);
  });

  test('a missing io_config profile is a clear error', async () => {
    const request = await block('pg_profile', 'SELECT 1', { data_provider_profile: 'staging' });
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.match(result.error.message, /Profile 'staging' not found/);
  });

  test('a timeout cancels a running PostgreSQL query', async () => {
    const request = await block('pg_sleep', 'SELECT pg_sleep(30)', { use_raw_sql: true }, { timeoutMs: 300, outputDir: null });
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.equal(result.error.type, 'timeout');
    const next = await block('pg_after_sleep', 'SELECT 1 AS one', { use_raw_sql: true }, { outputDir: null });
    assert.deepEqual(rowsOf(await runtime.run(next)), [{ one: 1 }]);
  });
});
