import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { BlockRunRequest, BlockRunResult, LogLine } from '../types.js';
import { PYTHON_PACKAGE_DIR, PythonRuntime } from './pool.js';
import { testPython } from './testPython.js';

const HEADER = `if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader
if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer
if 'data_exporter' not in globals():
    from mage_ai.data_preparation.decorators import data_exporter
if 'custom' not in globals():
    from mage_ai.data_preparation.decorators import custom
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test
`;

let projectRoot: string;
let dataDir: string;
let python: string;
let runtime: PythonRuntime;

function writeBlock(relativePath: string, body: string, withHeader = true): string {
  const file = join(projectRoot, relativePath);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, (withHeader ? HEADER : '') + body);
  return file;
}

function blockDir(blockUuid: string, pipelineUuid = 'pipe'): string {
  return join(dataDir, 'pipelines', pipelineUuid, '.variables', blockUuid);
}

function request(filePath: string, blockUuid: string, extra: Partial<BlockRunRequest> = {}): BlockRunRequest {
  return {
    projectRoot,
    dataDir,
    pipelineUuid: 'pipe',
    blockUuid,
    blockType: 'data_loader',
    language: 'python',
    filePath,
    mode: 'run',
    configuration: {},
    upstream: [],
    kwargs: {},
    outputDir: null,
    returnOutputs: false,
    runTests: true,
    ...extra,
  };
}

function assertOk(result: BlockRunResult): asserts result is Extract<BlockRunResult, { ok: true }> {
  if (!result.ok) assert.fail(`block failed: ${JSON.stringify(result.error, null, 2)}`);
}

function assertFailed(result: BlockRunResult): asserts result is Extract<BlockRunResult, { ok: false }> {
  assert.equal(result.ok, false, `expected a failure, got ${JSON.stringify(result)}`);
}

before(async () => {
  projectRoot = mkdtempSync(join(tmpdir(), 'blockflow-py-'));
  dataDir = join(projectRoot, 'mage_data');
  python = await testPython();
  runtime = new PythonRuntime({ python, size: 2, cwd: projectRoot });
  await runtime.warm();
});

after(async () => {
  await runtime?.close();
  if (projectRoot) rmSync(projectRoot, { recursive: true, force: true });
});

