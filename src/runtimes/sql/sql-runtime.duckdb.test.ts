import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { BlockRunResult } from '../types.js';
import { SqlRuntime } from './sql-runtime.js';
import { createTestProject, logCollector, writeJsonOutput, type TestProject } from './test-fixtures.js';

function rowsOf(result: BlockRunResult): Record<string, unknown>[] {
  assert.equal(result.ok, true, result.ok ? '' : `${result.error.exception}: ${result.error.message}`);
  assert.ok(result.ok && result.outputs);
  assert.equal(result.outputs.length, 1);
  return result.outputs[0] as Record<string, unknown>[];
}

describe('SqlRuntime with DuckDB', () => {
  let project: TestProject;
  let runtime: SqlRuntime;
  let parquetUpstream: string;

  before(async () => {
    project = await createTestProject();
    runtime = new SqlRuntime();
    await runtime.warm();
    // An upstream DataFrame output written by DuckDB itself, in Mage's layout.
    parquetUpstream = project.variablesDir('load_orders');
    await mkdir(join(parquetUpstream, 'output_0'), { recursive: true });
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    await conn.run(
      `COPY (SELECT i AS id, 'item_' || i AS name, i * 1.5 AS price, DATE '2024-01-01' + i::INTEGER AS day
             FROM range(1, 6) t(i)) TO '${join(parquetUpstream, 'output_0', 'data.parquet')}' (FORMAT parquet)`,
    );
    conn.closeSync();
    db.closeSync();
  });

  after(async () => {
    await runtime.close();
    await project.cleanup();
  });

  test('reads a Parquet upstream as df_1 and as its block uuid, and writes a DataFrame output', async () => {
    const request = await project.sqlBlock(
      'sum_orders',
      `SELECT count(*) AS n, sum(price) AS total FROM {{ df_1 }};\n`,
      { upstream: [{ blockUuid: 'load_orders', variablesDir: parquetUpstream }] },
    );
    const rows = rowsOf(await runtime.run(request));
    assert.deepEqual(rows, [{ n: 5, total: 22.5 }]);

    const byUuid = await project.sqlBlock('by_uuid', 'SELECT name FROM {{ load_orders }} WHERE id = 2', {
      upstream: [{ blockUuid: 'load_orders', variablesDir: parquetUpstream }],
    });
    assert.deepEqual(rowsOf(await runtime.run(byUuid)), [{ name: 'item_2' }]);

    const out = join(project.variablesDir('sum_orders'), 'output_0');
    assert.deepEqual((await readdir(out)).sort(), ['data.parquet', 'data_column_types.json', 'sample_data.parquet', 'type.json']);
    assert.deepEqual(JSON.parse(await readFile(join(out, 'type.json'), 'utf8')), { type: 'dataframe' });
    assert.deepEqual(JSON.parse(await readFile(join(out, 'data_column_types.json'), 'utf8')), { n: 'int64', total: 'object' });
    const check = await DuckDBInstance.create(':memory:');
    const conn = await check.connect();
    const back = (await conn.runAndReadAll(`SELECT n::INTEGER AS n FROM read_parquet('${join(out, 'data.parquet')}')`)).getRowObjects();
    assert.deepEqual(back, [{ n: 5 }]);
    conn.closeSync();
    check.closeSync();
    assert.equal(existsSync(join(project.variablesDir('sum_orders'), '..')), true);
    const siblings = await readdir(join(project.variablesDir('sum_orders'), '..'));
    assert.equal(siblings.filter((s) => s.startsWith('.')).length, 0, 'no staging folders are left behind');
  });

  test('returns BIGINT as numbers or strings, dates ISO 8601 and NaN as null', async () => {
    const request = await project.sqlBlock(
      'types',
      `SELECT 42::BIGINT AS small, 9007199254740993::BIGINT AS big, DATE '2024-03-01' AS d,
              TIMESTAMP '2024-03-01 10:11:12.5' AS ts, 'nan'::DOUBLE AS nan, 1.25::DECIMAL(5,2) AS dec`,
    );
    assert.deepEqual(rowsOf(await runtime.run(request)), [
      { small: 42, big: '9007199254740993', d: '2024-03-01', ts: '2024-03-01T10:11:12.5', nan: null, dec: 1.25 },
    ]);
  });

  test('turns JSON upstreams into tables: a list of objects and a dict', async () => {
    const listDir = project.variablesDir('list_upstream');
    const dictDir = project.variablesDir('dict_upstream');
    await writeJsonOutput(listDir, [{ a: 1, b: 'x' }, { a: 2, b: 'y' }, { a: 3, b: 'z' }]);
    await writeJsonOutput(dictDir, { threshold: 2 });
    const request = await project.sqlBlock(
      'json_join',
      'SELECT l.b FROM {{ df_1 }} l, {{ df_2 }} d WHERE l.a >= d.threshold ORDER BY l.a',
      {
        upstream: [
          { blockUuid: 'list_upstream', variablesDir: listDir },
          { blockUuid: 'dict_upstream', variablesDir: dictDir },
        ],
      },
    );
    assert.deepEqual(rowsOf(await runtime.run(request)), [{ b: 'y' }, { b: 'z' }]);
  });

  test('uses inline inputs instead of stored upstream outputs', async () => {
    const request = await project.sqlBlock('inline', 'SELECT sum(v) AS s FROM {{ df_1 }}', {
      inlineInputs: [[{ v: 2 }, { v: 3 }]],
      outputDir: null,
    });
    assert.deepEqual(rowsOf(await runtime.run(request)), [{ s: 5 }]);
  });

  test('renders variables(), env_var(), mage_secret_var(), execution_date and any kwarg', async () => {
    const request = await project.sqlBlock(
      'templated',
      `SELECT '{{ variables("country") }}' AS country, '{{ env_var('SQL_TEST_REGION') }}' AS region,
              '{{ mage_secret_var('api_key') }}' AS secret, '{{ execution_date }}' AS exec, '{{ ds }}' AS ds,
              {{ min_amount }} AS min_amount {# a comment #}`,
      {
        kwargs: { country: 'NL', execution_date: '2024-05-06T07:08:09Z', ds: '2024-05-06', min_amount: 10 },
        env: { SQL_TEST_REGION: 'eu-west' },
        getSecret: async (name) => (name === 'api_key' ? 's3cr3t' : undefined),
        outputDir: null,
      },
    );
    assert.deepEqual(rowsOf(await runtime.run(request)), [
      { country: 'NL', region: 'eu-west', secret: 's3cr3t', exec: '2024-05-06 07:08:09+00:00', ds: '2024-05-06', min_amount: 10 },
    ]);
  });

  test('an unknown template function fails with a TemplateError naming it', async () => {
    const request = await project.sqlBlock('bad_template', 'SELECT 1\nWHERE x = {{ nope("a") }}', { outputDir: null });
    const result = await runtime.run(request);
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.equal(result.error.type, 'block_execution_failed');
    assert.equal(result.error.exception, 'TemplateError');
    assert.match(result.error.message, /Unknown function 'nope'/);
    assert.deepEqual(result.error.traceback, ['line 2: WHERE x = {{ nope("a") }}']);
  });

  test('a missing secret fails with a TemplateError naming the secret', async () => {
    const request = await project.sqlBlock('no_secret', "SELECT '{{ mage_secret_var('missing') }}'", {
      outputDir: null,
      getSecret: async () => undefined,
    });
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.equal(result.error.exception, 'TemplateError');
    assert.match(result.error.message, /secret 'missing' is not defined/);
  });

  test('runs a Jinja block end to end: macro, loop over a variable, conditions, filters and execution_date', async () => {
    const sql = [
      "{% macro bucket(col, lo, hi) -%}",
      "SUM(CASE WHEN {{ col }} >= {{ lo }} AND {{ col }} < {{ hi }} THEN 1 ELSE 0 END)",
      "{%- endmacro %}",
      "{% set day = execution_date.strftime('%Y-%m-%d') %}",
      'SELECT',
      "  '{{ day }}' AS run_day,",
      '{% for b in variables("buckets") %}',
      '  {{ bucket("price", b.lo, b.hi) }} AS {{ b.name | lower }}{{ "," if not loop.last }}',
      '{% endfor %}',
      'FROM {{ df_1 }}',
      "{% if variables('only_named') %}WHERE name IN ({% for n in variables('only_named') %}'{{ n }}'{% if not loop.last %}, {% endif %}{% endfor %}){% endif %}",
      '',
    ].join('\n');
    const request = await project.sqlBlock('jinja_buckets', sql, {
      upstream: [{ blockUuid: 'load_orders', variablesDir: parquetUpstream }],
      kwargs: {
        execution_date: '2024-05-06T07:08:09Z',
        buckets: [{ name: 'CHEAP', lo: 0, hi: 3 }, { name: 'Mid', lo: 3, hi: 6 }, { name: 'dear', lo: 6, hi: 100 }],
        only_named: ['item_1', 'item_2', 'item_3', 'item_5'],
      },
      outputDir: null,
    });
    // prices are 1.5, 3, 4.5, 6, 7.5 for items 1..5; item_4 is filtered out.
    assert.deepEqual(rowsOf(await runtime.run(request)), [{ run_day: '2024-05-06', cheap: 1, mid: 2, dear: 1 }]);
  });

  test('a template error names the block and the line and runs nothing', async () => {
    const { lines, onLog } = logCollector();
    const request = await project.sqlBlock(
      'bad_jinja',
      'CREATE OR REPLACE TABLE must_not_exist AS SELECT 1 AS x;\n{% for c in cols %}\n{{ c }\n{% endfor %}',
      { onLog, kwargs: { cols: ['a'] } },
    );
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.equal(result.error.exception, 'TemplateError');
    assert.match(result.error.message, /^Template error in SQL block 'bad_jinja': .* at line 3$/);
    assert.deepEqual(result.error.traceback, ['line 3: {{ c }']);
    assert.ok(lines.some((l) => l.level === 'ERROR' && /bad_jinja/.test(l.message)));
    const check = await project.sqlBlock('check_not_created', "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'must_not_exist'", { outputDir: null });
    assert.deepEqual(rowsOf(await runtime.run(check)), [{ n: 0 }]);
    assert.equal(existsSync(project.variablesDir('bad_jinja')), false);
  });

  test('a secret in a failing statement is redacted from the error and the logs', async () => {
    const { lines, onLog } = logCollector();
    const request = await project.sqlBlock('leaky', "SELECT CAST('{{ mage_secret_var('db_pw') }}' AS INTEGER) AS n", {
      onLog,
      outputDir: null,
      getSecret: async (name) => (name === 'db_pw' ? 'pa55-word' : undefined),
    });
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.equal(result.error.exception, 'DuckDBError');
    const reported = [result.error.message, ...result.error.traceback, ...lines.map((l) => l.message)].join('\n');
    assert.doesNotMatch(reported, /pa55-word/);
    assert.match(result.error.traceback.join('\n'), /CAST\('\*\*\*\*\*\*' AS INTEGER\)/);
  });

  test('runs multiple statements and returns the last SELECT', async () => {
    const request = await project.sqlBlock(
      'multi',
      `CREATE OR REPLACE TEMP TABLE t AS SELECT * FROM range(4) r(x);
       SELECT 'not this' AS first;
       INSERT INTO t VALUES (10);
       -- the output:
       SELECT sum(x) AS total FROM t;
       DROP TABLE t;`,
      { outputDir: null },
    );
    assert.deepEqual(rowsOf(await runtime.run(request)), [{ total: 16 }]);
  });

  test('a script without a SELECT reads back the table it created', async () => {
    const request = await project.sqlBlock('create_only', 'CREATE OR REPLACE TEMP TABLE made AS SELECT 7 AS seven', { outputDir: null });
    assert.deepEqual(rowsOf(await runtime.run(request)), [{ seven: 7 }]);
  });

  test('a failing statement gives DuckDBError with the failing SQL as traceback', async () => {
    const request = await project.sqlBlock('failing', 'SELECT 1;\nSELECT *\nFROM missing_table;', { outputDir: null });
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.equal(result.error.type, 'block_execution_failed');
    assert.equal(result.error.exception, 'DuckDBError');
    assert.match(result.error.message, /missing_table/);
    assert.deepEqual(result.error.traceback, ['SELECT *', 'FROM missing_table']);
  });

  test("requests do not see each other's upstream views", async () => {
    const first = await project.sqlBlock('first', 'SELECT count(*) AS n FROM {{ df_1 }}', {
      upstream: [{ blockUuid: 'load_orders', variablesDir: parquetUpstream }],
      outputDir: null,
    });
    assert.deepEqual(rowsOf(await runtime.run(first)), [{ n: 5 }]);
    const second = await project.sqlBlock('second', 'SELECT count(*) AS n FROM df_1', { outputDir: null });
    const result = await runtime.run(second);
    assert.ok(!result.ok);
    assert.match(result.error.message, /df_1/);
  });

  test('a timeout interrupts a long query and answers timeout', async () => {
    const request = await project.sqlBlock('slow', 'SELECT count(*) FROM range(100000000000) a', {
      timeoutMs: 200,
      outputDir: project.variablesDir('slow'),
    });
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.equal(result.error.type, 'timeout');
    assert.equal(existsSync(project.variablesDir('slow')), false, 'nothing is written for a stopped run');
    // The runtime stays usable after an interrupt.
    const next = await project.sqlBlock('after_slow', 'SELECT 1 AS one', { outputDir: null });
    assert.deepEqual(rowsOf(await runtime.run(next)), [{ one: 1 }]);
  });

  test('aborting the signal cancels a long query', async () => {
    const controller = new AbortController();
    const request = await project.sqlBlock('cancel_me', 'SELECT count(*) FROM range(100000000000) a', {
      signal: controller.signal,
      outputDir: null,
    });
    const pending = runtime.run(request);
    setTimeout(() => controller.abort(), 100);
    const result = await pending;
    assert.ok(!result.ok);
    assert.equal(result.error.type, 'cancelled');
  });

  test('a block without a query writes an empty output folder', async () => {
    const request = await project.sqlBlock('no_output', 'CREATE OR REPLACE TEMP VIEW v AS SELECT 1', { returnOutputs: true });
    const result = await runtime.run(request);
    assert.ok(result.ok);
    assert.equal(result.outputCount, 0);
    assert.deepEqual(result.outputs, []);
    assert.deepEqual(await readdir(project.variablesDir('no_output')), []);
  });

  test('an unsupported data_provider is a clear error', async () => {
    const request = await project.sqlBlock('bq', 'SELECT 1', { configuration: { data_provider: 'bigquery' } });
    const result = await runtime.run(request);
    assert.ok(!result.ok);
    assert.equal(result.error.exception, 'ValueError');
    assert.match(result.error.message, /bigquery/);
  });
});
