import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bool, Float64, Int64, Table, TimestampMillisecond, Utf8, makeData, makeVector, vectorFromArray } from 'apache-arrow';
import { blockLogFile, blockVariablesDir, executionPartition, logsDir, variablesRoot } from './layout.js';
import { writeOutputs } from './write.js';
import { readOutputs, readOutputSummaries, toMageOutputJson } from './read.js';
import { tableFromRows } from './arrowValues.js';
import { withConnection, sqlString } from './duckdb.js';

/** The repository root, for its Python virtualenvs. */
const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** BLOCKFLOW_TEST_PYTHON (a python with pyarrow) first, then the project venv and the system interpreter. */
const PYTHON_CANDIDATES = [process.env.BLOCKFLOW_TEST_PYTHON ?? '', `${REPO}.venv/bin/python`, `${REPO}.venv-test/bin/python`, '/root/.pyenv/versions/3.11.7/bin/python3'].filter(Boolean);

/** A python that can import pyarrow, or null. */
function pyarrowPython(): string | null {
  for (const python of PYTHON_CANDIDATES) {
    if (!existsSync(python)) continue;
    try {
      execFileSync(python, ['-c', 'import pyarrow'], { stdio: 'ignore' });
      return python;
    } catch {
      // no pyarrow in this interpreter
    }
  }
  return null;
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'bf-vars-'));
}

function sampleTable(): Table {
  return tableFromRows([
    { id: 1, price: 1.5, name: 'a', ok: true, at: new Date('2024-01-01T00:00:00Z') },
    { id: 2, price: null, name: null, ok: false, at: null },
    { id: 3, price: 3.25, name: 'ç', ok: null, at: new Date('2024-03-01T12:30:00.123Z') },
  ]);
}

test('layout paths follow Mage', () => {
  assert.equal(variablesRoot('/d', 'p'), '/d/pipelines/p/.variables');
  assert.equal(blockVariablesDir('/d', 'p', '', 'b'), '/d/pipelines/p/.variables/b');
  assert.equal(blockVariablesDir('/d', 'p', '3/20240101T000000_000000', 'b'), '/d/pipelines/p/.variables/3/20240101T000000_000000/b');
  assert.equal(logsDir('/d', 'p', '3/x'), '/d/pipelines/p/.logs/3/x');
  assert.equal(executionPartition(12, '2024-01-02T03:04:05.123456Z'), '12/20240102T030405_123456');
  assert.equal(executionPartition(12, new Date('2024-01-02T03:04:05.120Z')), '12/20240102T030405_120000');
  assert.equal(executionPartition(null, '2024-01-02 03:04:05'), 'None/20240102T030405_000000');
  assert.throws(() => blockVariablesDir('/d', '../x', '', 'b'), /pipeline uuid "\.\.\/x" contains a "\/"/);
  assert.throws(() => blockVariablesDir('/d', '..', '', 'b'), /pipeline uuid "\.\." has an empty, "\." or "\.\." path segment/);
  assert.throws(() => blockVariablesDir('/d', 'p', '../..', 'b'), /execution partition "\.\.\/\.\." has an empty/);
  assert.throws(() => blockLogFile('/d', 'p', '', '../../../../tmp/x/victim'), /block uuid .* has an empty, "\." or "\.\." path segment/);
  assert.throws(() => blockLogFile('/d', 'p', '', '/tmp/victim'), /block uuid "\/tmp\/victim" is an absolute path/);
  // Mage's nested block uuids (dbt models) make sub-folders.
  assert.equal(blockLogFile('/d', 'p', '1/x', 'dbt/models/m'), '/d/pipelines/p/.logs/1/x/dbt/models/m.log');
});

test('a table round trips with its types and nulls, and its files follow Mage', async () => {
  const dir = join(await tempDir(), 'blk');
  await writeOutputs(dir, [sampleTable()]);
  const files = (await readdir(join(dir, 'output_0'))).sort();
  assert.deepEqual(files, ['data.parquet', 'data_column_types.json', 'sample_data.parquet', 'type.json']);
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'output_0', 'type.json'), 'utf8')), { type: 'dataframe' });
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'output_0', 'data_column_types.json'), 'utf8')), {
    id: 'int64', price: 'float64', name: 'object', ok: 'bool', at: 'datetime64[ns]',
  });
  const [back] = (await readOutputs(dir)) as [Table];
  assert.deepEqual(back.schema.fields.map((f) => String(f.type)), ['Int64', 'Float64', 'Utf8', 'Bool', 'Timestamp<MICROSECOND>']);
  assert.deepEqual(toMageOutputJson(back), [
    { id: 1, price: 1.5, name: 'a', ok: true, at: '2024-01-01T00:00:00.000Z' },
    { id: 2, price: null, name: null, ok: false, at: null },
    { id: 3, price: 3.25, name: 'ç', ok: null, at: '2024-03-01T12:30:00.123Z' },
  ]);
});