describe('PythonRuntime', () => {
  test('a Mage loader -> transformer -> exporter chain passes a DataFrame through parquet', async () => {
    const loader = writeBlock(
      'data_loaders/load_patients.py',
      `import pandas as pd

@data_loader
def load_data(*args, **kwargs):
    return pd.DataFrame({'id': [1, 2, 3], 'age': [30, 41, 52], 'name': ['a', 'b', 'c']})

@test
def test_output(output, *args) -> None:
    assert output is not None, 'The output is undefined'
`,
    );
    const transformer = writeBlock(
      'transformers/older.py',
      `@transformer
def transform(data, *args, **kwargs):
    assert type(data).__name__ == 'DataFrame', type(data)
    data['older'] = data['age'] + 10
    return data[data['age'] > 35]
`,
    );
    const exporter = writeBlock(
      'data_exporters/to_csv.py',
      `from mage_ai.io.file import FileIO
from mage_ai.settings.repo import get_repo_path
import os

@data_exporter
def export_data(df, *args, **kwargs):
    FileIO().export(df, os.path.join(get_repo_path(), 'out', 'older.csv'))
`,
    );
    assertOk(await runtime.run(request(loader, 'load_patients', { outputDir: blockDir('load_patients') })));
    const output0 = join(blockDir('load_patients'), 'output_0');
    assert.deepEqual(readdirSync(output0).sort(), ['data.parquet', 'data_column_types.json', 'sample_data.parquet', 'type.json']);
    assert.deepEqual(JSON.parse(readFileSync(join(output0, 'type.json'), 'utf8')), { type: 'dataframe' });
    assert.equal(JSON.parse(readFileSync(join(output0, 'data_column_types.json'), 'utf8')).age, 'int64');

    const transformed = await runtime.run(
      request(transformer, 'older', {
        blockType: 'transformer',
        upstream: [{ blockUuid: 'load_patients', variablesDir: blockDir('load_patients') }],
        outputDir: blockDir('older'),
        returnOutputs: true,
      }),
    );
    assertOk(transformed);
    assert.deepEqual(transformed.outputs, [
      [
        { id: 2, age: 41, name: 'b', older: 51 },
        { id: 3, age: 52, name: 'c', older: 62 },
      ],
    ]);
    assertOk(
      await runtime.run(
        request(exporter, 'to_csv', {
          blockType: 'data_exporter',
          upstream: [{ blockUuid: 'older', variablesDir: blockDir('older') }],
          outputDir: blockDir('to_csv'),
        }),
      ),
    );
    assert.equal(readFileSync(join(projectRoot, 'out', 'older.csv'), 'utf8'), 'id,age,name,older\n2,41,b,51\n3,52,c,62\n');
    assert.deepEqual(readdirSync(blockDir('to_csv')), []);
  });

  test('kwargs reach a function declaring **kwargs: kwargs.get, datetime execution_date, logger', async () => {
    const file = writeBlock(
      'data_loaders/by_patient.py',
      `@data_loader
def load_data(*args, **kwargs):
    kwargs['logger'].info('loading patient %s', kwargs.get('patient_id'))
    return {
        'patient_id': kwargs.get('patient_id'),
        'execution_date_type': type(kwargs['execution_date']).__name__,
        'year': kwargs['execution_date'].year,
        'block_uuid': kwargs['block_uuid'],
        'missing': kwargs.get('nope', 'default'),
    }
`,
    );
    const logs: LogLine[] = [];
    const result = await runtime.run(
      request(file, 'by_patient', {
        kwargs: { patient_id: 'P-17', execution_date: '2024-03-05T10:00:00+00:00' },
        returnOutputs: true,
        onLog: (line) => logs.push(line),
      }),
    );
    assertOk(result);
    assert.deepEqual(result.outputs, [
      { patient_id: 'P-17', execution_date_type: 'datetime', year: 2024, block_uuid: 'by_patient', missing: 'default' },
    ]);
    assert.ok(logs.some((l) => l.level === 'INFO' && l.message === 'loading patient P-17'));
  });

  test('a function without **kwargs is called with positional inputs only', async () => {
    const file = writeBlock('transformers/no_kwargs.py', `@transformer\ndef transform(data):\n    return data * 2\n`);
    const result = await runtime.run(
      request(file, 'no_kwargs', { inlineInputs: [21], kwargs: { a: 1 }, returnOutputs: true }),
    );
    assertOk(result);
    assert.deepEqual(result.outputs, [42]);
  });

  test('a returned tuple splits into output_0 and output_1, read back as a list downstream', async () => {
    const file = writeBlock('data_loaders/pair.py', `@data_loader\ndef load(*args, **kwargs):\n    return {'a': 1}, [1, 2, 3]\n`);
    const result = await runtime.run(request(file, 'pair', { outputDir: blockDir('pair') }));
    assertOk(result);
    assert.equal(result.outputCount, 2);
    assert.deepEqual(JSON.parse(readFileSync(join(blockDir('pair'), 'output_0', 'data.json'), 'utf8')), { a: 1 });
    assert.deepEqual(JSON.parse(readFileSync(join(blockDir('pair'), 'output_1', 'data.json'), 'utf8')), [1, 2, 3]);
    const downstream = writeBlock(
      'transformers/uses_pair.py',
      `@transformer\ndef transform(pair, *args, **kwargs):\n    first, second = pair\n    return first['a'] + sum(second)\n`,
    );
    const next = await runtime.run(
      request(downstream, 'uses_pair', { upstream: [{ blockUuid: 'pair', variablesDir: blockDir('pair') }], returnOutputs: true }),
    );
    assertOk(next);
    assert.deepEqual(next.outputs, [7]);
    const reader = writeBlock(
      'custom/reads_variable.py',
      `from mage_ai.data_preparation.variable_manager import get_variable\n@custom\ndef run(*args, **kwargs):\n    return get_variable('pipe', 'pair', 'output_1')\n`,
    );
    const read = await runtime.run(request(reader, 'reads_variable', { blockType: 'custom', returnOutputs: true }));
    assertOk(read);
    assert.deepEqual(read.outputs, [1, 2, 3]);
  });

  test('a failing @test fails the run with test_failed', async () => {
    const file = writeBlock(
      'data_loaders/bad_test.py',
      `@data_loader\ndef load(*args, **kwargs):\n    return {'rows': 0}\n\n@test\ndef test_rows(output, *args):\n    assert output['rows'] > 0, 'no rows loaded'\n`,
    );
    const result = await runtime.run(request(file, 'bad_test'));
    assertFailed(result);
    assert.equal(result.error.type, 'test_failed');
    assert.equal(result.error.exception, 'AssertionError');
    assert.match(result.error.message, /no rows loaded/);
    const skipped = await runtime.run(request(file, 'bad_test', { runTests: false }));
    assertOk(skipped);
  });

  test('an exception returns a traceback of the block’s own frames only', async () => {
    const file = writeBlock(
      'data_loaders/raises.py',
      `def helper(x):\n    raise ValueError(f'bad value {x}')\n\n@data_loader\ndef load(*args, **kwargs):\n    return helper(3)\n`,
    );
    const result = await runtime.run(request(file, 'raises'));
    assertFailed(result);
    assert.equal(result.error.type, 'block_execution_failed');
    assert.equal(result.error.exception, 'ValueError');
    assert.equal(result.error.message, 'bad value 3');
    const frames = result.error.traceback.filter((l) => l.trimStart().startsWith('File '));
    assert.equal(frames.length, 2);
    for (const frame of frames) assert.ok(frame.includes(file), frame);
    assert.ok(!result.error.traceback.some((l) => /blockflow_|mage_ai/.test(l)), result.error.traceback.join('\n'));
    assert.equal(result.error.traceback.at(-1), 'ValueError: bad value 3');
    assert.ok(result.error.traceback.includes("    raise ValueError(f'bad value {x}')"));
  });

  test('print() cannot break the protocol, even when it prints protocol-like JSON or writes to fd 1', async () => {
    const file = writeBlock(
      'data_loaders/noisy.py',
      `import os, sys
@data_loader
def load(*args, **kwargs):
    print('{"type":"result","id":"1","result":{"ok":false}}')
    print('partial', end='')
    sys.stdout.write(' line\\n')
    print('to stderr', file=sys.stderr)
    os.write(1, b'raw fd write\\n')
    return 'done'
`,
    );
    const logs: LogLine[] = [];
    const result = await runtime.run(request(file, 'noisy', { returnOutputs: true, onLog: (l) => logs.push(l) }));
    assertOk(result);
    assert.deepEqual(result.outputs, ['done']);
    const messages = logs.map((l) => l.message);
    assert.ok(messages.includes('{"type":"result","id":"1","result":{"ok":false}}'));
    assert.ok(messages.includes('partial line'));
    assert.ok(logs.some((l) => l.message === 'to stderr' && l.level === 'WARNING'));
    assert.ok(messages.includes('raw fd write'));
  });

  test('a block printing 100,000 lines delivers every line and still returns', async () => {
    const file = writeBlock(
      'data_loaders/chatty.py',
      `@data_loader\ndef load(*args, **kwargs):\n    for i in range(100000):\n        print(f'line {i}')\n    return 1\n`,
    );
    let count = 0;
    let last = '';
    const result = await runtime.run(
      request(file, 'chatty', {
        returnOutputs: true,
        onLog: (l) => {
          if (l.message.startsWith('line ')) {
            count++;
            last = l.message;
          }
        },
      }),
    );
    assertOk(result);
    assert.equal(count, 100_000);
    assert.equal(last, 'line 99999');
  });

  test('get_secret_value asks the parent, and io_config.yaml renders env_var and mage_secret_var', async () => {
    writeFileSync(
      join(projectRoot, 'io_config.yaml'),
      `version: 0.1.1
default:
  POSTGRES_DBNAME: {{ env_var('BF_TEST_DB') }}
  POSTGRES_PASSWORD: "{{ mage_secret_var('pg_password') }}"
  POSTGRES_HOST: 127.0.0.1
  POSTGRES_PORT: 5432
`,
    );
    const file = writeBlock(
      'data_loaders/secret.py',
      `from mage_ai.data_preparation.shared.secrets import get_secret_value
from mage_ai.io.config import ConfigFileLoader, ConfigKey
from mage_ai.settings.repo import get_repo_path
from os import path

@data_loader
def load(*args, **kwargs):
    config = ConfigFileLoader(path.join(get_repo_path(), 'io_config.yaml'), 'default')
    return {
        'api_key': get_secret_value('api_key'),
        'missing': get_secret_value('nope'),
        'db': config[ConfigKey.POSTGRES_DBNAME],
        'password': config['POSTGRES_PASSWORD'],
        'port': config[ConfigKey.POSTGRES_PORT],
    }
`,
    );
    const asked: string[] = [];
    const result = await runtime.run(
      request(file, 'secret', {
        returnOutputs: true,
        env: { BF_TEST_DB: 'from_env' },
        getSecret: async (name) => {
          asked.push(name);
          return ({ api_key: 'k-123', pg_password: 'pw' } as Record<string, string>)[name];
        },
      }),
    );
    assertOk(result);
    assert.deepEqual(result.outputs, [{ api_key: 'k-123', missing: null, db: 'from_env', password: 'pw', port: 5432 }]);
    assert.deepEqual(asked.sort(), ['api_key', 'nope', 'pg_password']);
  });

  test('returnOutputs gives Mage output shapes: DataFrame rows (NaN -> null, ISO timestamps), dict, list, None', async () => {
    const frame = writeBlock(
      'data_loaders/frame.py',
      `import pandas as pd, numpy as np
@data_loader
def load(*args, **kwargs):
    return pd.DataFrame({'x': [1.5, np.nan], 't': [pd.Timestamp('2024-01-02 03:04:05'), pd.NaT], 's': ['a', None]})
`,
    );
    const dict = writeBlock('data_loaders/dict.py', `@data_loader\ndef load(*args, **kwargs):\n    return {'a': float('nan'), 'b': [1]}\n`);
    const list = writeBlock('data_loaders/list.py', `@data_loader\ndef load(*args, **kwargs):\n    return [1, {'k': 'v'}]\n`);
    const none = writeBlock('data_loaders/none.py', `@data_loader\ndef load(*args, **kwargs):\n    pass\n`);
    const shapes = await Promise.all(
      [frame, dict, list, none].map((f, i) => runtime.run(request(f, `shape${i}`, { returnOutputs: true, outputDir: blockDir(`shape${i}`) }))),
    );
    shapes.forEach((r) => assertOk(r));
    const [f, d, l, n] = shapes as Extract<BlockRunResult, { ok: true }>[];
    assert.deepEqual(f.outputs, [
      [
        { x: 1.5, t: '2024-01-02T03:04:05', s: 'a' },
        { x: null, t: null, s: null },
      ],
    ]);
    assert.deepEqual(d.outputs, [{ a: null, b: [1] }]);
    assert.deepEqual(l.outputs, [1, { k: 'v' }]);
    assert.equal(l.outputCount, 2);
    assert.deepEqual(n.outputs, []);
    assert.equal(n.outputCount, 0);
  });

  test('condition mode ANDs every @condition function over the inline inputs', async () => {
    const file = writeBlock(
      'conditionals/check.py',
      `if 'condition' not in globals():
    from mage_ai.data_preparation.decorators import condition

@condition
def positive(value, *args, **kwargs) -> bool:
    return value > 0

@condition
def small(value, *args, **kwargs) -> bool:
    return value < kwargs.get('limit', 10)
`,
      false,
    );
    const yes = await runtime.run(request(file, 'check', { mode: 'condition', blockType: 'conditional', inlineInputs: [5] }));
    assertOk(yes);
    assert.equal(yes.conditionResult, true);
    const no = await runtime.run(
      request(file, 'check', { mode: 'condition', blockType: 'conditional', inlineInputs: [5], kwargs: { limit: 3 } }),
    );
    assertOk(no);
    assert.equal(no.conditionResult, false);
  });

  test('on_success and on_failure call the matching callback functions', async () => {
    const marker = join(projectRoot, 'callback-marker.txt');
    const file = writeBlock(
      'callbacks/notify.py',
      `if 'callback' not in globals():
    from mage_ai.data_preparation.decorators import callback

@callback('success')
def succeeded(parent_block_data, **kwargs):
    open(${JSON.stringify(marker)}, 'a').write('success:' + str(parent_block_data['n']) + '\\n')

@callback('failure')
def failed(parent_block_data, **kwargs):
    open(${JSON.stringify(marker)}, 'a').write('failure\\n')
`,
      false,
    );
    const result = await runtime.run(
      request(file, 'notify', { mode: 'on_success', blockType: 'callback', kwargs: { parent_block_data: { n: 4 } } }),
    );
    assertOk(result);
    assert.equal(readFileSync(marker, 'utf8'), 'success:4\n');
  });

  test('a sensor is re-invoked every poke_interval until it returns truthy', async () => {
    const counter = join(projectRoot, 'sensor-count.txt');
    const file = writeBlock(
      'sensors/wait.py',
      `if 'sensor' not in globals():
    from mage_ai.data_preparation.decorators import sensor
import os

@sensor
def check(*args, **kwargs) -> bool:
    path = ${JSON.stringify(counter)}
    n = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, 'w').write(str(n))
    return n >= 3
`,
      false,
    );
    const result = await runtime.run(request(file, 'wait', { blockType: 'sensor', configuration: { poke_interval: 0.01 } }));
    assertOk(result);
    assert.equal(readFileSync(counter, 'utf8'), '3');
  });

  test('a 1,000,000-row DataFrame output is written to parquet and read by the next block', async () => {
    const loader = writeBlock(
      'data_loaders/big.py',
      `import numpy as np, pandas as pd
@data_loader
def load(*args, **kwargs):
    n = 1_000_000
    return pd.DataFrame({'id': np.arange(n), 'v': np.arange(n) * 0.5, 'k': np.arange(n) % 7})
`,
    );
    const result = await runtime.run(request(loader, 'big', { outputDir: blockDir('big') }));
    assertOk(result);
    assert.equal(result.outputCount, 1);
    assert.ok(existsSync(join(blockDir('big'), 'output_0', 'data.parquet')));
    const reader = writeBlock(
      'transformers/count_big.py',
      `@transformer\ndef t(df, *args, **kwargs):\n    return {'rows': len(df), 'sum_k': int(df['k'].sum())}\n`,
    );
    const counted = await runtime.run(
      request(reader, 'count_big', { upstream: [{ blockUuid: 'big', variablesDir: blockDir('big') }], returnOutputs: true }),
    );
    assertOk(counted);
    assert.deepEqual(counted.outputs, [{ rows: 1_000_000, sum_k: Array.from({ length: 1_000_000 }, (_, i) => i % 7).reduce((a, b) => a + b, 0) }]);
  });

  test('a timeout kills the worker, answers timeout, and the pool replaces the worker', async () => {
    const file = writeBlock('data_loaders/slow.py', `import time\n@data_loader\ndef load(*args, **kwargs):\n    time.sleep(60)\n`);
    const before = runtime.workerPids;
    const result = await runtime.run(request(file, 'slow', { timeoutMs: 200 }));
    assertFailed(result);
    assert.equal(result.error.type, 'timeout');
    const quick = writeBlock('data_loaders/quick.py', `@data_loader\ndef load(*args, **kwargs):\n    return 1\n`);
    const results = await Promise.all([0, 1, 2].map(() => runtime.run(request(quick, 'quick', { returnOutputs: true }))));
    results.forEach((r) => assertOk(r));
    assert.equal(runtime.workerPids.length, 2);
    assert.notDeepEqual(runtime.workerPids.sort(), before.sort());
  });

  test('aborting the signal cancels a running block', async () => {
    const file = writeBlock(
      'data_loaders/forever.py',
      `import time\n@data_loader\ndef load(*args, **kwargs):\n    print('started')\n    while True:\n        time.sleep(0.05)\n`,
    );
    const controller = new AbortController();
    const result = await runtime.run(
      request(file, 'forever', {
        signal: controller.signal,
        onLog: (l) => {
          if (l.message === 'started') controller.abort();
        },
      }),
    );
    assertFailed(result);
    assert.equal(result.error.type, 'cancelled');
    const aborted = new AbortController();
    aborted.abort();
    const early = await runtime.run(request(file, 'forever', { signal: aborted.signal }));
    assertFailed(early);
    assert.equal(early.error.type, 'cancelled');
  });

  test('a worker that dies mid-request yields a clear error and is replaced', async () => {
    const file = writeBlock('data_loaders/crash.py', `import os\n@data_loader\ndef load(*args, **kwargs):\n    os._exit(3)\n`);
    const result = await runtime.run(request(file, 'crash'));
    assertFailed(result);
    assert.equal(result.error.exception, 'WorkerCrashed');
    assert.match(result.error.message, /crash.*exited unexpectedly \(exit code 3\)/);
    const ok = writeBlock('data_loaders/after_crash.py', `@data_loader\ndef load(*args, **kwargs):\n    return 'alive'\n`);
    const next = await runtime.run(request(ok, 'after_crash', { returnOutputs: true }));
    assertOk(next);
    assert.deepEqual(next.outputs, ['alive']);
  });
});

