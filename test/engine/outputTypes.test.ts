/**
 * Block outputs keep their type from one block to the next, as in Mage (mage-api.md §5.5, Mage's
 * variables/constants.py): real pipeline runs on a real store with real Python, DuckDB and TypeScript workers.
 * Python -> Python for every type (pandas DataFrame and Series, polars, numpy, dicts and lists holding arrays and
 * frames, datetimes, Decimals, sets and tuples, objects of a project class, generators); Python -> TypeScript and
 * Python -> SQL for the JSON-able and table types, and TypeScript/SQL -> Python and SQL -> TypeScript; the API's display items for Python-only types; and blocks whose
 * output cannot be stored fail naming its type. Python-side unit checks read folders laid out as Mage writes them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadProject, type Project } from '../../src/project/projectConfig.js';
import { openStore, type Store } from '../../src/store/db.js';
import { createEngineStack, type EngineStack } from '../../src/engine/stack.js';
import type { Engine } from '../../src/engine/engine.js';
import { runPartition } from '../../src/engine/executeBlock.js';
import { PYTHON_PACKAGE_DIR } from '../../src/runtimes/python/pool.js';
import { blockVariablesDir } from '../../src/variables/layout.js';
import { readOutputs, readOutputSummaries } from '../../src/variables/read.js';
import { buildProject, py, usePreparedPython, writePipeline, type TestBlock } from './projectBuilder.js';

usePreparedPython();

/** One Python -> Python round trip: `make` returns the value, `check` asserts on what it received and returns JSON. */
interface RoundTrip {
  name: string;
  imports: string;
  make: string;
  check: string;
  /** type.json of output_0 (null: plain JSON, no type.json). */
  kind: string | null;
  /** What `check` returns. */
  expected: unknown;
}

