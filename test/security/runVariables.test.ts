/**
 * Run variables that name paths (issue 17, item 3), over real HTTP on SQLite and PostgreSQL: an
 * `execution_partition` that is not plain folder names is refused with a 400 naming it wherever a request
 * carries run variables (API trigger, manual run, trigger create/update, backfill create/update, triggers.yaml,
 * `blockflow run --var`); when such a value reaches the engine from a database row (a stored trigger's or
 * backfill's variables, a run left by an older server), the run is failed with the reason instead of being
 * left running with a run slot taken; nothing is written outside the pipeline's folders.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DIALECTS, type TestServer } from '../helpers/server.js';
import { assertError, makeUser, startApiServer, type TestUser } from '../api/support.js';
import { buildProject } from '../engine/projectBuilder.js';
import { waitFor } from '../helpers/wait.js';
import type { Engine } from '../../src/engine/engine.js';
import type { SchedulerService } from '../../src/scheduler/service.js';
import { fileTree } from '../helpers/files.js';

const TS_BLOCK = `export default async function load(ctx: any) {\n  return { partition: ctx.kwargs.execution_partition ?? null };\n}\n`;

/** Values of execution_partition that must never become a path. */
const BAD_PARTITIONS: unknown[] = ['../x', '../../../../tmp/escape', '/etc', 'a/../../b', '', '.', 'a//b', 'a\\..\\b', 'a\u0000b', 'x'.repeat(201), 'a/b/c/d/e/f/g/h/i', 5, { p: 1 }];

function fixture(): string {
  return buildProject({
    p1: { blocks: [{ uuid: 'load', type: 'data_loader', language: 'typescript', code: TS_BLOCK }] },
    broken: { blocks: [{ uuid: 'load_b', type: 'data_loader', language: 'typescript', code: TS_BLOCK }] },
    gone: { blocks: [{ uuid: 'load_g', type: 'data_loader', language: 'typescript', code: TS_BLOCK }] },
  });
}