describe('PythonRuntime with one worker', () => {
  let single: PythonRuntime;
  before(async () => {
    single = new PythonRuntime({ python, size: 1, cwd: projectRoot });
    await single.warm();
  });
  after(async () => {
    await single?.close();
  });

  test('a global set by one block is invisible to the next block on the same worker', async () => {
    const setter = writeBlock(
      'data_loaders/sets_global.py',
      `LEAKED = 'from setter'\n@data_loader\ndef load(*args, **kwargs):\n    globals()['ALSO_LEAKED'] = 1\n    return 'set'\n`,
    );
    const reader = writeBlock(
      'data_loaders/reads_global.py',
      `@data_loader\ndef load(*args, **kwargs):\n    return sorted(n for n in ('LEAKED', 'ALSO_LEAKED') if n in globals())\n`,
    );
    const pid = single.workerPids[0];
    assertOk(await single.run(request(setter, 'sets_global')));
    const result = await single.run(request(reader, 'reads_global', { returnOutputs: true }));
    assertOk(result);
    assert.deepEqual(single.workerPids, [pid]);
    assert.deepEqual(result.outputs, []);
  });

  test('project helper modules are imported afresh for each block, so edits are seen', async () => {
    writeBlock('utils/helper.py', `VALUE = 1\n`, false);
    const file = writeBlock('data_loaders/uses_helper.py', `from utils.helper import VALUE\n@data_loader\ndef load(*args, **kwargs):\n    return VALUE\n`);
    const first = await single.run(request(file, 'uses_helper', { returnOutputs: true }));
    assertOk(first);
    writeBlock('utils/helper.py', `VALUE = 22\n`, false);
    const second = await single.run(request(file, 'uses_helper', { returnOutputs: true }));
    assertOk(second);
    assert.deepEqual([first.outputs, second.outputs], [[1], [22]]);
  });
});