const ROUND_TRIPS: RoundTrip[] = [
  {
    name: 'pandas_frame',
    imports: 'import pandas as pd',
    make: `return pd.DataFrame({'id': [1, 2, 3], 'name': ['a', 'b', None], 'price': [1.5, float('nan'), 3.0]})`,
    check: `assert isinstance(x, pd.DataFrame), type(x)\n    assert str(x['id'].dtype) == 'int64'\n    return {'ids': x['id'].tolist(), 'name_missing': bool(pd.isna(x['name'][2])), 'price_nan': bool(pd.isna(x['price'][1]))}`,
    kind: 'dataframe',
    expected: { ids: [1, 2, 3], name_missing: true, price_nan: true },
  },
  {
    name: 'pandas_series',
    imports: 'import pandas as pd',
    make: `return pd.Series([1.5, 2.5], name='price', index=['x', 'y'])`,
    check: `assert isinstance(x, pd.Series), type(x)\n    return {'name': x.name, 'y': float(x['y']), 'index': list(x.index)}`,
    kind: 'series_pandas',
    expected: { name: 'price', y: 2.5, index: ['x', 'y'] },
  },
  {
    name: 'unnamed_series',
    imports: 'import pandas as pd',
    make: `return pd.Series([3, 4])`,
    check: `assert isinstance(x, pd.Series), type(x)\n    return {'name': x.name, 'values': x.tolist(), 'dtype': str(x.dtype)}`,
    kind: 'series_pandas',
    expected: { name: null, values: [3, 4], dtype: 'int64' },
  },
  {
    name: 'polars_frame',
    imports: 'import polars as pl',
    make: `return pl.DataFrame({'x': [1, 2, 3], 'label': ['a', 'b', 'c']})`,
    check: `assert isinstance(x, pl.DataFrame), type(x)\n    return {'sum': int(x['x'].sum()), 'labels': x['label'].to_list(), 'dtype': str(x.schema['x'])}`,
    kind: 'polars_dataframe',
    expected: { sum: 6, labels: ['a', 'b', 'c'], dtype: 'Int64' },
  },
  {
    name: 'numpy_matrix',
    imports: 'import numpy as np',
    make: `return np.arange(9, dtype='int32').reshape(3, 3)`,
    check: `assert isinstance(x, np.ndarray), type(x)\n    return {'diag': [int(x[i, i]) for i in range(3)], 'shape': list(x.shape), 'dtype': str(x.dtype)}`,
    kind: 'custom_object',
    expected: { diag: [0, 4, 8], shape: [3, 3], dtype: 'int32' },
  },
  {
    name: 'dict_of_arrays_and_frames',
    imports: 'import numpy as np\nimport pandas as pd',
    make: `return {'weights': np.array([0.5, 1.5]), 'frame': pd.DataFrame({'v': [1, 2]}), 'n': np.int64(2), 'tags': ['a']}`,
    check: `assert isinstance(x['weights'], np.ndarray) and isinstance(x['frame'], pd.DataFrame), x\n    assert isinstance(x['n'], np.int64)\n    return {'dot': float(x['weights'] @ np.array([2.0, 2.0])), 'v': x['frame']['v'].tolist(), 'tags': x['tags']}`,
    kind: 'dictionary_complex',
    expected: { dot: 4, v: [1, 2], tags: ['a'] },
  },
  {
    name: 'list_of_arrays_and_frames',
    imports: 'import numpy as np\nimport pandas as pd',
    // A returned list is split into outputs (as Mage): the outer list makes the inner one output_0.
    make: `return [[np.ones(2), pd.DataFrame({'k': [7]}), 'text']]`,
    check: `assert isinstance(x, list) and isinstance(x[0], np.ndarray) and isinstance(x[1], pd.DataFrame), x\n    return {'ones': x[0].tolist(), 'k': int(x[1]['k'][0]), 'text': x[2]}`,
    kind: 'list_complex',
    expected: { ones: [1, 1], k: 7, text: 'text' },
  },
  {
    name: 'aware_datetime',
    imports: 'import datetime',
    make: `return datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone.utc)`,
    check: `assert type(x) is datetime.datetime, type(x)\n    return {'iso': x.isoformat(), 'aware': x.tzinfo is not None}`,
    kind: 'custom_object',
    expected: { iso: '2024-05-06T07:08:09.123456+00:00', aware: true },
  },
  {
    name: 'dict_of_dates',
    imports: 'import datetime',
    make: `return {'day': datetime.date(2024, 1, 31), 'at': datetime.time(12, 30)}`,
    check: `assert type(x['day']) is datetime.date and type(x['at']) is datetime.time, x\n    return {'next': (x['day'] + datetime.timedelta(days=1)).isoformat(), 'at': x['at'].isoformat()}`,
    kind: 'dictionary_complex',
    expected: { next: '2024-02-01', at: '12:30:00' },
  },
  {
    name: 'decimal',
    imports: 'from decimal import Decimal',
    make: `return Decimal('12.30')`,
    check: `assert isinstance(x, Decimal), type(x)\n    return {'text': str(x), 'plus': str(x + Decimal('0.01'))}`,
    kind: 'custom_object',
    expected: { text: '12.30', plus: '12.31' },
  },
  {
    name: 'set_of_values',
    imports: '',
    make: `return {3, 1, 2}`,
    check: `assert isinstance(x, set), type(x)\n    return {'sorted': sorted(x)}`,
    kind: 'iterable',
    expected: { sorted: [1, 2, 3] },
  },
  {
    name: 'tuple_value',
    imports: '',
    // A returned tuple is split into outputs: the list around it makes the tuple output_0.
    make: `return [(1, 'a', None)]`,
    check: `assert isinstance(x, tuple), type(x)\n    return {'items': list(x)}`,
    kind: 'iterable',
    expected: { items: [1, 'a', null] },
  },
  {
    name: 'trained_model',
    imports: 'from models.mean_model import MeanModel',
    make: `return MeanModel().fit([2.0, 4.0, 6.0])`,
    check: `assert isinstance(x, MeanModel), type(x)\n    return {'prediction': x.predict([1, 2])}`,
    kind: 'custom_object',
    expected: { prediction: [4, 4] },
  },
  {
    name: 'generator',
    imports: '',
    // Mage consumes a generator into the list it yields; a list of three is three outputs.
    make: `return (n * n for n in range(3))`,
    check: `assert x == [0, 1, 4], x\n    return {'received': x}`,
    kind: null,
    expected: { received: [0, 1, 4] },
  },
  {
    name: 'plain_json',
    imports: '',
    make: `return {'a': [1, 2.5, 'x', None, True], 'b': {'c': 'd'}}`,
    check: `assert x == {'a': [1, 2.5, 'x', None, True], 'b': {'c': 'd'}}, x\n    return {'same': True}`,
    kind: null,
    expected: { same: true },
  },
];