test('JSON values round trip and samples cut lists to 20 items per level', async () => {
  const dir = join(await tempDir(), 'blk');
  const big = { items: Array.from({ length: 30 }, (_, i) => ({ i, inner: Array.from({ length: 25 }, (_x, j) => j) })) };
  await writeOutputs(dir, [{ a: 1, b: [1, 2] }, [1, 'x', null], 'text', 42, true, big]);
  assert.deepEqual(await readOutputs(dir), [{ a: 1, b: [1, 2] }, [1, 'x', null], 'text', 42, true, big]);
  assert.equal(existsSync(join(dir, 'output_0', 'type.json')), false);
  const sample = JSON.parse(await readFile(join(dir, 'output_5', 'sample_data.json'), 'utf8')) as typeof big;
  assert.equal(sample.items.length, 20);
  assert.equal(sample.items[0].inner.length, 20);
});

test('outputs are read in numeric order and the legacy <var>.json form is read', async () => {
  const dir = join(await tempDir(), 'blk');
  await writeOutputs(dir, Array.from({ length: 12 }, (_, i) => i));
  assert.deepEqual(await readOutputs(dir), Array.from({ length: 12 }, (_, i) => i));
  const legacy = join(await tempDir(), 'legacy');
  await mkdir(legacy);
  await writeFile(join(legacy, 'output_0.json'), JSON.stringify({ legacy: true }));
  assert.deepEqual(await readOutputs(legacy), [{ legacy: true }]);
  assert.deepEqual(await readOutputs(join(legacy, 'missing')), []);
});

test('toMageOutputJson converts bigint, dates, NaN and tables as Mage renders them', () => {
  assert.deepEqual(
    toMageOutputJson({ small: 5n, big: 2n ** 60n, when: new Date('2024-01-01T00:00:00Z'), nan: Number.NaN, inf: Infinity, nested: [undefined, new Map([['k', 1]])] }),
    { small: 5, big: '1152921504606846976', when: '2024-01-01T00:00:00.000Z', nan: null, inf: null, nested: [null, { k: 1 }] },
  );
  assert.deepEqual(toMageOutputJson(tableFromRows([{ x: 1 }])), [{ x: 1 }]);
});

test('output summaries are Mage display items', async () => {
  const dir = join(await tempDir(), 'blk');
  await writeOutputs(dir, [sampleTable(), { a: 1, b: 'x' }, [1, 2], 'hello', 7]);
  const items = await readOutputSummaries(dir, 2);
  assert.deepEqual(items[0], {
    type: 'table',
    variable_uuid: 'output_0',
    shape: [3, 5],
    sample_data: { columns: ['id', 'price', 'name', 'ok', 'at'], rows: [[1, 1.5, 'a', true, '2024-01-01T00:00:00.000Z'], [2, null, null, false, null]] },
  });
  assert.deepEqual(items[1], { type: 'table', variable_uuid: 'output_1', shape: [1, 2], sample_data: { columns: ['a', 'b'], rows: [[1, 'x']] } });
  assert.deepEqual(items[2], { type: 'text', variable_uuid: 'output_2', text_data: '[1,2]' });
  assert.deepEqual(items[3], { type: 'text', variable_uuid: 'output_3', text_data: 'hello' });
  assert.deepEqual(items[4], { type: 'text', variable_uuid: 'output_4', text_data: '7' });
});