/** True while `pid` is a running process (a zombie waiting for its reaper counts as gone). */
function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `condition` until it holds; fails after a generous liveness bound. */
async function eventually(what: string, condition: () => boolean, boundMs = 15_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`not within ${boundMs / 1000} s: ${what}`);
    await sleep(50);
  }
}

describe('PythonRuntime recycling', () => {
  let pidBlock: string;
  before(() => {
    pidBlock = writeBlock('data_loaders/recycle_pid.py', `import os\n@data_loader\ndef load(*args, **kwargs):\n    return os.getpid()\n`);
  });

  async function pidOf(pool: PythonRuntime): Promise<number> {
    const result = await pool.run(request(pidBlock, 'recycle_pid', { returnOutputs: true }));
    assertOk(result);
    return result.outputs![0] as number;
  }

  test('options out of range are rejected with a clear error', () => {
    assert.throws(() => new PythonRuntime({ python, maxRequestsPerWorker: -1 }), /maxRequestsPerWorker must be a positive integer, got -1/);
    assert.throws(() => new PythonRuntime({ python, size: 0 }), /size must be a positive integer, got 0/);
    assert.throws(() => new PythonRuntime({ python, recycleJitter: 2 }), /recycleJitter must be between 0 and 1, got 2/);
  });

  test('a worker past its limit keeps serving while its replacement starts, then exits; no request waits for a spawn', async () => {
    const pool = new PythonRuntime({ python, size: 1, maxRequestsPerWorker: 3, recycleJitter: 0, cwd: projectRoot });
    try {
      await pool.warm();
      const [oldPid] = pool.workerPids;
      const pids: number[] = [];
      let mostProcesses = 0;
      const deadline = Date.now() + 60_000;
      // One request after another until the replacement has taken over.
      while ((pids.length === 0 || pids.at(-1) === oldPid) && Date.now() < deadline) {
        pids.push(await pidOf(pool));
        mostProcesses = Math.max(mostProcesses, pool.workerPids.length);
      }
      const newPid = pids.at(-1)!;
      assert.notEqual(newPid, oldPid, 'the replacement never took over');
      const servedByOld = pids.indexOf(newPid);
      // The 4th request arrives the moment the worker reaches its limit: the old worker serves it, since the
      // replacement is still importing pandas.
      assert.ok(servedByOld >= 4, `the old worker served ${servedByOld} requests`);
      assert.deepEqual(pids.slice(0, servedByOld), Array(servedByOld).fill(oldPid));
      assert.equal(mostProcesses, 2, 'one extra process during the replacement, never more');
      assert.deepEqual(pool.stats, { spawned: 2, recycled: 1, waitedForSpawn: 0 });
      await eventually(`the recycled worker ${oldPid} exits`, () => !processRunning(oldPid));
      assert.deepEqual(pool.workerPids, [newPid]);
      assert.equal(await pidOf(pool), newPid);
    } finally {
      await pool.close();
    }
  });

  test('under concurrent load both workers recycle one at a time, every request succeeds and none waits for a spawn', async () => {
    const pool = new PythonRuntime({ python, size: 2, maxRequestsPerWorker: 3, recycleJitter: 0, cwd: projectRoot });
    try {
      await pool.warm();
      const original = pool.workerPids;
      let mostProcesses = 0;
      let served = 0;
      const deadline = Date.now() + 60_000;
      const client = async (): Promise<void> => {
        while (pool.stats.recycled < 2 && Date.now() < deadline) {
          await pidOf(pool);
          served++;
          mostProcesses = Math.max(mostProcesses, pool.workerPids.length);
        }
      };
      await Promise.all([client(), client(), client(), client()]);
      assert.ok(pool.stats.recycled >= 2, `only ${pool.stats.recycled} recycles after ${served} requests`);
      assert.equal(pool.stats.waitedForSpawn, 0);
      assert.ok(mostProcesses <= 3, `${mostProcesses} processes for a pool of 2`);
      for (const pid of original) await eventually(`the recycled worker ${pid} exits`, () => !processRunning(pid));
      await eventually('the pool is back to 2 workers', () => pool.workerPids.length === 2);
      assert.ok(pool.workerPids.every((pid) => !original.includes(pid)));
    } finally {
      await pool.close();
    }
  });

  test('a request that finds no ready worker is counted as waiting for a spawn', async () => {
    const pool = new PythonRuntime({ python, size: 1, cwd: projectRoot });
    try {
      await pidOf(pool);
      assert.deepEqual(pool.stats, { spawned: 1, recycled: 0, waitedForSpawn: 1 });
    } finally {
      await pool.close();
    }
  });
});

