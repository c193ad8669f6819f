/**
 * The run lifecycle over real HTTP, on SQLite and PostgreSQL: runs are started through the engine (the trigger
 * API that creates them belongs to the scheduler module) and then listed, inspected, cancelled, retried and
 * deleted through Mage's routes; outputs, log files, the live SSE log tail, global variables and secrets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DIALECTS, startTestServer, type TestServer } from '../helpers/server.js';
import type { Engine } from '../../src/engine/engine.js';
import { buildProject, py, usePreparedPython } from '../engine/projectBuilder.js';
import { waitFor } from '../helpers/wait.js';

usePreparedPython();

function fixture(): string {
  return buildProject({
    etl: {
      variables: { greeting: 'hello' },
      blocks: [
        {
          uuid: 'load',
          type: 'data_loader',
          code: py('data_loader', `import pandas as pd\n\n@data_loader\ndef l(*args, **kwargs):\n    return pd.DataFrame({'id': range(25), 'name': [f'n{i}' for i in range(25)]})`),
        },
        {
          uuid: 'say',
          type: 'transformer',
          upstream: ['load'],
          code: py('transformer', `@transformer\ndef t(df, *args, **kwargs):\n    kwargs['logger'].info('saying %s', kwargs['greeting'])\n    return {'greeting': kwargs['greeting'], 'rows': len(df)}`),
        },
      ],
    },
    slow: {
      blocks: [
        {
          uuid: 'ticker',
          type: 'data_loader',
          code: py('data_loader', `import time\n\n@data_loader\ndef l(*args, **kwargs):\n    for i in range(600):\n        print(f'tick {i}', flush=True)\n        time.sleep(0.05)\n    return 1`),
        },
        { uuid: 'after_ticker', type: 'data_exporter', upstream: ['ticker'], code: py('data_exporter', `@data_exporter\ndef e(d, *args, **kwargs):\n    return d`) },
      ],
    },
    switchable: {
      blocks: [
        {
          uuid: 'gate',
          type: 'data_loader',
          code: py('data_loader', `import os\n\n@data_loader\ndef l(*args, **kwargs):\n    if not os.path.exists(os.path.join(kwargs['repo_path'], 'allow')):\n        raise RuntimeError('not allowed yet')\n    return 'allowed'`),
        },
        { uuid: 'next', type: 'data_exporter', upstream: ['gate'], code: py('data_exporter', `@data_exporter\ndef e(d, *args, **kwargs):\n    return d`) },
      ],
    },
    secretive: {
      blocks: [
        {
          uuid: 'reveal',
          type: 'custom',
          code: py('custom', `from mage_ai.data_preparation.shared.secrets import get_secret_value\n\n@custom\ndef c(*args, **kwargs):\n    return {'length': len(get_secret_value('api_password'))}`),
        },
      ],
    },
  });
}

for (const dialect of DIALECTS) {
  describe(`run lifecycle over HTTP (${dialect})`, () => {
    let t: TestServer;
    let engine: Engine;
    let source: string;
    const api = (method: string, path: string, body?: unknown) => t.call(method, path, body, t.ownerToken);
    const startRun = async (pipelineUuid: string, variables: Record<string, unknown> = {}) => (await engine.createRun({ pipelineUuid, variables })).id;

    before(async () => {
      source = fixture();
      t = await startTestServer({ dialect, fixture: source, env: { BLOCKFLOW_WARM_RUNTIMES: '0' } });
      engine = t.server.ctx.services.engine as Engine;
    });
    after(async () => {
      await t?.close();
      if (source) rmSync(dirname(source), { recursive: true, force: true });
    });

    test('a run is listed with Mage filters and paging, and its detail holds the block runs', async () => {
      const first = await startRun('etl');
      const second = await startRun('etl', { greeting: 'bonjour' });
      assert.equal(await engine.waitForRun(first), 'completed');
      assert.equal(await engine.waitForRun(second), 'completed');

      const page = await api('GET', '/api/pipeline_runs?pipeline_uuid=etl&_limit=1&_offset=0');
      assert.equal(page.status, 200);
      assert.equal(page.body.pipeline_runs.length, 1);
      assert.equal(page.body.metadata.count, 2);
      assert.equal(page.body.metadata.next, true);
      assert.equal(page.body.pipeline_runs[0].id, second, 'newest execution_date first');

      const byStatus = await api('GET', '/api/pipeline_runs?status[]=completed&pipeline_uuid[]=etl&order_by[]=id%20asc&include_pipeline_uuids=true');
      assert.deepEqual(byStatus.body.pipeline_runs.map((r: { id: number }) => r.id), [first, second]);

      // As Mage's BlockRunResource: /api/block_runs without order_by is newest started first; a run's own list
      // (/api/pipeline_runs/{id}/block_runs) keeps creation order.
      const newest = await api('GET', `/api/block_runs?pipeline_run_id=${second}`);
      const started = newest.body.block_runs.map((b: { started_at: string }) => b.started_at);
      assert.deepEqual(started, [...started].sort().reverse());
      const own = await api('GET', `/api/pipeline_runs/${second}/block_runs`);
      const ids = own.body.block_runs.map((b: { id: number }) => b.id);
      assert.deepEqual(ids, [...ids].sort((a: number, b: number) => a - b));
      assert.ok(byStatus.body.metadata.pipeline_uuids.includes('etl'));
      const none = await api('GET', '/api/pipeline_runs?pipeline_uuid=etl&status=failed');
      assert.equal(none.body.metadata.count, 0);
      const bad = await api('GET', '/api/pipeline_runs?status=done');
      assert.equal(bad.status, 400);

      const detail = await api('GET', `/api/pipeline_runs/${second}`);
      assert.equal(detail.status, 200);
      const run = detail.body.pipeline_run;
      assert.equal(run.status, 'completed');
      assert.equal(run.pipeline_uuid, 'etl');
      assert.equal(run.variables.greeting, 'bonjour');
      assert.equal(run.block_runs_count, 2);
      assert.equal(run.completed_block_runs_count, 2);
      assert.deepEqual(run.block_runs.map((b: { block_uuid: string }) => b.block_uuid), ['load', 'say']);
      assert.ok('metrics' in run.block_runs[0]);

      const blockRuns = await api('GET', `/api/pipeline_runs/${second}/block_runs`);
      assert.equal(blockRuns.body.block_runs.length, 2);
      assert.ok(!('metrics' in blockRuns.body.block_runs[0]), 'the block_runs list has no metrics, as Mage');
      const filtered = await api('GET', `/api/block_runs?pipeline_run_id=${second}&block_uuid[]=say&status[]=completed`);
      assert.deepEqual(filtered.body.block_runs.map((b: { block_uuid: string }) => b.block_uuid), ['say']);
      assert.equal((await api('GET', '/api/pipeline_runs/999999')).status, 404);
    });

    test('block run outputs and the pipeline logs are readable through the API', async () => {
      const id = await startRun('etl', { greeting: 'hola' });
      assert.equal(await engine.waitForRun(id), 'completed');
      const blockRuns = (await api('GET', `/api/pipeline_runs/${id}/block_runs`)).body.block_runs;
      const load = blockRuns.find((b: { block_uuid: string }) => b.block_uuid === 'load');
      const say = blockRuns.find((b: { block_uuid: string }) => b.block_uuid === 'say');

      const table = await api('GET', `/api/block_runs/${load.id}/outputs?sample_count=5`);
      assert.equal(table.status, 200);
      const [out] = table.body.outputs;
      assert.equal(out.type, 'table');
      assert.equal(out.variable_uuid, 'output_0');
      assert.deepEqual(out.shape, [25, 2]);
      assert.deepEqual(out.sample_data.columns, ['id', 'name']);
      assert.equal(out.sample_data.rows.length, 5);
      // Mage's OutputPresenter: every item has all six attributes.
      assert.deepEqual(Object.keys(out).sort(), ['outputs', 'sample_data', 'shape', 'text_data', 'type', 'variable_uuid']);
      const json = await api('GET', `/api/block_runs/${say.id}/outputs`);
      assert.match(JSON.stringify(json.body.outputs), /hola/);

      const logs = await api('GET', `/api/pipelines/etl/logs?pipeline_run_id[]=${id}`);
      assert.equal(logs.status, 200);
      const [entry] = logs.body.logs;
      const sayLog = entry.block_run_logs.find((f: { name: string }) => f.name === 'say.log');
      assert.ok(sayLog, 'say.log is listed');
      assert.match(sayLog.content, /saying hola/);
      assert.equal(entry.pipeline_run_logs.length, 1);
      assert.match(entry.pipeline_run_logs[0].content, new RegExp(`Pipeline run ${id} completed`));
      const onlyLoad = await api('GET', `/api/pipelines/etl/logs?pipeline_run_id[]=${id}&block_uuid[]=load`);
      assert.deepEqual(onlyLoad.body.logs[0].block_run_logs.map((f: { name: string }) => f.name), ['load.log']);
      assert.equal((await api('GET', '/api/pipelines/nope/logs')).status, 404);
    });

    test('a running block run log is tailed live over Server-Sent Events until the block ends', async () => {
      const id = await startRun('slow');
      const blockRun = await waitFor('the ticker to run', async () => {
        const rows = (await api('GET', `/api/pipeline_runs/${id}/block_runs`)).body.block_runs;
        const ticker = rows.find((b: { block_uuid: string; status: string }) => b.block_uuid === 'ticker' && b.status === 'running');
        return ticker;
      });
      const controller = new AbortController();
      const res = await fetch(`${t.url}/api/block_runs/${blockRun.id}/logs/stream`, { headers: { authorization: `Bearer ${t.ownerToken}` }, signal: controller.signal });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!/tick 5\b/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      assert.match(text, /event: log\ndata: \d{4}-\d{2}-\d{2}T[^\n]*"message":"tick \d+"/);
      // Cancelling the run ends the stream with an `end` event.
      assert.equal((await api('PUT', `/api/pipeline_runs/${id}`, { pipeline_run: { status: 'cancelled' } })).status, 200);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      assert.match(text, /event: end\ndata: \{"block_run_id":\d+\}/);
      controller.abort();
    });

    test('PUT status cancelled stops a running run; a finished run cannot be cancelled again', async () => {
      const id = await startRun('slow');
      await waitFor('the run to be running', async () => (await api('GET', `/api/pipeline_runs/${id}`)).body.pipeline_run.block_runs.some((b: { status: string }) => b.status === 'running'));
      const res = await api('PUT', `/api/pipeline_runs/${id}`, { pipeline_run: { status: 'cancelled' } });
      assert.equal(res.status, 200);
      assert.equal(res.body.pipeline_run.status, 'cancelled');
      assert.deepEqual(res.body.pipeline_run.block_runs.map((b: { status: string }) => b.status), ['cancelled', 'cancelled']);
      const again = await api('PUT', `/api/pipeline_runs/${id}`, { pipeline_run: { status: 'cancelled' } });
      assert.equal(again.status, 409);
      const nothing = await api('PUT', `/api/pipeline_runs/${id}`, { pipeline_run: {} });
      assert.equal(nothing.status, 400);
    });

    test('PUT retry_blocks re-runs the failed blocks of a failed run, which then completes', async () => {
      rmSync(join(t.projectDir, 'allow'), { force: true });
      const id = await startRun('switchable');
      assert.equal(await engine.waitForRun(id), 'failed');
      const failed = (await api('GET', `/api/pipeline_runs/${id}`)).body.pipeline_run;
      assert.deepEqual(failed.block_runs.map((b: { status: string }) => b.status), ['failed', 'upstream_failed']);
      assert.match(JSON.stringify(failed.block_runs[0].metrics), /not allowed yet/);
      writeFileSync(join(t.projectDir, 'allow'), 'yes');
      const res = await api('PUT', `/api/pipeline_runs/${id}`, { pipeline_run: { pipeline_run_action: 'retry_blocks' } });
      assert.equal(res.status, 200);
      assert.equal(await engine.waitForRun(id), 'completed');
      const done = (await api('GET', `/api/pipeline_runs/${id}`)).body.pipeline_run;
      assert.deepEqual(done.block_runs.map((b: { status: string }) => b.status), ['completed', 'completed']);
      const unknownBlock = await api('PUT', `/api/pipeline_runs/${id}`, { pipeline_run: { pipeline_run_action: 'retry_blocks', from_block_uuid: 'nope' } });
      assert.equal(unknownBlock.status, 404);
    });

    test('DELETE removes a run and its block runs', async () => {
      const id = await startRun('etl');
      await engine.waitForRun(id);
      const res = await api('DELETE', `/api/pipeline_runs/${id}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.pipeline_run.id, id);
      assert.equal((await api('GET', `/api/pipeline_runs/${id}`)).status, 404);
      assert.equal((await api('GET', `/api/block_runs?pipeline_run_id=${id}`)).body.block_runs.length, 0);
    });

    test('global variables: create, update and delete through the API; runs see the current value', async () => {
      const created = await api('POST', '/api/pipelines/etl/variables', { variable: { name: 'greeting', value: 'hi there' } });
      assert.equal(created.status, 200);
      assert.equal(created.body.variable.block.uuid, 'global');
      // As Mage, the answer to a create names the global variables; the list below carries their values.
      assert.ok(created.body.variable.variables.includes('greeting'));
      assert.equal(created.body.variable.value, 'hi there');
      const id = await startRun('etl');
      assert.equal(await engine.waitForRun(id), 'completed');
      const say = (await api('GET', `/api/pipeline_runs/${id}/block_runs`)).body.block_runs.find((b: { block_uuid: string }) => b.block_uuid === 'say');
      assert.match(JSON.stringify((await api('GET', `/api/block_runs/${say.id}/outputs`)).body.outputs), /hi there/);

      assert.equal((await api('PUT', '/api/pipelines/etl/variables/greeting', { variable: { value: 'updated' } })).status, 200);
      const listed = await api('GET', '/api/pipelines/etl/variables?global_only=true');
      const global = listed.body.variables.find((v: { block: { uuid: string } }) => v.block.uuid === 'global');
      assert.deepEqual(global.variables.find((v: { uuid: string }) => v.uuid === 'greeting'), { uuid: 'greeting', type: "<class 'str'>", value: 'updated' });
      const invalid = await api('POST', '/api/pipelines/etl/variables', { variable: { name: '1bad', value: 1 } });
      assert.equal(invalid.body.error.type, 'record_invalid');
      assert.match(invalid.body.error.message, /valid identifier/);
      assert.equal((await api('DELETE', '/api/pipelines/etl/variables/greeting')).status, 200);
      assert.equal((await api('DELETE', '/api/pipelines/etl/variables/greeting')).status, 404);
    });

    test('secrets: values are sealed at rest, never returned, and readable by blocks', async () => {
      const value = 'correct horse battery staple';
      const created = await api('POST', '/api/secrets', { secret: { name: 'api_password', value } });
      assert.equal(created.status, 200);
      assert.equal(created.body.secret.name, 'api_password');
      assert.ok(!JSON.stringify(created.body).includes(value));
      const listed = await api('GET', '/api/secrets');
      assert.ok(listed.body.secrets.some((s: { name: string }) => s.name === 'api_password'));
      assert.ok(!JSON.stringify(listed.body).includes(value));
      const stored = await t.server.ctx.store.secrets.get('api_password', t.server.ctx.project.name);
      assert.ok(stored && stored.value !== value && !stored.value.includes(value), 'the database holds ciphertext');
      assert.equal((await api('POST', '/api/secrets', { secret: { name: 'api_password', value: 'x' } })).status, 409);

      const id = await startRun('secretive');
      assert.equal(await engine.waitForRun(id), 'completed');
      const [br] = (await api('GET', `/api/pipeline_runs/${id}/block_runs`)).body.block_runs;
      assert.match(JSON.stringify((await api('GET', `/api/block_runs/${br.id}/outputs`)).body.outputs), new RegExp(`${value.length}`));
      assert.equal((await api('DELETE', '/api/secrets/api_password')).status, 200);
      assert.equal((await api('DELETE', '/api/secrets/api_password')).status, 404);
    });
  });
}