const MEAN_MODEL = `class MeanModel:
    """A scikit-learn-like estimator: fit stores the mean, predict returns it for every row."""

    def __init__(self):
        self.mean_ = None

    def fit(self, values):
        self.mean_ = sum(values) / len(values)
        return self

    def predict(self, rows):
        return [self.mean_ for _ in rows]
`;

function roundTripBlocks(t: RoundTrip): TestBlock[] {
  const header = t.imports ? `${t.imports}\n\n` : '';
  return [
    { uuid: `make_${t.name}`, type: 'data_loader', code: py('data_loader', `${header}@data_loader\ndef make(*args, **kwargs):\n    ${t.make}`) },
    {
      uuid: `check_${t.name}`,
      type: 'transformer',
      upstream: [`make_${t.name}`],
      code: py('transformer', `${header}@transformer\ndef check(x, *args, **kwargs):\n    ${t.check}`),
    },
  ];
}

/** A TypeScript block that returns what it received, as JSON (Arrow tables as their rows). */
const TS_ECHO = `import type { BlockContext } from 'blockflow';

export default function echo(_ctx: BlockContext, input: unknown) {
  const value = input as { toArray?: () => unknown[]; numRows?: number };
  const plain = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x)));
  if (value && typeof value.toArray === 'function' && typeof value.numRows === 'number') {
    return { table: true, rows: plain(value.toArray().map((r) => ({ ...(r as object) }))) };
  }
  return { table: false, value: plain(input) };
}
`;

function pythonUnitCheck(source: string): string {
  return execFileSync(process.env.BLOCKFLOW_PYTHON as string, ['-c', source], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: PYTHON_PACKAGE_DIR },
  }).trim();
}

