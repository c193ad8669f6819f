/**
 * Triggers over real HTTP, on SQLite and PostgreSQL: the pipeline_schedules resource (every field, filters,
 * tags, event matchers, token shown once and rotated), the API trigger's two routes and both body forms with
 * its refusals, manual runs, event triggers, backfills, the schedulers resource, and triggers.yaml both ways.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DIALECTS, startTestServer, type TestServer } from '../helpers/server.js';
import { buildProject } from '../engine/projectBuilder.js';
import type { Engine } from '../../src/engine/engine.js';
import type { SchedulerService } from '../../src/scheduler/service.js';
import { waitFor } from '../helpers/wait.js';

const TS_BLOCK = `export default async function load(ctx: any) {\n  return { ok: true };\n}\n`;

function fixture(): string {
  return buildProject({
    p1: { blocks: [{ uuid: 'load', type: 'data_loader', language: 'typescript', code: TS_BLOCK }] },
    p2: { blocks: [{ uuid: 'load2', type: 'data_loader', language: 'typescript', code: TS_BLOCK }] },
    coded: { blocks: [{ uuid: 'load3', type: 'data_loader', language: 'typescript', code: TS_BLOCK }] },
  });
}

for (const dialect of DIALECTS) {
  describe(`triggers over HTTP (${dialect})`, () => {
    let t: TestServer;
    let scheduler: SchedulerService;
    let engine: Engine;
    before(async () => {
      process.env.BLOCKFLOW_WARM_RUNTIMES = '0';
      t = await startTestServer({ dialect, fixture: fixture() });
      scheduler = t.server.ctx.services.scheduler as SchedulerService;
      engine = t.server.ctx.services.engine as Engine;
    });
    after(async () => {
      await t?.close();
    });
    const call = (method: string, path: string, body?: unknown) => t.call(method, path, body, t.ownerToken);

    test('create, list with filters, detail, update every field, delete', async () => {
      const created = await call('POST', '/api/pipelines/p1/pipeline_schedules', {
        pipeline_schedule: {
          name: 'hourly',
          schedule_type: 'time',
          schedule_interval: '@hourly',
          start_time: '2024-01-01 00:00:00',
          status: 'inactive',
          variables: { a: 1 },
          description: 'every hour',
          tags: ['x', 'y'],
        },
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const s = created.body.pipeline_schedule;
      assert.equal(s.pipeline_uuid, 'p1');
      assert.match(s.token, /^[0-9a-f]{32}$/);
      assert.deepEqual(s.tags, ['x', 'y']);
      assert.equal(s.next_pipeline_run_date.slice(14), '00:00.000000+00:00');
      assert.equal(s.catch_up_policy, 'none');
      const api = await call('POST', '/api/pipelines/p2/pipeline_schedules', { pipeline_schedule: { name: 'hook', schedule_type: 'api', status: 'active' } });
      assert.equal(api.status, 200);
      assert.ok(api.body.pipeline_schedule.last_enabled_at);
      assert.equal(api.body.pipeline_schedule.next_pipeline_run_date, null);

      const all = await call('GET', '/api/pipeline_schedules?schedule_type[]=time,api');
      assert.equal(all.body.metadata.count, 2);
      // As Mage: the global list in id order, a pipeline's own triggers newest first.
      assert.deepEqual(all.body.pipeline_schedules.map((x: any) => x.name), [s.name, 'hook']);
      for (const key of ['pipeline_runs_count', 'pipeline_in_progress_runs_count', 'last_pipeline_run_status', 'event_matchers', 'tags', 'next_pipeline_run_date']) {
        assert.ok(key in all.body.pipeline_schedules[0], key);
      }
      assert.ok(all.body.pipeline_schedules.every((x: any) => x.token === null), 'tokens are never listed');
      assert.equal((await call('GET', '/api/pipeline_schedules?schedule_type[]=api')).body.metadata.count, 1);
      assert.equal((await call('GET', '/api/pipeline_schedules?tag[]=y')).body.metadata.count, 1);
      assert.equal((await call('GET', '/api/pipeline_schedules?status[]=active')).body.metadata.count, 1);
      assert.equal((await call('GET', '/api/pipelines/p2/pipeline_schedules')).body.metadata.count, 1);
      assert.equal((await call('GET', '/api/pipeline_schedules?_limit=1')).body.metadata.next, true);

      const updated = await call('PUT', `/api/pipeline_schedules/${s.id}`, {
        pipeline_schedule: {
          name: 'renamed',
          schedule_type: 'event',
          schedule_interval: null,
          sla: 40,
          status: 'active',
          settings: { skip_if_previous_running: true, allow_blocks_to_fail: true, create_initial_pipeline_run: true, landing_time_enabled: false, pipeline_run_limit: 2, timeout: 60, timeout_status: 'cancelled' },
          event_matchers: [{ event_type: 'aws_event', name: 'm1', pattern: { source: ['aws.s3'] } }, { event_type: 'aws_event', name: 'm2', pattern: { detail: { bucket: 'b' } } }],
          tags: ['z'],
          timezone: 'Europe/Paris',
          catch_up_policy: 'latest',
        },
      });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      const u = updated.body.pipeline_schedule;
      assert.equal(u.name, 'renamed');
      assert.equal(u.schedule_type, 'event');
      assert.equal(u.sla, 40);
      assert.equal(u.settings.timeout_status, 'cancelled');
      assert.equal(u.event_matchers.length, 2);
      assert.deepEqual(u.tags, ['z']);
      assert.equal(u.timezone, 'Europe/Paris');
      assert.equal(u.catch_up_policy, 'latest');
      assert.ok(u.last_enabled_at, 'enabling sets last_enabled_at');
      assert.equal(u.token, null);

      const del = await call('DELETE', `/api/pipeline_schedules/${s.id}`);
      assert.equal(del.status, 200);
      assert.equal((await call('GET', `/api/pipeline_schedules/${s.id}`)).status, 404);
    });

    test('bad values are refused with the field named', async () => {
      const bad = async (fields: Record<string, unknown>, pattern: RegExp) => {
        const res = await call('POST', '/api/pipelines/p1/pipeline_schedules', { pipeline_schedule: { name: 'bad', ...fields } });
        assert.ok(res.status === 422 || res.status === 400, JSON.stringify(res.body));
        assert.match(res.body.error.message, pattern);
      };
      await bad({ schedule_interval: '61 * * * *' }, /minute/);
      await bad({ schedule_interval: '@sometimes' }, /unknown interval/);
      await bad({ timezone: 'Mars/Base' }, /time zone/);
      await bad({ settings: { pipeline_run_limit: 0 } }, /pipeline_run_limit/);
      await bad({ settings: { timeout_status: 'done' } }, /timeout_status/);
      await bad({ settings: { not_a_setting: true } }, /not a trigger setting/);
      await bad({ catch_up_policy: 'sometimes' }, /catch_up_policy/);
      await bad({ start_time: 'yesterday' }, /start_time/);
      assert.equal((await call('POST', '/api/pipelines/nope/pipeline_schedules', { pipeline_schedule: { name: 'x' } })).status, 404);
    });

    test('the API trigger starts a run at once through both routes and both body forms', async () => {
      const created = await call('POST', '/api/pipelines/p2/pipeline_schedules', { pipeline_schedule: { name: 'api1', schedule_type: 'api', status: 'active', variables: { base: 1 } } });
      const { id, token } = created.body.pipeline_schedule;
      const first = await t.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs/${token}`, { pipeline_run: { variables: { x: 1 } }, source: 'ci' });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.metadata, undefined);
      const run = first.body.pipeline_run;
      assert.equal(run.pipeline_schedule_id, id);
      assert.equal(run.variables.x, 1);
      assert.equal(run.variables.base, 1);
      assert.deepEqual(run.event_variables, { source: 'ci' });
      assert.notEqual(run.status, 'initial', 'started in the request');
      assert.equal(await engine.waitForRun(run.id), 'completed');

      const second = await t.call('POST', `/api/pipeline_schedules/${id}/api_trigger`, { x: 2 }, token);
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.deepEqual(second.body.pipeline_run.event_variables, { x: 2 });
      const dated = await t.call('POST', `/api/pipeline_schedules/${id}/api_trigger`, { pipeline_run: { execution_date: '2024-02-03T04:05:06Z' } }, token);
      assert.equal(dated.body.pipeline_run.execution_date, '2024-02-03 04:05:06.000000+00:00');
      const again = await t.call('POST', `/api/pipeline_schedules/${id}/api_trigger`, { pipeline_run: { execution_date: '2024-02-03T04:05:06Z' } }, token);
      assert.equal(again.status, 409);
    });

    test('API trigger refusals: unknown 404, bad token 401, not api 400, inactive 409; rotation', async () => {
      const created = await call('POST', '/api/pipelines/p2/pipeline_schedules', { pipeline_schedule: { name: 'api2', schedule_type: 'api', status: 'inactive' } });
      const { id, token } = created.body.pipeline_schedule;
      assert.equal((await t.call('POST', `/api/pipeline_schedules/999999/pipeline_runs/${token}`, {})).status, 404);
      assert.equal((await t.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs/${'0'.repeat(32)}`, {})).status, 401);
      assert.equal((await t.call('POST', `/api/pipeline_schedules/${id}/api_trigger`, {})).status, 401);
      const inactive = await t.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs/${token}`, {});
      assert.equal(inactive.status, 409);
      assert.equal(inactive.body.error.type, 'trigger_inactive');
      assert.equal((await call('GET', `/api/pipeline_schedules/${id}`)).body.pipeline_schedule.status, 'inactive', 'not silently activated');
      const time = await call('POST', '/api/pipelines/p2/pipeline_schedules', { pipeline_schedule: { name: 'time2', schedule_type: 'time', status: 'active' } });
      const notApi = await t.call('POST', `/api/pipeline_schedules/${time.body.pipeline_schedule.id}/pipeline_runs/${time.body.pipeline_schedule.token}`, {});
      assert.equal(notApi.status, 400);
      assert.match(notApi.body.error.message, /only api triggers/);

      const rotated = await call('PUT', `/api/pipeline_schedules/${id}`, { pipeline_schedule: { rotate_token: true, status: 'active' } });
      const fresh = rotated.body.pipeline_schedule.token;
      assert.match(fresh, /^[0-9a-f]{32}$/);
      assert.equal((await t.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs/${token}`, {})).status, 401, 'the old token stops working');
      assert.equal((await t.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs/${fresh}`, {})).status, 200);
      const row = await t.server.ctx.store.schedules.get(id);
      assert.equal(row!.token, null);
      assert.notEqual(row!.token_hash, fresh, 'only the hash is stored');
    });

    test('manual runs and event triggers', async () => {
      const once = await call('POST', '/api/pipelines/p1/pipeline_schedules', { pipeline_schedule: { name: 'now', schedule_type: 'time', schedule_interval: '@once', status: 'inactive' } });
      const manual = await call('POST', `/api/pipeline_schedules/${once.body.pipeline_schedule.id}/pipeline_runs`, { pipeline_run: { variables: { m: 1 } } });
      assert.equal(manual.status, 200, JSON.stringify(manual.body));
      assert.equal(await engine.waitForRun(manual.body.pipeline_run.id), 'completed');

      const ev = await call('POST', '/api/pipelines/p1/pipeline_schedules', {
        pipeline_schedule: { name: 'on-upload', schedule_type: 'event', status: 'active', event_matchers: [{ event_type: 'aws_event', name: 'up', pattern: { source: ['aws.s3'], detail: { bucket: 'in' } } }] },
      });
      const miss = await call('POST', '/api/events', { event: { source: 'aws.ec2', detail: { bucket: 'in' } } });
      assert.equal(miss.status, 200);
      assert.equal(miss.body.pipeline_runs.length, 0);
      const hit = await call('POST', '/api/events', { event: { source: 'aws.s3', detail: { bucket: 'in', key: 'f.csv' } } });
      assert.equal(hit.body.pipeline_runs.length, 1);
      assert.equal(hit.body.pipeline_runs[0].pipeline_schedule_id, ev.body.pipeline_schedule.id);
      assert.equal(hit.body.pipeline_runs[0].event_variables.detail.key, 'f.csv');
    });

    test('backfills: create, preview, start one run per interval, progress, completion, cancel', async () => {
      const created = await call('POST', '/api/pipelines/p1/backfills', {
        backfill: { name: 'jan', start_datetime: '2024-01-01 00:00:00', end_datetime: '2024-01-04 00:00:00', interval_type: 'day', interval_units: 1, variables: { v: 1 } },
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const id = created.body.backfill.id;
      assert.equal(created.body.backfill.status, null);
      assert.equal(created.body.backfill.total_run_count, 4);
      const preview = await call('GET', `/api/backfills/${id}?include_preview_runs=true`);
      assert.equal(preview.body.backfill.preview_runs.length, 4);
      assert.equal(preview.body.backfill.preview_runs[1].variables.ds, '2024-01-02');
      const started = await call('PUT', `/api/backfills/${id}`, { backfill: { status: 'initial' } });
      assert.equal(started.status, 200, JSON.stringify(started.body));
      const done = await waitFor('backfill completion', async () => {
        const b = (await call('GET', `/api/backfills/${id}`)).body.backfill;
        return b.status === 'completed' ? b : undefined;
      });
      assert.equal(done.completed_run_count, 4);
      assert.equal(done.progress, 1);
      const runs = await call('GET', `/api/pipeline_runs?backfill_id=${id}`);
      assert.deepEqual(runs.body.pipeline_runs.map((r: any) => r.execution_date.slice(0, 10)).sort(), ['2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04']);
      assert.equal((await call('PUT', `/api/backfills/${id}`, { backfill: { status: 'initial' } })).status, 409, 'a finished backfill does not start again');

      const other = await call('POST', '/api/pipelines/p1/backfills', { backfill: { name: 'c', start_datetime: '2024-02-01', end_datetime: '2024-02-02', interval_type: 'day', interval_units: 1 } });
      const cancelled = await call('PUT', `/api/backfills/${other.body.backfill.id}`, { backfill: { status: 'cancelled' } });
      assert.equal(cancelled.body.backfill.status, 'cancelled');
      const huge = await call('POST', '/api/pipelines/p1/backfills', { backfill: { start_datetime: '2000-01-01', end_datetime: '2024-01-01', interval_type: 'minute', interval_units: 1 } });
      assert.equal(huge.status, 422);
    });

    test('schedulers resource reports this server', async () => {
      const res = await call('GET', '/api/schedulers');
      assert.equal(res.body.schedulers[0].status, 'running');
      assert.equal(res.body.schedulers[0].is_leader, true);
      const status = await t.call('GET', '/api/status');
      assert.equal(status.body.statuses[0].scheduler_status, 'running');
    });

    test('triggers.yaml: file edits apply without a restart, a broken file is reported for its pipeline only, API changes are written back', async () => {
      const file = join(t.projectDir, 'pipelines/coded/triggers.yaml');
      writeFileSync(file, 'triggers:\n- name: from_file\n  schedule_type: time\n  schedule_interval: "@daily"\n  status: inactive\n  envs: []\n');
      scheduler.wake('files');
      const row = await waitFor('file trigger', async () => (await t.server.ctx.store.schedules.listForPipeline('coded')).find((s) => s.name === 'from_file'));
      assert.equal(row.schedule_interval, '@daily');
      writeFileSync(file, 'triggers:\n- name: from_file\n  schedule_type: time\n  schedule_interval: "0 5 * * *"\n  status: inactive\n');
      scheduler.wake('files');
      await waitFor('file edit', async () => (await t.server.ctx.store.schedules.get(row.id))?.schedule_interval === '0 5 * * *');

      writeFileSync(file, 'triggers: [\n');
      scheduler.wake('files');
      await waitFor('file error', async () => scheduler.files.errors.get('coded'));
      const report = await call('GET', '/api/schedulers');
      assert.match(report.body.schedulers[0].trigger_file_errors.coded[0], /Invalid triggers.yaml of pipeline coded/);
      assert.equal(report.body.schedulers[0].status, 'running');
      assert.equal((await call('GET', '/api/pipelines/coded/pipeline_triggers')).status, 422);

      writeFileSync(file, 'triggers:\n- name: from_file\n  schedule_interval: "99 * * * *"\n- name: good\n  schedule_interval: "@hourly"\n');
      scheduler.wake('files');
      await waitFor('good trigger', async () => (await t.server.ctx.store.schedules.listForPipeline('coded')).find((s) => s.name === 'good'));
      assert.match(scheduler.files.errors.get('coded')![0], /from_file.*minute/);

      writeFileSync(file, 'triggers:\n- name: from_file\n  schedule_interval: "0 5 * * *"\n');
      const upd = await call('PUT', `/api/pipeline_schedules/${row.id}`, { pipeline_schedule: { schedule_interval: '0 6 * * *', name: 'from_file2' } });
      assert.equal(upd.status, 200);
      const text = readFileSync(file, 'utf8');
      assert.match(text, /name: from_file2/);
      assert.match(text, /schedule_interval: 0 6 \* \* \*/);
      assert.doesNotMatch(text, /name: from_file\n/);
      const listed = await call('GET', '/api/pipelines/coded/pipeline_triggers');
      assert.equal(listed.body.pipeline_triggers[0].name, 'from_file2');
    });
  });
}
