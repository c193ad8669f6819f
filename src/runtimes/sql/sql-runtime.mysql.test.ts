import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import type { BlockRunRequest, BlockRunResult } from '../types.js';
import { SqlRuntime } from './sql-runtime.js';
import { createTestProject, TEST_PIPELINE, writeOrdersAndRates, type TestProject } from './test-fixtures.js';

const ADMIN = { host: '127.0.0.1', port: 3306, user: 'root', password: '', database: 'test' };

function rowsOf(result: BlockRunResult): Record<string, unknown>[] {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.exception}: ${result.error.message}`);
  assert.ok(result.ok && result.outputs);
  return result.outputs[0] as Record<string, unknown>[];
}

describe('SqlRuntime with MySQL (MariaDB)', () => {
  const database = `blockflow_sql_test_${randomBytes(5).toString('hex')}`;
  let project: TestProject;
  let runtime: SqlRuntime;
  let db: mysql.Connection;

  const block = (uuid: string, sql: string, configuration: Record<string, unknown>, extra: Partial<BlockRunRequest> = {}) =>
    project.sqlBlock(uuid, sql, {
      configuration: { data_provider: 'mysql', ...configuration },
      getSecret: async (name) => (name === 'mysql_user' ? 'root' : undefined),
      ...extra,
    });

  const count = async (table: string): Promise<number> => {
    const [rows] = await db.query(`SELECT count(*) AS n FROM ${table}`);
    return Number((rows as { n: number }[])[0].n);
  };

  before(async () => {
    db = await mysql.createConnection(ADMIN);
    await db.query(`CREATE DATABASE ${database}`);
    project = await createTestProject();
    await writeFile(
      join(project.root, 'io_config.yaml'),
      [
        'default:',
        '  MYSQL_HOST: 127.0.0.1',
        '  MYSQL_PORT: 3306',
        `  MYSQL_DATABASE: ${database}`,
        "  MYSQL_USER: \"{{ mage_secret_var('mysql_user') }}\"",
        "  MYSQL_PASSWORD: ''",
        '',
      ].join('\n'),
    );
    runtime = new SqlRuntime();
  });

  after(async () => {
    await runtime.close();
    await db.query(`DROP DATABASE IF EXISTS ${database}`);
    await db.end();
    await project.cleanup();
  });

  test('exports upstream outputs into tables and materialises the query into the default table', async () => {
    const upstream = await writeOrdersAndRates(project, 'my');

    const request = await block(
      'my_joined',
      'SELECT o.id, o.amount * r.rate AS value, o.at FROM {{ df_1 }} o JOIN {{ my_rates }} r ON r.id = o.id ORDER BY o.id',
      {},
      {
        upstream,
        kwargs: { env: 'test' },
      },
    );
    assert.deepEqual(rowsOf(await runtime.run(request)), [
      { id: 1, value: 5, at: '2024-01-01T01:00:00' },
      { id: 3, value: 75, at: '2024-01-01T03:00:00' },
    ]);
    assert.equal(await count(`${database}.test_${TEST_PIPELINE}_my_orders_v1`), 3);
    assert.equal(await count(`${database}.test_${TEST_PIPELINE}_my_rates_v1`), 2);
    assert.equal(await count(`${database}.test_${TEST_PIPELINE}_my_joined_v1`), 2);
  });

  test('export_write_policy append adds rows on each run (the default)', async () => {
    const request = await block('my_append', 'SELECT 1 AS a UNION ALL SELECT 2', {});
    rowsOf(await runtime.run(request));
    assert.equal(rowsOf(await runtime.run(request)).length, 4);
    assert.equal(await count(`${database}.${TEST_PIPELINE}_my_append_v1`), 4);
  });

  test('export_write_policy replace recreates the table', async () => {
    const request = await block('my_replace', 'SELECT 1 AS a UNION ALL SELECT 2', { export_write_policy: 'replace' });
    rowsOf(await runtime.run(request));
    assert.deepEqual(rowsOf(await runtime.run(request)), [{ a: 1 }, { a: 2 }]);
    assert.equal(await count(`${database}.${TEST_PIPELINE}_my_replace_v1`), 2);
  });

  test('export_write_policy fail refuses an existing table', async () => {
    const request = await block('my_fail', 'SELECT 1 AS a', { export_write_policy: 'fail' });
    rowsOf(await runtime.run(request));
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.equal(result.error.exception, 'ValueError');
    assert.match(result.error.message, /already exists/);
    assert.equal(await count(`${database}.${TEST_PIPELINE}_my_fail_v1`), 1);
  });

  test('configuration.limit caps the rows read back', async () => {
    const request = await block('my_limit', 'SELECT seq AS n FROM seq_1_to_50', { limit: 5, export_write_policy: 'replace' });
    assert.equal(rowsOf(await runtime.run(request)).length, 5);
    assert.equal(await count(`${database}.${TEST_PIPELINE}_my_limit_v1`), 50);
  });

  test('use_raw_sql runs the statements as written and returns the last query', async () => {
    const request = await block(
      'my_raw',
      `CREATE TABLE raw_items (id int, label text);
       INSERT INTO raw_items VALUES (1, 'a;'), (2, 'b'), (3, 'c');
       SELECT label FROM raw_items WHERE id <> 2 ORDER BY id;`,
      { use_raw_sql: true },
    );
    assert.deepEqual(rowsOf(await runtime.run(request)), [{ label: 'a;' }, { label: 'c' }]);
    const [rows] = await db.query('SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [
      database,
      `${TEST_PIPELINE}_my_raw_v1`,
    ]);
    assert.equal((rows as unknown[]).length, 0, 'raw SQL materialises nothing');
  });

  test('a failing statement gives MySQLError with the failing SQL as traceback', async () => {
    const request = await block('my_bad', 'SELECT 1;\nSELECT nope FROM no_such_table', { use_raw_sql: true });
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.equal(result.error.exception, 'MySQLError');
    assert.match(result.error.message, /no_such_table/);
    assert.deepEqual(result.error.traceback, ['SELECT nope FROM no_such_table']);
  });
});
