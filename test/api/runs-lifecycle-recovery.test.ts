/**
 * A server killed with SIGKILL in the middle of a run: a new server on the same project and database adopts the
 * run once its heartbeat is stale (BLOCKFLOW_ORPHAN_AFTER_SECONDS, shortened here) and finishes it. Real server
 * processes, real HTTP, the run created through the trigger API.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildProject, py, usePreparedPython } from '../engine/projectBuilder.js';
import { loadProject } from '../../src/project/projectConfig.js';
import { openStore, resolveDatabaseUrl } from '../../src/store/db.js';
import { runnableBlocks } from '../../src/engine/engine.js';
import { loadPipeline } from '../../src/project/pipeline.js';

usePreparedPython();

const REPO = new URL('../..', import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('recovery after SIGKILL', () => {
  let root: string;
  let dataDir: string;
  const servers: ChildProcess[] = [];
  let output = '';

  const startServer = async (port: number): Promise<ChildProcess> => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', root, '--port', String(port), '--host', '127.0.0.1'], {
      cwd: REPO,
      env: {
        ...process.env,
        REQUIRE_USER_AUTHENTICATION: '0',
        MAGE_DATA_DIR: dataDir,
        MAGE_DATABASE_CONNECTION_URL: '',
        DATABASE_URL: '',
        BLOCKFLOW_ORPHAN_AFTER_SECONDS: '2',
        BLOCKFLOW_HEARTBEAT_SECONDS: '0.5',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    servers.push(child);
    await waitFor('the server to answer', async () => (await fetch(`http://127.0.0.1:${port}/api/status`)).ok);
    return child;
  };

  /**
   * Has the running server start a run of `interrupted`: through the trigger API (POST
   * /api/pipeline_schedules/{id}/pipeline_runs) when this build serves it; otherwise through Mage's retry_blocks
   * action on a run recorded as cancelled, which the server then executes as its own.
   */
  const startRunOnServer = async (call: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>): Promise<number> => {
    const trigger = await call('POST', '/api/pipelines/interrupted/pipeline_schedules', { pipeline_schedule: { name: 'by hand', schedule_type: 'api', status: 'active' } });
    if (trigger.status === 200) {
      const created = await call('POST', `/api/pipeline_schedules/${trigger.body.pipeline_schedule.id}/pipeline_runs`, { pipeline_run: { variables: {} } });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      return created.body.pipeline_run.id;
    }
    const env = { ...process.env, MAGE_DATA_DIR: dataDir, MAGE_DATABASE_CONNECTION_URL: '', DATABASE_URL: '' };
    const project = loadProject(root, env);
    const store = await openStore({ url: resolveDatabaseUrl(env, project.dataDir) });
    try {
      const blocks = runnableBlocks(loadPipeline(project, 'interrupted')).map((b) => b.uuid);
      const { run } = await store.pipelineRuns.createWithBlockRuns({ pipeline_uuid: 'interrupted', status: 'cancelled', execution_date: new Date() }, blocks);
      await store.blockRuns.transitionAll(run.id, ['initial'], 'cancelled');
      const retried = await call('PUT', `/api/pipeline_runs/${run.id}`, { pipeline_run: { pipeline_run_action: 'retry_blocks' } });
      assert.equal(retried.status, 200, JSON.stringify(retried.body));
      return run.id;
    } finally {
      await store.close();
    }
  };

  before(() => {
    root = buildProject({
      interrupted: {
        blocks: [
          { uuid: 'first', type: 'data_loader', code: py('data_loader', `@data_loader\ndef l(*args, **kwargs):\n    return {'n': 1}`) },
          {
            uuid: 'slow',
            type: 'transformer',
            upstream: ['first'],
            code: py('transformer', `import time\n\n@transformer\ndef t(d, *args, **kwargs):\n    time.sleep(3)\n    return {'n': d['n'] + 1}`),
          },
          { uuid: 'last', type: 'data_exporter', upstream: ['slow'], code: py('data_exporter', `@data_exporter\ndef e(d, *args, **kwargs):\n    return {'n': d['n'] + 1}`) },
        ],
      },
    });
    dataDir = join(dirname(root), 'data');
  });

  after(() => {
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
    if (root) rmSync(dirname(root), { recursive: true, force: true });
  });

  test('a run left running by a killed server is adopted and finished by the next server', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(base + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
      return { status: res.status, body: (await res.json()) as any };
    };

    const first = await startServer(port);
    const runId = await startRunOnServer(call);

    await waitFor('the slow block to run', async () => {
      const run = (await call('GET', `/api/pipeline_runs/${runId}`)).body.pipeline_run;
      return run.block_runs.find((b: { block_uuid: string; status: string }) => b.block_uuid === 'slow' && b.status === 'running');
    });
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));

    await startServer(port);
    const finished = await waitFor('the adopted run to finish', async () => {
      const run = (await call('GET', `/api/pipeline_runs/${runId}`)).body.pipeline_run;
      return ['completed', 'failed', 'cancelled'].includes(run.status) && run;
    });
    assert.equal(finished.status, 'completed', output);
    assert.deepEqual(
      finished.block_runs.map((b: { block_uuid: string; status: string }) => [b.block_uuid, b.status]),
      [['first', 'completed'], ['slow', 'completed'], ['last', 'completed']],
    );
    const last = finished.block_runs.find((b: { block_uuid: string }) => b.block_uuid === 'last');
    const outputs = (await call('GET', `/api/block_runs/${last.id}/outputs`)).body.outputs;
    assert.match(JSON.stringify(outputs), /3/);
    const logs = (await call('GET', `/api/pipelines/interrupted/logs?pipeline_run_id[]=${runId}`)).body.logs[0];
    assert.match(logs.pipeline_run_logs[0].content, new RegExp(`Pipeline run ${runId} adopted by`));
    // The partition's pipeline.log is on disk too, in Mage's layout.
    assert.ok(readFileSync(logs.pipeline_run_logs[0].path, 'utf8').length > 0);
  });
});