describe('output types', () => {
  let root: string;
  let project: Project;
  let store: Store;
  let stack: EngineStack;
  let engine: Engine;

  const run = async (pipelineUuid: string) => {
    const created = await engine.createRun({ pipelineUuid, variables: {} });
    const status = await engine.waitForRun(created.id);
    const rows = await store.blockRuns.listForRun(created.id);
    return {
      status,
      row: (await store.pipelineRuns.get(created.id))!,
      blocks: Object.fromEntries(rows.map((b) => [b.block_uuid, b.status])),
      errorOf: (uuid: string) => JSON.stringify(rows.find((b) => b.block_uuid === uuid)?.metrics ?? null),
    };
  };
  const blockDir = (row: Parameters<typeof runPartition>[0], pipelineUuid: string, block: string) =>
    blockVariablesDir(project.dataDir, pipelineUuid, runPartition(row), block);

  before(async () => {
    root = buildProject({}, { concurrency: 4 });
    mkdirSync(join(root, 'models'), { recursive: true });
    writeFileSync(join(root, 'models', '__init__.py'), '');
    writeFileSync(join(root, 'models', 'mean_model.py'), MEAN_MODEL);
    writePipeline(root, 'py_to_py', { blocks: ROUND_TRIPS.flatMap(roundTripBlocks) });

    const tsEcho = (uuid: string, upstream: string): TestBlock => ({ uuid, type: 'transformer', language: 'typescript', upstream: [upstream], code: TS_ECHO });
    const sqlCount = (uuid: string, upstream: string, sql: string): TestBlock => ({
      uuid,
      type: 'transformer',
      language: 'sql',
      upstream: [upstream],
      configuration: { data_provider: 'duckdb', data_provider_profile: 'default', export_write_policy: 'replace' },
      code: sql,
    });
    const pyLoader = (uuid: string, body: string): TestBlock => ({
      uuid,
      type: 'data_loader',
      code: py('data_loader', `import datetime\nimport numpy as np\nimport pandas as pd\nimport polars as pl\n\n@data_loader\ndef make(*args, **kwargs):\n    ${body}`),
    });
    writePipeline(root, 'py_to_others', {
      blocks: [
        pyLoader('frame', `return pd.DataFrame({'id': [1, 2], 'name': ['a', 'b']})`),
        pyLoader('series', `return pd.Series([10, 20], name='amount')`),
        pyLoader('polars', `return pl.DataFrame({'x': [1, 2, 3]})`),
        pyLoader('json_dict', `return {'a': 1, 'b': [True, None, 'x']}`),
        pyLoader('matrix', `return np.arange(4).reshape(2, 2)`),
        pyLoader('mixed_dict', `return {'n': np.int64(5), 'when': datetime.date(2024, 1, 2)}`),
        tsEcho('ts_frame', 'frame'),
        tsEcho('ts_series', 'series'),
        tsEcho('ts_polars', 'polars'),
        tsEcho('ts_json', 'json_dict'),
        tsEcho('ts_matrix', 'matrix'),
        tsEcho('ts_mixed', 'mixed_dict'),
        sqlCount('sql_frame', 'frame', 'SELECT count(*) AS k, max(name) AS top FROM {{ df_1 }}'),
        sqlCount('sql_series', 'series', 'SELECT sum(amount) AS total FROM {{ df_1 }}'),
        sqlCount('sql_polars', 'polars', 'SELECT sum(x) AS total FROM {{ df_1 }}'),
      ],
    });
    // The other way: what TypeScript and SQL blocks return reaches Python (and SQL) in the matching type.
    const tsLoader = (uuid: string, body: string): TestBlock => ({
      uuid,
      type: 'data_loader',
      language: 'typescript',
      code: `import type { BlockContext } from 'blockflow';\n\nexport default function load(_ctx: BlockContext) {\n  ${body}\n}\n`,
    });
    const pyCheck = (uuid: string, upstream: string, body: string): TestBlock => ({
      uuid,
      type: 'transformer',
      upstream: [upstream],
      code: py('transformer', `import pandas as pd\n\n@transformer\ndef check(x, *args, **kwargs):\n    ${body}`),
    });
    writePipeline(root, 'others_to_py', {
      blocks: [
        // One output holding rows (a bare list would be split into one output per entry, as Mage splits it).
        tsLoader('ts_rows', `return [[{ id: 1, name: 'a' }, { id: 2, name: 'b' }]];`),
        tsLoader('ts_object', `return { a: 1, b: [true, null, 'x'], nested: { c: 2.5 } };`),
        sqlCount('sql_rows', 'ts_rows', 'SELECT id * 10 AS tens, name FROM {{ df_1 }} ORDER BY id'),
        pyCheck('py_from_ts_rows', 'ts_rows', `assert isinstance(x, list) and x == [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}], repr(x)\n    return {'type': type(x).__name__, 'n': len(x)}`),
        pyCheck('py_from_ts_object', 'ts_object', `assert x == {'a': 1, 'b': [True, None, 'x'], 'nested': {'c': 2.5}}, repr(x)\n    return {'type': type(x).__name__}`),
        pyCheck('py_from_sql', 'sql_rows', `assert isinstance(x, pd.DataFrame), type(x)\n    return {'type': type(x).__name__, 'columns': list(x.columns), 'tens': [int(v) for v in x['tens']]}`),
        tsEcho('ts_from_sql', 'sql_rows'),
      ],
    });
    writePipeline(root, 'unstorable', {
      blocks: [
        pyLoader('lock_in_dict', `import threading\n    return {'lock': threading.Lock()}`),
        { uuid: 'after_lock', type: 'transformer', upstream: ['lock_in_dict'], code: py('transformer', `@transformer\ndef t(x, *args, **kwargs):\n    return x`) },
      ],
    });
    writePipeline(root, 'block_class', {
      blocks: [pyLoader('local_class', `class Local:\n        pass\n    return Local()`)],
    });
    writePipeline(root, 'failing_generator', {
      blocks: [pyLoader('gen_raises', `def rows():\n        yield 1\n        raise ValueError('source went away')\n    return rows()`)],
    });

    project = loadProject(root);
    store = await openStore({ url: `sqlite://${join(project.dataDir, 'output-types.db')}` });
    stack = await createEngineStack({ project, store, instanceId: 'output-types-test', env: {} });
    engine = stack.engine;
  });

  after(async () => {
    await stack?.close();
    await store?.close();
    if (root) rmSync(dirname(root), { recursive: true, force: true });
  });

  test('Python -> Python: every type reaches the downstream block as the upstream returned it', async () => {
    const r = await run('py_to_py');
    const failed = Object.entries(r.blocks).filter(([, s]) => s !== 'completed');
    assert.deepEqual(failed.map(([uuid]) => `${uuid}: ${r.errorOf(uuid)}`), []);
    assert.equal(r.status, 'completed');
    for (const t of ROUND_TRIPS) {
      const [checked] = await readOutputs(blockDir(r.row, 'py_to_py', `check_${t.name}`));
      assert.deepEqual(checked, t.expected, t.name);
      const out0 = join(blockDir(r.row, 'py_to_py', `make_${t.name}`), 'output_0');
      const typeFile = join(out0, 'type.json');
      if (t.kind === null) assert.ok(!existsSync(typeFile), `${t.name}: plain JSON has no type.json`);
      else assert.deepEqual(JSON.parse(readFileSync(typeFile, 'utf8')), { type: t.kind }, t.name);
    }
  });

  test('Python -> Python: pickled outputs use Mage file names beside a JSON rendering', async () => {
    const r = await run('py_to_py');
    assert.equal(r.status, 'completed');
    const files = (block: string) => readdirSync(join(blockDir(r.row, 'py_to_py', block), 'output_0')).sort();
    assert.deepEqual(files('make_numpy_matrix'), ['data.json', 'object.joblib', 'sample_data.json', 'type.json']);
    assert.deepEqual(files('make_trained_model'), ['data.json', 'object.joblib', 'sample_data.json', 'type.json']);
    assert.deepEqual(files('make_pandas_series'), ['data.parquet', 'data_column_types.json', 'sample_data.parquet', 'type.json']);
    // The generator's three items are three outputs.
    assert.deepEqual(readdirSync(blockDir(r.row, 'py_to_py', 'make_generator')).sort(), ['output_0', 'output_1', 'output_2']);
    // TypeScript-side readers get the renderings, and the API shows objects as text.
    const [matrix] = await readOutputs(blockDir(r.row, 'py_to_py', 'make_numpy_matrix'));
    assert.deepEqual(matrix, [[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
    const [model] = await readOutputSummaries(blockDir(r.row, 'py_to_py', 'make_trained_model'));
    assert.deepEqual(model, { type: 'text', variable_uuid: 'output_0', text_data: '<models.mean_model.MeanModel object>' });
    const [when] = await readOutputSummaries(blockDir(r.row, 'py_to_py', 'make_aware_datetime'));
    assert.deepEqual(when, { type: 'text', variable_uuid: 'output_0', text_data: '2024-05-06T07:08:09.123456+00:00' });
    const [series] = await readOutputSummaries(blockDir(r.row, 'py_to_py', 'make_pandas_series'));
    assert.equal(series.type, 'table');
    const [complex] = await readOutputSummaries(blockDir(r.row, 'py_to_py', 'make_dict_of_arrays_and_frames'));
    assert.equal(complex.type, 'table');
    assert.deepEqual((complex as { sample_data: { columns: string[] } }).sample_data.columns, ['weights', 'frame', 'n', 'tags']);
  });

  test('Python -> TypeScript and Python -> SQL: tables and JSON values arrive as tables and JSON', async () => {
    const r = await run('py_to_others');
    const failed = Object.entries(r.blocks).filter(([, s]) => s !== 'completed');
    assert.deepEqual(failed.map(([uuid]) => `${uuid}: ${r.errorOf(uuid)}`), []);
    const out = async (block: string) => (await readOutputs(blockDir(r.row, 'py_to_others', block)))[0];
    assert.deepEqual(await out('ts_frame'), { table: true, rows: [{ id: 1, name: 'a' }, { id: 2, name: 'b' }] });
    assert.deepEqual(await out('ts_series'), { table: true, rows: [{ amount: 10 }, { amount: 20 }] });
    assert.deepEqual(await out('ts_polars'), { table: true, rows: [{ x: 1 }, { x: 2 }, { x: 3 }] });
    assert.deepEqual(await out('ts_json'), { table: false, value: { a: 1, b: [true, null, 'x'] } });
    // Python-only values reach TypeScript as their JSON rendering.
    assert.deepEqual(await out('ts_matrix'), { table: false, value: [[0, 1], [2, 3]] });
    assert.deepEqual(await out('ts_mixed'), { table: false, value: { n: 5, when: '2024-01-02' } });
    const row = async (block: string) => JSON.parse(JSON.stringify(await readOutputSummaries(blockDir(r.row, 'py_to_others', block))))[0].sample_data;
    assert.deepEqual(await row('sql_frame'), { columns: ['k', 'top'], rows: [[2, 'b']] });
    assert.deepEqual(await row('sql_series'), { columns: ['total'], rows: [[30]] });
    assert.deepEqual(await row('sql_polars'), { columns: ['total'], rows: [[6]] });
  });

  test('TypeScript -> Python, SQL -> Python and SQL -> TypeScript: JSON values as JSON, query results as tables', async () => {
    const r = await run('others_to_py');
    const failed = Object.entries(r.blocks).filter(([, s]) => s !== 'completed');
    assert.deepEqual(failed.map(([uuid]) => `${uuid}: ${r.errorOf(uuid)}`), []);
    const out = async (block: string) => (await readOutputs(blockDir(r.row, 'others_to_py', block)))[0];
    assert.deepEqual(await out('py_from_ts_rows'), { type: 'list', n: 2 });
    assert.deepEqual(await out('py_from_ts_object'), { type: 'dict' });
    assert.deepEqual(await out('py_from_sql'), { type: 'DataFrame', columns: ['tens', 'name'], tens: [10, 20] });
    assert.deepEqual(await out('ts_from_sql'), { table: true, rows: [{ tens: 10, name: 'a' }, { tens: 20, name: 'b' }] });
  });

  test('an output that cannot be stored fails the block naming its type; nothing is stored', async () => {
    const r = await run('unstorable');
    assert.equal(r.status, 'failed');
    assert.equal(r.blocks.lock_in_dict, 'failed');
    assert.equal(r.blocks.after_lock, 'upstream_failed');
    const error = r.errorOf('lock_in_dict');
    assert.match(error, /output_0 is a dict that cannot be stored/);
    assert.match(error, /_thread\.lock/);
    assert.ok(!existsSync(blockDir(r.row, 'unstorable', 'lock_in_dict')), 'no output folder');
  });

  test('an object of a class defined in the block file fails with how to fix it', async () => {
    const r = await run('block_class');
    assert.equal(r.status, 'failed');
    assert.match(r.errorOf('local_class'), /Local that cannot be stored.*define it in a module of the project/);
  });

  test('a generator that raises while consumed fails the block with its error', async () => {
    const r = await run('failing_generator');
    assert.equal(r.status, 'failed');
    assert.match(r.errorOf('gen_raises'), /source went away/);
  });

  test('TypeScript readers: a Mage-written object without a JSON rendering is shown by its type, and refused as input', async () => {
    const dir = join(dirname(root), 'mage-object-only');
    mkdirSync(join(dir, 'output_0'), { recursive: true });
    writeFileSync(join(dir, 'output_0', 'type.json'), JSON.stringify({ type: 'model_sklearn' }));
    writeFileSync(join(dir, 'output_0', 'model.joblib'), Buffer.from([0x80, 0x04, 0x4e, 0x2e]));
    assert.deepEqual(await readOutputSummaries(dir), [{ type: 'text', variable_uuid: 'output_0', text_data: '<model_sklearn>' }]);
    await assert.rejects(readOutputs(dir), /Python model_sklearn with no JSON rendering: only Python blocks can read it/);
  });

  test('Python unit: folders as Mage writes them read back in type', () => {
    const dir = join(dirname(root), 'mage-written');
    const result = pythonUnitCheck(`
import json, os, joblib, numpy as np
from blockflow_runtime.variables import read_outputs
d = ${JSON.stringify(dir)}
def var(i, kind, files):
    p = os.path.join(d, f'output_{i}')
    os.makedirs(p)
    if kind:
        json.dump({'type': kind}, open(os.path.join(p, 'type.json'), 'w'))
    for name, value in files.items():
        if name.endswith('.joblib'):
            joblib.dump(value, os.path.join(p, name))
        else:
            json.dump(value, open(os.path.join(p, name), 'w'))
var(0, 'custom_object', {'object.joblib': np.eye(2), 'data.json': {'name': 'ndarray'}})
var(1, 'model_sklearn', {'model.joblib': {'coef': [1, 2]}, 'data.json': 'LinearRegression()'})
# Mage's dictionary_complex: nested keys flattened to a.b, each value's type named by its key path.
var(2, 'dictionary_complex', {
    'data.json': {'a': [1, 2], 'arr': [[1, 0], [0, 1]], 'frame': [{'v': 1}, {'v': 2}], 'cfg.depth': 3, 'pair': [1, 'x']},
    'data_column_types.json': {'a': {'name': 'list', 'module': 'builtins'}, 'arr': {'name': 'ndarray', 'module': 'numpy'},
                               'frame': {'name': 'DataFrame', 'module': 'pandas.core.frame'},
                               'cfg.depth': {'name': 'int', 'module': 'builtins'}, 'pair': {'name': 'tuple', 'module': 'builtins'}}})
var(3, 'iterable', {'data.json': [1, 2]})
var(4, None, {'data.json': {'x': 1}})
a, model, complex_, iterable, plain = read_outputs(d)
summary = {k: type(v).__name__ for k, v in complex_.items()}
print(json.dumps([type(a).__name__, float(a[1, 1]), model, summary, int(complex_['arr'][1, 1]),
                  complex_['frame']['v'].tolist(), complex_['cfg'], iterable, plain]))
`);
    assert.deepEqual(JSON.parse(result), [
      'ndarray', 1, { coef: [1, 2] },
      { a: 'list', arr: 'ndarray', frame: 'DataFrame', cfg: 'dict', pair: 'tuple' }, 1, [1, 2], { depth: 3 },
      [1, 2], { x: 1 },
    ]);
  });

  test('Python unit: without joblib, objects are stored as a plain pickle and read back', () => {
    const dir = join(dirname(root), 'no-joblib');
    const result = pythonUnitCheck(`
import sys
sys.modules['joblib'] = None  # import joblib now raises ImportError, as where it is not installed
import datetime, json, pickle, os
from decimal import Decimal
from blockflow_runtime.variables import read_outputs, write_outputs
d = ${JSON.stringify(dir)}
write_outputs(d, [Decimal('2.50'), {'at': datetime.date(2024, 3, 4)}])
with open(os.path.join(d, 'output_0', 'object.joblib'), 'rb') as f:
    raw = pickle.load(f)
value, nested = read_outputs(d)
print(json.dumps([type(raw).__name__, str(value), type(nested['at']).__name__]))
`);
    assert.deepEqual(JSON.parse(result), ['Decimal', '2.50', 'date']);
  });

  test('Python unit: which values are stored as plain JSON', () => {
    const result = pythonUnitCheck(`
import datetime, decimal, json, numpy as np
from blockflow_runtime.variables import variable_kind
Estimator = type('LinearRegression', (), {'__module__': 'sklearn.linear_model._base', 'fit': lambda self, x: self})
values = [None, 1, 1.5, float('nan'), 'x', [1, {'a': None}], {'a': [True]}, {1: 'a'}, (1,), {1}, [np.int64(1)],
          np.float64(1.0), datetime.date(2024, 1, 1), decimal.Decimal('1'), [[(1,)]], [object()], Estimator()]
print(json.dumps([variable_kind(v) for v in values]))
`);
    assert.deepEqual(JSON.parse(result), [
      null, null, null, null, null, null, null,
      'dictionary_complex', 'iterable', 'iterable', 'list_complex',
      'custom_object', 'custom_object', 'custom_object', 'list_complex', 'list_complex', 'model_sklearn',
    ]);
  });
});
