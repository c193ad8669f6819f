/**
 * The run engine end to end on a real SQLite store with real Python, DuckDB and TypeScript workers: Mage's
 * status rules, the calling convention, outputs and logs on disk, retries, block and run timeouts, cancel
 * (the code really stops), conditions and callbacks, concurrency limits, large logs and large outputs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadProject, type Project } from '../../src/project/projectConfig.js';
import { openStore, type Store } from '../../src/store/db.js';
import { createEngineStack, type EngineStack } from '../../src/engine/stack.js';
import type { Engine, EngineEvent } from '../../src/engine/engine.js';
import { runPartition } from '../../src/engine/executeBlock.js';
import { blockLogPath, pipelineLogPath } from '../../src/engine/logs.js';
import { blockVariablesDir } from '../../src/variables/layout.js';
import { readOutputs, readOutputSummaries } from '../../src/variables/read.js';
import { buildProject, py, usePreparedPython, writePipeline } from './projectBuilder.js';
import { waitFor } from '../helpers/wait.js';
import { mageEnv } from '../../src/engine/kwargs.js';

usePreparedPython();

const MAGE_LOG_LINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2} \{.*\}$/;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('run engine', () => {
  let root: string;
  let project: Project;
  let store: Store;
  let stack: EngineStack;
  let engine: Engine;
  let marks: string;

  const statuses = async (runId: number) =>
    Object.fromEntries((await store.blockRuns.listForRun(runId)).map((b) => [b.block_uuid, b.status]));
  const run = async (pipelineUuid: string, variables: Record<string, unknown> = {}, scheduleId?: number) => {
    const created = await engine.createRun({ pipelineUuid, variables, scheduleId });
    const status = await engine.waitForRun(created.id);
    return { id: created.id, status, blocks: await statuses(created.id), row: (await store.pipelineRuns.get(created.id))! };
  };
  const outputsOf = async (runId: number, pipelineUuid: string, block: string) => {
    const row = (await store.pipelineRuns.get(runId))!;
    return readOutputs(blockVariablesDir(project.dataDir, pipelineUuid, runPartition(row), block));
  };
  const logOf = async (runId: number, pipelineUuid: string, block: string) => {
    const row = (await store.pipelineRuns.get(runId))!;
    return readFileSync(blockLogPath(project.dataDir, pipelineUuid, runPartition(row), block), 'utf8');
  };

  before(async () => {
    root = buildProject({}, { concurrency: 4 });
    marks = join(dirname(root), 'marks');
    const q = JSON.stringify(marks);
    writePipeline(root, 'etl_pandas', {
      variables: { multiplier: 3 },
      blocks: [
        {
          uuid: 'load',
          type: 'data_loader',
          code: py('data_loader', `import pandas as pd\n\n@data_loader\ndef load(*args, **kwargs):\n    return pd.DataFrame({'id': [1, 2, 3, 4], 'value': [10, 20, 30, 40]})\n\n@test\ndef test_rows(output, *args):\n    assert len(output) == 4`),
        },
        {
          uuid: 'double',
          type: 'transformer',
          upstream: ['load'],
          code: py('transformer', `@transformer\ndef t(df, *args, **kwargs):\n    df = df.copy()\n    df['value'] = df['value'] * 2\n    return df`),
        },
        {
          uuid: 'scale',
          type: 'transformer',
          upstream: ['load'],
          code: py('transformer', `@transformer\ndef t(df, *args, **kwargs):\n    df = df.copy()\n    df['value'] = df['value'] * kwargs['multiplier']\n    return df`),
        },
        {
          uuid: 'export',
          type: 'data_exporter',
          upstream: ['double', 'scale'],
          code: py('data_exporter', `@data_exporter\ndef e(a, b, *args, **kwargs):\n    kwargs['logger'].info('exporting %d rows', len(a) + len(b))\n    return {'doubled': int(a['value'].sum()), 'scaled': int(b['value'].sum()), 'rows': len(a) + len(b)}`),
        },
      ],
    });
    writePipeline(root, 'kwargs_check', {
      variables: { region: 'global', only_global: 'g' },
      blocks: [
        {
          uuid: 'show',
          type: 'custom',
          code: py('custom', `@custom\ndef show(*args, **kwargs):\n    keys = ['region', 'only_global', 'ds', 'hr', 'env', 'pipeline_uuid', 'block_uuid', 'execution_partition', 'pipeline_run_id', 'trigger_name', 'configuration']\n    out = {k: kwargs.get(k) for k in keys}\n    out['execution_date_type'] = type(kwargs['execution_date']).__name__\n    out['has_logger'] = kwargs.get('logger') is not None\n    out['event'] = kwargs.get('event')\n    return out`),
          configuration: { answer: 42 },
        },
        {
          uuid: 'pair',
          type: 'transformer',
          upstream: ['show'],
          code: py('transformer', `@transformer\ndef pair(data, *args, **kwargs):\n    return data['region'], [1, 2, 3]`),
        },
        {
          uuid: 'take',
          type: 'data_exporter',
          upstream: ['pair'],
          code: py('data_exporter', `@data_exporter\ndef take(outputs, *args, **kwargs):\n    return {'received': outputs}`),
        },
      ],
    });
    writePipeline(root, 'raises', {
      blocks: [
        { uuid: 'ok', type: 'data_loader', code: py('data_loader', `@data_loader\ndef l(*args, **kwargs):\n    return [1]`) },
        {
          uuid: 'boom',
          type: 'transformer',
          upstream: ['ok'],
          code: py('transformer', `def helper(x):\n    raise ValueError(f'bad value {x}')\n\n@transformer\ndef t(data, *args, **kwargs):\n    return helper(data)`),
        },
        { uuid: 'after_boom', type: 'data_exporter', upstream: ['boom'], code: py('data_exporter', `@data_exporter\ndef e(d, *args, **kwargs):\n    return d`) },
        {
          uuid: 'slow_sibling',
          type: 'transformer',
          upstream: ['ok'],
          code: py('transformer', `import time\n\n@transformer\ndef t(d, *args, **kwargs):\n    time.sleep(0.5)\n    return d`),
        },
        { uuid: 'after_sibling', type: 'data_exporter', upstream: ['slow_sibling'], code: py('data_exporter', `@data_exporter\ndef e(d, *args, **kwargs):\n    return d`) },
      ],
    });
    writePipeline(root, 'test_fails', {
      blocks: [
        {
          uuid: 'checked',
          type: 'data_loader',
          code: py('data_loader', `@data_loader\ndef l(*args, **kwargs):\n    return {'n': 1}\n\n@test\ndef test_n(output, *args):\n    assert output['n'] == 2, 'n must be 2'`),
        },
      ],
    });
    writePipeline(root, 'flaky', {
      blocks: [
        {
          uuid: 'flaky',
          type: 'data_loader',
          retry_config: { retries: 2, delay: 0 },
          code: py('data_loader', `import os\n\n@data_loader\ndef l(*args, **kwargs):\n    path = os.path.join(${q}, 'flaky-count')\n    os.makedirs(${q}, exist_ok=True)\n    n = int(open(path).read()) if os.path.exists(path) else 0\n    open(path, 'w').write(str(n + 1))\n    if n < 2:\n        raise RuntimeError(f'attempt {n + 1} fails')\n    return {'attempts': n + 1}`),
        },
      ],
    });
    writePipeline(root, 'always_fails', {
      retry_config: { retries: 1, delay: 0 },
      blocks: [
        { uuid: 'never', type: 'data_loader', code: py('data_loader', `@data_loader\ndef l(*args, **kwargs):\n    raise RuntimeError('never works')`) },
      ],
    });
    writePipeline(root, 'block_timeout', {
      blocks: [
        {
          uuid: 'sleepy',
          type: 'data_loader',
          timeout: 1,
          code: py('data_loader', `import os, time\n\n@data_loader\ndef l(*args, **kwargs):\n    os.makedirs(${q}, exist_ok=True)\n    open(os.path.join(${q}, 'sleepy-pid'), 'w').write(str(os.getpid()))\n    time.sleep(60)\n    return 1`),
        },
      ],
    });
    writePipeline(root, 'cancel_me', {
      blocks: [
        {
          uuid: 'busy',
          type: 'data_loader',
          code: py('data_loader', `import os, time\n\n@data_loader\ndef l(*args, **kwargs):\n    os.makedirs(${q}, exist_ok=True)\n    open(os.path.join(${q}, 'busy-pid'), 'w').write(str(os.getpid()))\n    while True:\n        with open(os.path.join(${q}, 'busy-ticks'), 'a') as f:\n            f.write('.')\n        time.sleep(0.02)`),
        },
        { uuid: 'never_runs', type: 'data_exporter', upstream: ['busy'], code: py('data_exporter', `@data_exporter\ndef e(d, *args, **kwargs):\n    return d`) },
      ],
    });
    writePipeline(root, 'ts_spin', {
      blocks: [
        { uuid: 'spin', type: 'custom', language: 'typescript', code: `export default function spin() {\n  for (;;) {}\n}\n` },
      ],
    });
    writePipeline(root, 'run_timeout', {
      blocks: [
        { uuid: 'long', type: 'data_loader', code: py('data_loader', `import time\n\n@data_loader\ndef l(*args, **kwargs):\n    time.sleep(60)`) },
      ],
    });
    writePipeline(root, 'conditions', {
      blocks: [
        { uuid: 'start', type: 'data_loader', code: py('data_loader', `@data_loader\ndef l(*args, **kwargs):\n    return {'go': False}`) },
        {
          uuid: 'gated',
          type: 'transformer',
          upstream: ['start'],
          conditional_blocks: ['only_if_go'],
          code: py('transformer', `@transformer\ndef t(d, *args, **kwargs):\n    return d`),
        },
        { uuid: 'after_gated', type: 'data_exporter', upstream: ['gated'], code: py('data_exporter', `@data_exporter\ndef e(d, *args, **kwargs):\n    return d`) },
        {
          uuid: 'open_gate',
          type: 'transformer',
          upstream: ['start'],
          conditional_blocks: ['always_true'],
          callback_blocks: ['notify'],
          code: py('transformer', `@transformer\ndef t(d, *args, **kwargs):\n    return {'passed': True}`),
        },
        {
          uuid: 'raising_gate',
          type: 'transformer',
          upstream: ['start'],
          conditional_blocks: ['raises_condition'],
          code: py('transformer', `@transformer\ndef t(d, *args, **kwargs):\n    return d`),
        },
        {
          uuid: 'fails_with_callback',
          type: 'custom',
          callback_blocks: ['notify'],
          code: py('custom', `@custom\ndef c(*args, **kwargs):\n    raise KeyError('missing thing')`),
        },
      ],
      addOns: [
        {
          uuid: 'only_if_go',
          type: 'conditional',
          code: `from mage_ai.data_preparation.decorators import condition\n\n@condition\ndef evaluate(data, *args, **kwargs) -> bool:\n    return data['go']\n`,
        },
        { uuid: 'always_true', type: 'conditional', code: `from mage_ai.data_preparation.decorators import condition\n\n@condition\ndef evaluate(*args, **kwargs) -> bool:\n    return True\n` },
        { uuid: 'raises_condition', type: 'conditional', code: `from mage_ai.data_preparation.decorators import condition\n\n@condition\ndef evaluate(*args, **kwargs) -> bool:\n    raise RuntimeError('condition broke')\n` },
        {
          uuid: 'notify',
          type: 'callback',
          code: `import os\nfrom mage_ai.data_preparation.decorators import callback\n\n@callback('success')\ndef ok(*args, **kwargs):\n    os.makedirs(${q}, exist_ok=True)\n    open(os.path.join(${q}, 'cb-success-' + kwargs['block_uuid']), 'w').write('ok')\n\n@callback('failure')\ndef failed(*args, **kwargs):\n    os.makedirs(${q}, exist_ok=True)\n    open(os.path.join(${q}, 'cb-failure-' + kwargs['block_uuid']), 'w').write(str(kwargs.get('__error')))\n`,
        },
      ],
    });
    writePipeline(root, 'limited', {
      concurrency_config: { block_run_limit: 1 },
      blocks: ['a', 'b', 'c'].map((uuid) => ({
        uuid,
        type: 'data_loader' as const,
        code: py('data_loader', `import time\n\n@data_loader\ndef l(*args, **kwargs):\n    time.sleep(0.3)\n    return '${uuid}'`),
      })),
    });
    writePipeline(root, 'parallel', {
      blocks: ['p1', 'p2'].map((uuid) => ({
        uuid,
        type: 'data_loader' as const,
        code: py('data_loader', `import time\n\n@data_loader\ndef l(*args, **kwargs):\n    time.sleep(0.5)\n    return '${uuid}'`),
      })),
    });
    writePipeline(root, 'noisy', {
      blocks: [
        {
          uuid: 'printer',
          type: 'custom',
          code: py('custom', `@custom\ndef c(*args, **kwargs):\n    for i in range(100000):\n        print(f'line {i}')\n    return {'printed': 100000}`),
        },
      ],
    });
    writePipeline(root, 'big_frame', {
      blocks: [
        {
          uuid: 'million',
          type: 'data_loader',
          code: py('data_loader', `import numpy as np\nimport pandas as pd\n\n@data_loader\ndef l(*args, **kwargs):\n    n = 1_000_000\n    return pd.DataFrame({'id': np.arange(n, dtype='int64'), 'value': np.arange(n, dtype='float64') * 0.5})`),
        },
        {
          uuid: 'count',
          type: 'transformer',
          upstream: ['million'],
          code: py('transformer', `@transformer\ndef t(df, *args, **kwargs):\n    return {'rows': len(df), 'last_id': int(df['id'].iloc[-1])}`),
        },
      ],
    });
    writePipeline(root, 'mixed', {
      variables: { factor: 10 },
      blocks: [
        {
          uuid: 'numbers',
          type: 'data_loader',
          code: py('data_loader', `import pandas as pd\n\n@data_loader\ndef l(*args, **kwargs):\n    return pd.DataFrame({'n': [1, 2, 3, 4, 5]})`),
        },
        {
          uuid: 'total',
          type: 'transformer',
          language: 'sql',
          upstream: ['numbers'],
          configuration: { data_provider: 'duckdb', data_provider_profile: 'default', export_write_policy: 'replace' },
          code: `SELECT count(*) AS k, sum(n) AS s FROM {{ df_1 }}`,
        },
        {
          uuid: 'report',
          type: 'data_exporter',
          language: 'typescript',
          upstream: ['total'],
          code: `import type { BlockContext } from 'blockflow';\n\nexport default function report(ctx: BlockContext, total: { toArray(): Array<Record<string, unknown>> }) {\n  const row = total.toArray()[0];\n  ctx.logger.info('total row', JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)));\n  return { k: Number(row.k), s: Number(row.s), scaled: Number(row.s) * Number(ctx.kwargs.factor) };\n}\n`,
        },
        {
          uuid: 'back_in_python',
          type: 'custom',
          upstream: ['report'],
          code: py('custom', `@custom\ndef c(report, *args, **kwargs):\n    return {'python_saw': report['scaled']}`),
        },
      ],
    });

    project = loadProject(root);
    store = await openStore({ url: `sqlite://${join(project.dataDir, 'engine-test.db')}` });
    stack = await createEngineStack({ project, store, instanceId: 'engine-test', env: {} });
    engine = stack.engine;
  });

  after(async () => {
    await stack?.close();
    await store?.close();
    if (root) rmSync(dirname(root), { recursive: true, force: true });
  });

  test('a 4-block pandas pipeline completes with outputs in Mage layout and Mage-format logs', async () => {
    const r = await run('etl_pandas');
    assert.equal(r.status, 'completed');
    assert.deepEqual(r.blocks, { load: 'completed', double: 'completed', scale: 'completed', export: 'completed' });
    assert.ok(r.row.started_at && r.row.completed_at);
    const dir = blockVariablesDir(project.dataDir, 'etl_pandas', runPartition(r.row), 'load');
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'output_0', 'type.json'), 'utf8')), { type: 'dataframe' });
    assert.ok(existsSync(join(dir, 'output_0', 'data.parquet')));
    const [exported] = await outputsOf(r.id, 'etl_pandas', 'export');
    assert.deepEqual(exported, { doubled: 200, scaled: 300, rows: 8 });
    const log = await logOf(r.id, 'etl_pandas', 'export');
    for (const line of log.trim().split('\n')) assert.match(line, MAGE_LOG_LINE);
    const parsed = log.trim().split('\n').map((l) => JSON.parse(l.slice(20)));
    const info = parsed.find((p) => p.message.includes('exporting 8 rows'));
    assert.ok(info, 'the logger line is in the block log');
    assert.equal(info.block_uuid, 'export');
    assert.equal(info.pipeline_run_id, r.id);
    assert.equal(typeof info.block_run_id, 'number');
    const pipelineLog = readFileSync(pipelineLogPath(project.dataDir, 'etl_pandas', runPartition(r.row)), 'utf8');
    assert.match(pipelineLog, /Pipeline run \d+ completed\./);
  });

  test('kwargs follow Mage: globals < run variables, run facts, block configuration; tuples split into outputs', async () => {
    const r = await run('kwargs_check', { region: 'eu' });
    assert.equal(r.status, 'completed');
    const [shown] = await outputsOf(r.id, 'kwargs_check', 'show');
    const v = shown as Record<string, unknown>;
    assert.equal(v.region, 'eu');
    assert.equal(v.only_global, 'g');
    assert.match(String(v.ds), /^\d{4}-\d{2}-\d{2}$/);
    assert.match(String(v.hr), /^\d{2}$/);
    // A run without a trigger (as `blockflow run`) gets Mage's get_env(); triggered runs get `prod`.
    assert.equal(v.env, mageEnv());
    assert.equal(v.pipeline_uuid, 'kwargs_check');
    assert.equal(v.block_uuid, 'show');
    assert.equal(v.pipeline_run_id, r.id);
    assert.equal(v.execution_partition, runPartition(r.row));
    assert.deepEqual(v.configuration, { answer: 42 });
    assert.equal(v.execution_date_type, 'datetime');
    assert.equal(v.has_logger, true);
    assert.deepEqual(v.event, {});
    const pair = await outputsOf(r.id, 'kwargs_check', 'pair');
    assert.deepEqual(pair, ['eu', [1, 2, 3]]);
    const [taken] = await outputsOf(r.id, 'kwargs_check', 'take');
    assert.deepEqual(taken, { received: ['eu', [1, 2, 3]] });
  });

  test('a Python block that raises fails with its traceback; downstream is upstream_failed; the run fails', async () => {
    const r = await run('raises');
    assert.equal(r.status, 'failed');
    assert.equal(r.blocks.ok, 'completed');
    assert.equal(r.blocks.boom, 'failed');
    assert.equal(r.blocks.after_boom, 'upstream_failed');
    // Without allow_blocks_to_fail the run fails at once: what had not started is cancelled.
    assert.equal(r.blocks.after_sibling, 'cancelled');
    const boom = (await store.blockRuns.listForRun(r.id)).find((b) => b.block_uuid === 'boom')!;
    const error = (boom.metrics as { error: { error: string; errors: string[]; message: string } }).error;
    assert.match(error.error, /ValueError: bad value 1/);
    assert.ok(error.errors.some((l) => l.includes('helper')), 'the traceback names the helper');
    const log = await logOf(r.id, 'raises', 'boom');
    assert.match(log, /ValueError: bad value/);
    assert.match(log, /"level":"ERROR"/);
  });

  test('allow_blocks_to_fail lets independent branches finish before the run fails', async () => {
    const schedule = await store.schedules.create({ name: 'tolerant', pipeline_uuid: 'raises', schedule_type: 'api', settings: { allow_blocks_to_fail: true } });
    const r = await run('raises', {}, schedule.id);
    assert.equal(r.status, 'failed');
    assert.deepEqual(r.blocks, { ok: 'completed', boom: 'failed', after_boom: 'upstream_failed', slow_sibling: 'completed', after_sibling: 'completed' });
  });

  test('a failing @test fails the block', async () => {
    const r = await run('test_fails');
    assert.equal(r.status, 'failed');
    const [b] = await store.blockRuns.listForRun(r.id);
    assert.match(JSON.stringify(b.metrics), /n must be 2/);
    assert.match(await logOf(r.id, 'test_fails', 'checked'), /0\/1 tests passed/);
  });

  test('retries: a block that fails twice succeeds on its third attempt, with the attempts recorded', async () => {
    rmSync(join(marks, 'flaky-count'), { force: true });
    const r = await run('flaky');
    assert.equal(r.status, 'completed');
    const [b] = await store.blockRuns.listForRun(r.id);
    assert.equal(b.attempts, 3);
    const [out] = await outputsOf(r.id, 'flaky', 'flaky');
    assert.deepEqual(out, { attempts: 3 });
    const log = await logOf(r.id, 'flaky', 'flaky');
    assert.match(log, /Retrying block flaky \(attempt 2 of 3\) in 0 seconds/);
    assert.match(log, /Retrying block flaky \(attempt 3 of 3\) in 0 seconds/);
    assert.match(log, /RuntimeError: attempt 2 fails/);
  });

  test('retries: the pipeline retry_config applies when the block has none, and exhausted retries fail', async () => {
    const r = await run('always_fails');
    assert.equal(r.status, 'failed');
    const [b] = await store.blockRuns.listForRun(r.id);
    assert.equal(b.attempts, 2);
    assert.equal(b.status, 'failed');
  });

  test('a block timeout kills the block at its deadline', async () => {
    rmSync(join(marks, 'sleepy-pid'), { force: true });
    const r = await run('block_timeout');
    assert.equal(r.status, 'failed');
    const [b] = await store.blockRuns.listForRun(r.id);
    assert.match(JSON.stringify(b.metrics), /TimeoutError/);
    const pid = Number(readFileSync(join(marks, 'sleepy-pid'), 'utf8'));
    await waitFor('the timed-out worker to exit', () => !pidAlive(pid));
  });

  test('cancel stops the running Python code, cancels the pending blocks, and nothing runs after', async () => {
    rmSync(join(marks, 'busy-pid'), { force: true });
    rmSync(join(marks, 'busy-ticks'), { force: true });
    const events: EngineEvent[] = [];
    const listener = (e: EngineEvent) => events.push(e);
    engine.on('event', listener);
    const created = await engine.createRun({ pipelineUuid: 'cancel_me' });
    const pid = await waitFor('the block to start', () => existsSync(join(marks, 'busy-pid')) && Number(readFileSync(join(marks, 'busy-pid'), 'utf8')));
    assert.equal(await engine.cancelRun(created.id), true);
    assert.equal(await engine.waitForRun(created.id), 'cancelled');
    assert.deepEqual(await statuses(created.id), { busy: 'cancelled', never_runs: 'cancelled' });
    await waitFor('the worker running the block to die', () => !pidAlive(pid));
    const ticks = readFileSync(join(marks, 'busy-ticks'), 'utf8').length;
    await sleep(300);
    assert.equal(readFileSync(join(marks, 'busy-ticks'), 'utf8').length, ticks, 'the block wrote nothing after the cancel');
    engine.off('event', listener);
    assert.ok(events.some((e) => e.type === 'block' && e.blockUuid === 'never_runs' && e.status === 'cancelled'));
    assert.equal(await engine.cancelRun(created.id), false, 'a finished run cannot be cancelled again');
  });

  test('cancel terminates a TypeScript block stuck in a busy loop', async () => {
    const created = await engine.createRun({ pipelineUuid: 'ts_spin' });
    await waitFor('the block to run', async () => (await statuses(created.id)).spin === 'running');
    await engine.cancelRun(created.id);
    assert.equal(await engine.waitForRun(created.id), 'cancelled');
    const again = await run('mixed');
    assert.equal(again.status, 'completed', 'the TypeScript runtime still works after a terminated worker');
  });

  test('a run timeout from the trigger settings ends the run with timeout_status and kills its code', async () => {
    const failing = await store.schedules.create({ name: 'short', pipeline_uuid: 'run_timeout', schedule_type: 'api', settings: { timeout: 1 } });
    const r = await run('run_timeout', {}, failing.id);
    assert.equal(r.status, 'failed');
    assert.deepEqual(r.blocks, { long: 'cancelled' });
    const cancelling = await store.schedules.create({ name: 'short-cancel', pipeline_uuid: 'run_timeout', schedule_type: 'api', settings: { timeout: 1, timeout_status: 'cancelled' } });
    const r2 = await run('run_timeout', {}, cancelling.id);
    assert.equal(r2.status, 'cancelled');
    const log = readFileSync(pipelineLogPath(project.dataDir, 'run_timeout', runPartition(r.row)), 'utf8');
    assert.match(log, /exceeded its timeout of 1 seconds/);
  });

  test('conditions skip blocks (condition_failed, also downstream) and callbacks run on success and failure', async () => {
    for (const f of ['cb-success-open_gate', 'cb-failure-fails_with_callback']) rmSync(join(marks, f), { force: true });
    const schedule = await store.schedules.create({ name: 'cond', pipeline_uuid: 'conditions', schedule_type: 'api', settings: { allow_blocks_to_fail: true } });
    const r = await run('conditions', {}, schedule.id);
    assert.equal(r.blocks.start, 'completed');
    assert.equal(r.blocks.gated, 'condition_failed');
    assert.equal(r.blocks.after_gated, 'condition_failed');
    assert.equal(r.blocks.open_gate, 'completed');
    assert.equal(r.blocks.raising_gate, 'condition_failed', 'a condition that raises counts as false, as in Mage');
    assert.equal(r.blocks.fails_with_callback, 'failed');
    assert.equal(r.status, 'failed');
    assert.equal(readFileSync(join(marks, 'cb-success-open_gate'), 'utf8'), 'ok');
    assert.match(readFileSync(join(marks, 'cb-failure-fails_with_callback'), 'utf8'), /KeyError/);
  });

  test('a run whose only skipped blocks are condition_failed completes', async () => {
    writePipeline(root, 'all_skipped', {
      blocks: [
        { uuid: 'first', type: 'data_loader', conditional_blocks: ['never'], code: py('data_loader', `@data_loader\ndef l(*args, **kwargs):\n    return 1`) },
        { uuid: 'second', type: 'transformer', upstream: ['first'], code: py('transformer', `@transformer\ndef t(d, *args, **kwargs):\n    return d`) },
      ],
      addOns: [{ uuid: 'never', type: 'conditional', code: `from mage_ai.data_preparation.decorators import condition\n\n@condition\ndef c(*args, **kwargs):\n    return False\n` }],
    });
    const r = await run('all_skipped');
    assert.equal(r.status, 'completed');
    assert.deepEqual(r.blocks, { first: 'condition_failed', second: 'condition_failed' });
  });

  test('block_run_limit bounds the blocks of one run running at once; without it ready blocks run in parallel', async () => {
    const maxRunning = async (pipelineUuid: string) => {
      const running = new Set<number>();
      let max = 0;
      let runId = -1;
      const listener = (e: EngineEvent) => {
        if (e.type !== 'block' || e.runId !== runId) return;
        if (e.status === 'running') running.add(e.blockRunId);
        else running.delete(e.blockRunId);
        max = Math.max(max, running.size);
      };
      engine.on('event', listener);
      const created = await engine.createRun({ pipelineUuid, start: false });
      runId = created.id;
      await engine.startRun(created.id);
      assert.equal(await engine.waitForRun(created.id), 'completed');
      engine.off('event', listener);
      return max;
    };
    assert.equal(await maxRunning('limited'), 1);
    assert.equal(await maxRunning('parallel'), 2);
  });

  test('a block printing 100,000 lines: every line lands in its log file in Mage format', async () => {
    const r = await run('noisy');
    assert.equal(r.status, 'completed');
    const lines = (await logOf(r.id, 'noisy', 'printer')).trim().split('\n');
    const printed = lines.filter((l) => /"message":"line \d+"/.test(l));
    assert.equal(printed.length, 100_000);
    assert.match(printed[0], MAGE_LOG_LINE);
    assert.match(printed.at(-1)!, /"message":"line 99999"/);
  });

  test('a block returning a 1,000,000-row DataFrame: stored as parquet, read by its downstream, summarised', async () => {
    const r = await run('big_frame');
    assert.equal(r.status, 'completed');
    const [count] = await outputsOf(r.id, 'big_frame', 'count');
    assert.deepEqual(count, { rows: 1_000_000, last_id: 999_999 });
    const dir = blockVariablesDir(project.dataDir, 'big_frame', runPartition(r.row), 'million');
    const [summary] = await readOutputSummaries(dir, 5);
    assert.equal(summary.type, 'table');
    assert.deepEqual((summary as { shape: number[] }).shape, [1_000_000, 2]);
  });

  test('a mixed Python -> SQL (DuckDB) -> TypeScript -> Python pipeline runs end to end', async () => {
    const r = await run('mixed');
    assert.equal(r.status, 'completed');
    const [report] = await outputsOf(r.id, 'mixed', 'report');
    assert.deepEqual(report, { k: 5, s: 15, scaled: 150 });
    const [back] = await outputsOf(r.id, 'mixed', 'back_in_python');
    assert.deepEqual(back, { python_saw: 150 });
    assert.match(await logOf(r.id, 'mixed', 'report'), /total row/);
  });

  test('retry_blocks from a block re-runs it and its downstream, keeping the rest', async () => {
    const r = await run('etl_pandas');
    const before = await store.blockRuns.listForRun(r.id);
    await engine.retryBlocks(r.id, 'double');
    assert.equal(await engine.waitForRun(r.id), 'completed');
    const after = await store.blockRuns.listForRun(r.id);
    const startedOf = (rows: typeof before, uuid: string) => rows.find((b) => b.block_uuid === uuid)!.started_at;
    assert.equal(startedOf(after, 'load'), startedOf(before, 'load'));
    assert.equal(startedOf(after, 'scale'), startedOf(before, 'scale'));
    assert.notEqual(startedOf(after, 'double'), startedOf(before, 'double'));
    assert.notEqual(startedOf(after, 'export'), startedOf(before, 'export'));
  });

  test('every status change is guarded: a stale transition loses', async () => {
    const created = await engine.createRun({ pipelineUuid: 'etl_pandas', start: false });
    assert.equal(await store.pipelineRuns.transition(created.id, ['running'], 'completed'), false);
    assert.equal(await engine.startRun(created.id), true);
    assert.equal(await engine.startRun(created.id), false, 'a run starts once');
    assert.equal(await engine.waitForRun(created.id), 'completed');
    const [first] = await store.blockRuns.listForRun(created.id);
    assert.equal(await store.blockRuns.transition(first.id, ['running'], 'failed'), false);
  });
});