for (const dialect of DIALECTS) {
  describe(`run variables that name paths (${dialect})`, () => {
    let t: TestServer;
    let engine: Engine;
    let scheduler: SchedulerService;
    let editor: TestUser;
    let viewer: TestUser;
    let dataDir: string;

    before(async () => {
      t = await startApiServer(dialect, { fixture: fixture() });
      engine = t.server.ctx.services.engine as Engine;
      scheduler = t.server.ctx.services.scheduler as SchedulerService;
      dataDir = t.server.ctx.project.dataDir;
      editor = await makeUser(t, 'editor', `editor_${dialect}`);
      viewer = await makeUser(t, 'viewer', `viewer_${dialect}`);
    });
    after(async () => {
      await t?.close();
    });

    const activeRuns = async () => (await t.server.ctx.store.pipelineRuns.list({ statuses: ['initial', 'running'] })).rows;
    const runsOf = async (scheduleId: number) => (await t.server.ctx.store.pipelineRuns.list({ pipelineScheduleId: scheduleId })).rows;
    /** Nothing appeared beside the pipeline's own folders in the data dir (where `..` partitions would land). */
    const assertNoEscape = () => {
      assert.deepEqual(fileTree(join(dataDir, 'pipelines', 'p1')).filter((p) => !p.startsWith('.variables') && !p.startsWith('.logs')), []);
      assert.equal(existsSync(join(dataDir, 'pipelines', 'x')), false);
      assert.equal(existsSync(join(dataDir, 'x')), false);
      assert.equal(existsSync('/tmp/escape'), false);
    };

    const apiTrigger = async (name: string, fields: Record<string, unknown> = {}) => {
      const res = await t.call('POST', '/api/pipelines/p1/pipeline_schedules', { pipeline_schedule: { name, schedule_type: 'api', status: 'active', ...fields } }, editor.token);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.pipeline_schedule as { id: number; token: string };
    };

    test('the API trigger refuses every path-like execution_partition with a 400 naming it, on both routes; no run is created', async () => {
      const { id, token } = await apiTrigger('hook');
      for (const value of BAD_PARTITIONS) {
        const inUrl = await t.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs/${token}`, { pipeline_run: { variables: { execution_partition: value } } });
        assertError(inUrl, 400, /execution_partition/, 'invalid_request');
        const bearer = await t.call('POST', `/api/pipeline_schedules/${id}/api_trigger`, { variables: { execution_partition: value } }, token);
        assertError(bearer, 400, /execution_partition/, 'invalid_request');
      }
      assert.equal((await runsOf(id)).length, 0, 'a refused call creates no run');
      assert.equal((await activeRuns()).length, 0);
      assertNoEscape();

      // Plain folder names stay allowed (Mage honours a run's own partition): the outputs land there.
      const ok = await t.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs/${token}`, { pipeline_run: { variables: { execution_partition: 'custom/part_1' } } });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(await engine.waitForRun(ok.body.pipeline_run.id), 'completed');
      assert.ok(existsSync(join(dataDir, 'pipelines', 'p1', '.variables', 'custom', 'part_1', 'load', 'output_0')));
      assertNoEscape();
    });

    test('manual runs: an editor gets a 400 naming the variable, a viewer a 403; no run is created', async () => {
      const once = await apiTrigger('manual', { schedule_type: 'time', schedule_interval: '@once', status: 'inactive' });
      for (const user of [editor, viewer]) {
        const res = await t.call('POST', `/api/pipeline_schedules/${once.id}/pipeline_runs`, { pipeline_run: { variables: { execution_partition: '../x' } } }, user.token);
        if (user === viewer) assert.equal(res.status, 403, JSON.stringify(res.body));
        else assertError(res, 400, /execution_partition/);
      }
      assert.equal((await runsOf(once.id)).length, 0);
      const fine = await t.call('POST', `/api/pipeline_schedules/${once.id}/pipeline_runs`, { pipeline_run: { variables: { other: '../x' } } }, editor.token);
      assert.equal(fine.status, 200, 'other variables are data, not paths');
      assert.equal(await engine.waitForRun(fine.body.pipeline_run.id), 'completed');
      assertNoEscape();
    });

    test('trigger create and update refuse such variables (400 for an editor, 403 for a viewer) and keep the trigger as it was', async () => {
      for (const user of [editor, viewer]) {
        const res = await t.call('POST', '/api/pipelines/p1/pipeline_schedules', { pipeline_schedule: { name: `bad_${user.id}`, schedule_type: 'api', variables: { execution_partition: '../../x' } } }, user.token);
        if (user === viewer) assert.equal(res.status, 403);
        else assertError(res, 400, /execution_partition/);
      }
      assert.equal((await t.server.ctx.store.schedules.listForPipeline('p1')).some((s) => s.name.startsWith('bad_')), false);

      const { id } = await apiTrigger('kept', { variables: { a: 1 } });
      for (const user of [editor, viewer]) {
        const res = await t.call('PUT', `/api/pipeline_schedules/${id}`, { pipeline_schedule: { name: 'renamed', variables: { execution_partition: '/abs' } } }, user.token);
        if (user === viewer) assert.equal(res.status, 403);
        else assertError(res, 400, /execution_partition/);
      }
      const row = await t.server.ctx.store.schedules.get(id);
      assert.equal(row!.name, 'kept');
      assert.deepEqual(row!.variables, { a: 1 });
    });

    test('backfill create and update refuse such variables; nothing is saved', async () => {
      const range = { start_datetime: '2024-01-01 00:00:00', end_datetime: '2024-01-02 00:00:00', interval_type: 'day', interval_units: 1 };
      const before = (await t.server.ctx.store.backfills.list({})).rows.length;
      for (const user of [editor, viewer]) {
        const res = await t.call('POST', '/api/pipelines/p1/backfills', { backfill: { name: 'bf', ...range, variables: { execution_partition: '..' } } }, user.token);
        if (user === viewer) assert.equal(res.status, 403);
        else assertError(res, 400, /execution_partition/);
      }
      assert.equal((await t.server.ctx.store.backfills.list({})).rows.length, before);
      const created = await t.call('POST', '/api/pipelines/p1/backfills', { backfill: { name: 'bf2', ...range, variables: { v: 1 } } }, editor.token);
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const upd = await t.call('PUT', `/api/backfills/${created.body.backfill.id}`, { backfill: { variables: { execution_partition: '../y' } } }, editor.token);
      assertError(upd, 400, /execution_partition/);
      assert.deepEqual((await t.server.ctx.store.backfills.get(created.body.backfill.id))!.variables, { v: 1 });
    });

    test("a stored trigger's bad partition fails each run with the reason: three calls leave no run running and the run slot free", async () => {
      const { id, token } = await apiTrigger('stored', { settings: { pipeline_run_limit: 1 } });
      // Written behind the API's back (another tool, an older server, a restored database).
      await t.server.ctx.store.schedules.update(id, { variables: { execution_partition: '../x' } });
      const failed: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await t.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs/${token}`, { pipeline_run: { variables: { n: i } } });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const run = res.body.pipeline_run;
        assert.equal(run.status, 'failed');
        assert.match(run.metrics.error.message, /execution_partition "\.\.\/x"/);
        assert.notEqual(run.variables.execution_partition, '../x', 'the record keeps only a usable partition');
        assert.ok(run.block_runs.every((b: { status: string }) => b.status === 'cancelled'), JSON.stringify(run.block_runs));
        failed.push(run.id);
      }
      assert.equal((await activeRuns()).length, 0, 'no run is left initial or running');

      // A viewer sees the reason in the run and in its pipeline log.
      const detail = await t.call('GET', `/api/pipeline_runs/${failed[0]}`, undefined, viewer.token);
      assert.equal(detail.status, 200);
      assert.equal(detail.body.pipeline_run.status, 'failed');
      const log = await waitFor('the failure in pipeline.log', async () => {
        const res = await t.call('GET', `/api/pipelines/p1/logs?pipeline_run_id[]=${failed[0]}`, undefined, viewer.token);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const content: string = res.body.logs[0].pipeline_run_logs[0]?.content ?? '';
        return content.includes('execution_partition') ? content : undefined;
      });
      assert.match(log, /could not start/);

      // The trigger's one run slot is free: a good run starts and completes at once.
      await t.server.ctx.store.schedules.update(id, { variables: {} });
      const good = await t.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs/${token}`, {});
      assert.equal(good.status, 200);
      assert.notEqual(good.body.pipeline_run.status, 'initial', 'not left waiting for a slot');
      assert.equal(await engine.waitForRun(good.body.pipeline_run.id), 'completed');
      assertNoEscape();
    });

    test("a stored backfill's bad partition fails its runs and the backfill; nothing is left running", async () => {
      const created = await t.call('POST', '/api/pipelines/p1/backfills', {
        backfill: { name: 'stored', start_datetime: '2024-03-01 00:00:00', end_datetime: '2024-03-03 00:00:00', interval_type: 'day', interval_units: 1 },
      }, editor.token);
      const id = created.body.backfill.id;
      await t.server.ctx.store.backfills.update(id, { variables: { execution_partition: '../../z' } });
      const started = await t.call('PUT', `/api/backfills/${id}`, { backfill: { status: 'initial' } }, editor.token);
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const done = await waitFor('the backfill to finish', async () => {
        const b = await t.server.ctx.store.backfills.get(id);
        return b && b.status !== 'running' ? b : undefined;
      });
      assert.equal(done.status, 'failed');
      const runs = (await t.server.ctx.store.pipelineRuns.list({ backfillId: id })).rows;
      assert.equal(runs.length, 3);
      for (const run of runs) {
        assert.equal(run.status, 'failed');
        assert.match(JSON.stringify(run.metrics), /execution_partition/);
      }
      assert.equal((await activeRuns()).length, 0);
      assertNoEscape();
    });

    test('a run left running by an older server with such a partition is failed when adopted, not resumed', async () => {
      const store = t.server.ctx.store;
      const { run } = await store.pipelineRuns.createWithBlockRuns(
        { pipeline_uuid: 'p1', status: 'running', variables: { execution_partition: '../../../../tmp/escape' }, owner_id: 'dead-server', heartbeat_at: new Date(0), started_at: new Date(0) },
        ['load'],
      );
      // The heartbeat adopts orphans too; whichever call takes this one, it ends failed.
      await engine.recover();
      const after = await waitFor('the adopted run to fail', async () => {
        const row = await store.pipelineRuns.get(run.id);
        return row?.status === 'failed' ? row : undefined;
      });
      assert.match(JSON.stringify(after!.metrics), /could not be resumed.*execution_partition/);
      assert.deepEqual((await store.blockRuns.listForRun(run.id)).map((b) => b.status), ['cancelled']);
      // Readers ignore the stored value: the logs API answers, from the run's default partition.
      const logs = await t.call('GET', `/api/pipelines/p1/logs?pipeline_run_id[]=${run.id}`, undefined, viewer.token);
      assert.equal(logs.status, 200, JSON.stringify(logs.body));
      assertNoEscape();
    });

    test('a pipeline that no longer loads: the API trigger answers 422 naming it and creates no run', async () => {
      const { id, token } = await apiTrigger('broken_hook');
      await t.server.ctx.store.schedules.update(id, { pipeline_uuid: 'broken' });
      const file = join(t.projectDir, 'pipelines', 'broken', 'metadata.yaml');
      const saved = readFileSync(file, 'utf8');
      writeFileSync(file, 'blocks: [\n');
      try {
        const res = await t.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs/${token}`, {});
        assertError(res, 422, /broken/);
        assert.equal((await runsOf(id)).length, 0);
      } finally {
        writeFileSync(file, saved);
      }
    });

    test('a run whose pipeline is gone by the time it starts is failed with the reason, not left running', async () => {
      const run = await engine.createRun({ pipelineUuid: 'gone', start: false });
      rmSync(join(t.projectDir, 'pipelines', 'gone'), { recursive: true });
      assert.equal(await engine.startRun(run.id), false);
      const after = await t.server.ctx.store.pipelineRuns.get(run.id);
      assert.equal(after!.status, 'failed');
      assert.match(JSON.stringify(after!.metrics), /could not start.*gone/);
      assert.deepEqual((await t.server.ctx.store.blockRuns.listForRun(run.id)).map((b) => b.status), ['cancelled']);
      assert.equal((await activeRuns()).length, 0);
      const detail = await t.call('GET', `/api/pipeline_runs/${run.id}`, undefined, viewer.token);
      assert.equal(detail.body.pipeline_run.status, 'failed');
    });

    test('triggers.yaml entries with such variables are not imported; the file error names the variable', async () => {
      const file = join(t.projectDir, 'pipelines', 'p1', 'triggers.yaml');
      writeFileSync(file, 'triggers:\n- name: from_file\n  schedule_type: api\n  status: active\n  variables:\n    execution_partition: ../../x\n');
      try {
        await scheduler.files.syncPipeline('p1');
        assert.match(scheduler.files.errors.get('p1')?.join('\n') ?? '', /from_file.*execution_partition/s);
        assert.equal((await t.server.ctx.store.schedules.listForPipeline('p1')).some((s) => s.name === 'from_file'), false);
      } finally {
        rmSync(file, { force: true });
      }
    });

    test('POST /api/runs ignores execution_partition: the server picks the partition, nothing lands outside', async () => {
      const { token } = await apiTrigger('sync');
      const res = await t.call('POST', `/api/runs/${token}`, { run: { pipeline_uuid: 'p1', block_uuid: 'load', variables: { execution_partition: '../../../x' } } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const partition: string = res.body.run.output[0].partition;
      assert.match(partition, /^\d+\/\d{8}T\d{6}_\d{6}\/[0-9a-f]{8}$/, 'the block sees the server-made partition');
      assertNoEscape();
    });
  });
}

describe('blockflow run --var execution_partition', () => {
  test('a path-like value is refused before any run: exit code 2 and a message naming the variable', async () => {
    const root = fixture();
    try {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', root, 'p1', '--var', 'execution_partition=../../x'], {
          cwd: new URL('../..', import.meta.url).pathname,
          env: { ...process.env, CI: '1', MAGE_DATA_DIR: '', MAGE_DATABASE_CONNECTION_URL: '', DATABASE_URL: '' },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /execution_partition/);
    } finally {
      rmSync(dirname(root), { recursive: true, force: true });
    }
  });
});