test('Parquet written here is readable by DuckDB with its types', async () => {
  const dir = join(await tempDir(), 'blk');
  await writeOutputs(dir, [sampleTable()]);
  const types = await withConnection(async (c) => {
    const r = await c.run(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${sqlString(join(dir, 'output_0', 'data.parquet'))}))`);
    return (await r.getRows()).map((row) => `${String(row[0])}:${String(row[1])}`);
  });
  assert.deepEqual(types, ['id:BIGINT', 'price:DOUBLE', 'name:VARCHAR', 'ok:BOOLEAN', 'at:TIMESTAMP']);
});

test('Parquet written here is readable by pyarrow', async (t) => {
  const python = pyarrowPython();
  if (!python) {
    t.skip(`pyarrow is not installed in ${PYTHON_CANDIDATES.join(' or ')}`);
    return;
  }
  const dir = join(await tempDir(), 'blk');
  await writeOutputs(dir, [sampleTable()]);
  const out = execFileSync(python, ['-c', [
    'import pyarrow.parquet as pq, sys, json',
    't = pq.read_table(sys.argv[1])',
    'print(json.dumps({"types": [str(f.type) for f in t.schema], "ids": t.column("id").to_pylist(), "names": t.column("name").to_pylist()}))',
  ].join('\n'), join(dir, 'output_0', 'data.parquet')], { encoding: 'utf8' });
  const parsed = JSON.parse(out) as { types: string[]; ids: number[]; names: (string | null)[] };
  assert.deepEqual(parsed.types.slice(0, 4), ['int64', 'double', 'string', 'bool']);
  assert.match(parsed.types[4], /^timestamp\[(ms|us)\]$/);
  assert.deepEqual(parsed.ids, [1, 2, 3]);
  assert.deepEqual(parsed.names, ['a', null, 'ç']);
});

test('a 1,000,000-row table round trips, and the sample keeps 1000 rows', async () => {
  const n = 1_000_000;
  const ids = new BigInt64Array(n);
  const values = new Float64Array(n);
  const stamps = new BigInt64Array(n);
  const flags = new Uint8Array(Math.ceil(n / 8));
  for (let i = 0; i < n; i++) {
    ids[i] = BigInt(i);
    values[i] = i / 4;
    stamps[i] = BigInt(1_700_000_000_000 + i);
    if (i % 3 === 0) flags[i >> 3] |= 1 << (i & 7);
  }
  const labels = ['red', 'green', 'a much longer label than twelve bytes'];
  const table = new Table({
    id: makeVector(makeData({ type: new Int64(), length: n, data: ids })),
    value: makeVector(makeData({ type: new Float64(), length: n, data: values })),
    at: makeVector(makeData({ type: new TimestampMillisecond(), length: n, data: stamps })),
    flag: makeVector(makeData({ type: new Bool(), length: n, data: flags })),
    label: vectorFromArray(Array.from({ length: n }, (_, i) => labels[i % 3]), new Utf8()),
  });
  const dir = join(await tempDir(), 'big');
  await writeOutputs(dir, [table]);
  const [back] = (await readOutputs(dir)) as [Table];
  assert.equal(back.numRows, n);
  for (const i of [0, 1, 2, 999_999, 123_457]) {
    const row = back.get(i)?.toJSON() as Record<string, unknown>;
    assert.equal(row.id, BigInt(i));
    assert.equal(row.value, i / 4);
    assert.equal(row.at, 1_700_000_000_000 + i);
    assert.equal(row.flag, i % 3 === 0);
    assert.equal(row.label, labels[i % 3]);
  }
  const [summary] = await readOutputSummaries(dir, 5);
  assert.equal(summary.type, 'table');
  assert.deepEqual(summary.type === 'table' ? summary.shape : null, [n, 5]);
  const sampleRows = await withConnection(async (c) => {
    const r = await c.run(`SELECT count(*)::INTEGER FROM read_parquet(${sqlString(join(dir, 'output_0', 'sample_data.parquet'))})`);
    return (await r.getRows())[0][0];
  });
  assert.equal(sampleRows, 1000);
});

test('replacing outputs is atomic: a concurrent reader sees the old set or the new set, never a mix', async () => {
  const dir = join(await tempDir(), 'blk');
  const generation = (g: number) => [{ g }, { g }, sampleTable(), { g }];
  await writeOutputs(dir, generation(0));
  let stop = false;
  const seen = new Set<string>();
  const reader = (async () => {
    while (!stop) {
      const values = await readOutputs(dir);
      assert.equal(values.length, 4, 'a reader saw a partial set of outputs');
      const gens = [values[0], values[1], values[3]].map((v) => (v as { g: number }).g);
      assert.ok(gens.every((g) => g === gens[0]), `a reader saw mixed generations ${gens.join(',')}`);
      seen.add(String(gens[0]));
    }
  })();
  for (let g = 1; g <= 15; g++) await writeOutputs(dir, generation(g));
  stop = true;
  await reader;
  assert.deepEqual((await readOutputs(dir)).map((v, i) => (i === 2 ? null : (v as { g: number }).g)), [15, 15, null, 15]);
  assert.ok(seen.size >= 1);
  const leftovers = (await readdir(join(dir, '..'))).filter((name) => name !== 'blk');
  assert.deepEqual(leftovers, [], 'temp folders were left behind');
});

test('a failed write leaves the previous outputs untouched', async () => {
  const dir = join(await tempDir(), 'blk');
  await writeOutputs(dir, [{ keep: true }]);
  await assert.rejects(writeOutputs(dir, [{ ok: 1 }, () => 1]), /output_1 is a function/);
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  await assert.rejects(writeOutputs(dir, [circular]), /circular/);
  assert.deepEqual(await readOutputs(dir), [{ keep: true }]);
  assert.deepEqual((await readdir(join(dir, '..'))).sort(), ['blk']);
  await rm(join(dir, '..'), { recursive: true, force: true });
});