describe('Python worker without its parent', () => {
  test('a worker whose parent is SIGKILLed mid-block exits promptly, with the block’s subprocesses', async () => {
    const block = writeBlock(
      'data_loaders/sleeps.py',
      `import subprocess, time
@data_loader
def load(*args, **kwargs):
    child = subprocess.Popen(['sleep', '30'])
    print(f'sleeping with child {child.pid}')
    time.sleep(30)
`,
    );
    const script = join(projectRoot, 'pool-parent.mjs');
    writeFileSync(
      script,
      `const { PythonRuntime } = await import(${JSON.stringify(pathToFileURL(join(PYTHON_PACKAGE_DIR, '..', 'src', 'runtimes', 'python', 'pool.ts')).href)});
const [python, cwd, requestJson] = process.argv.slice(2);
const pool = new PythonRuntime({ python, size: 1, cwd });
await pool.warm();
void pool.run({
  ...JSON.parse(requestJson),
  onLog: (line) => {
    const match = /^sleeping with child (\\d+)$/.exec(line.message);
    if (match) console.log(JSON.stringify({ worker: pool.workerPids[0], child: Number(match[1]) }));
  },
});
`,
    );
    const parent = spawn(process.execPath, ['--import', 'tsx', script, python, projectRoot, JSON.stringify(request(block, 'sleeps'))], {
      cwd: join(PYTHON_PACKAGE_DIR, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const parentExited = new Promise<void>((resolveExit) => parent.once('exit', () => resolveExit()));
    let pids: { worker: number; child: number } | undefined;
    try {
      pids = await new Promise<{ worker: number; child: number }>((resolveLine, reject) => {
        const timer = setTimeout(() => reject(new Error('the intermediate process never started the block')), 60_000);
        createInterface({ input: parent.stdout! }).once('line', (line) => {
          clearTimeout(timer);
          resolveLine(JSON.parse(line) as { worker: number; child: number });
        });
        parent.once('exit', (code) => reject(new Error(`the intermediate process exited early (${code})`)));
      });
      assert.ok(processRunning(pids.worker) && processRunning(pids.child));
      parent.kill('SIGKILL');
      await parentExited;
      await eventually(`the worker ${pids.worker} exits after its parent died`, () => !processRunning(pids!.worker), 10_000);
      await eventually(`the block's subprocess ${pids.child} exits with the worker`, () => !processRunning(pids!.child), 10_000);
    } finally {
      parent.kill('SIGKILL');
      for (const pid of [pids?.worker, pids?.child]) {
        if (pid !== undefined && processRunning(pid)) process.kill(pid, 'SIGKILL');
      }
    }
  });
});
