/**
 * The scheduler service against a real store and engine (SQLite and PostgreSQL): time triggers ticked with a
 * frozen clock (one run per execution date, never two; catch-up after downtime), run limits per trigger and
 * per pipeline with wait and skip, skip_if_previous_running, the timeout settings, allow_blocks_to_fail, and
 * the SLA flag with its notification.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildProject } from '../engine/projectBuilder.js';
import { forEachDialect } from '../helpers/pg.js';
import { loadProject } from '../../src/project/projectConfig.js';
import { createEngineStack, type EngineStack } from '../../src/engine/stack.js';
import { SchedulerService } from '../../src/scheduler/service.js';
import type { Store } from '../../src/store/db.js';
import type { ScheduleRow } from '../../src/store/schedules.js';
import { waitFor } from '../helpers/wait.js';

/** A TypeScript block that runs until the file `name` exists in `gateDir`. */
const gatedIn = (gateDir: string, name: string) =>
  `import { existsSync } from 'node:fs';\nexport default async function gate() {\n  while (!existsSync(${JSON.stringify(join(gateDir, name))})) await new Promise((r) => setTimeout(r, 20));\n  return 1;\n}\n`;
const quick = `export default async function quick() {\n  return 1;\n}\n`;
const failing = `export default async function boom() {\n  throw new Error('boom');\n}\n`;

forEachDialect('scheduler service', (open) => {
  const gateDir = mkdtempSync(join(tmpdir(), 'blockflow-gates-'));
  const gated = (name: string) => gatedIn(gateDir, name);
  let store: Store;
  let stack: EngineStack;
  let service: SchedulerService;
  let clock = new Date('2024-05-15T10:30:00Z');
  let root: string;
  before(async () => {
    process.env.BLOCKFLOW_WARM_RUNTIMES = '0';
    root = buildProject({
      quick: { blocks: [{ uuid: 'q', type: 'data_loader', language: 'typescript', code: quick }] },
      limited: {
        blocks: [{ uuid: 'hold', type: 'data_loader', language: 'typescript', code: gated('limited') }],
        concurrency_config: { pipeline_run_limit: 1 },
      },
      skipping: {
        blocks: [{ uuid: 'hold2', type: 'data_loader', language: 'typescript', code: gated('skipping') }],
        concurrency_config: { pipeline_run_limit_all_triggers: 1, on_pipeline_run_limit_reached: 'skip' },
      },
      slow: { blocks: [{ uuid: 'hold3', type: 'data_loader', language: 'typescript', code: gated('never') }] },
      fragile: {
        blocks: [
          { uuid: 'boom', type: 'data_loader', language: 'typescript', code: failing },
          { uuid: 'fine', type: 'data_loader', language: 'typescript', code: quick },
        ],
      },
    });
    store = await open();
    const project = loadProject(root, { ...process.env, MAGE_DATA_DIR: '' });
    stack = await createEngineStack({ project, store, instanceId: 'test-scheduler' });
    service = new SchedulerService({ project, store, engine: stack.engine, now: () => clock, loop: false, watchFiles: false });
    await service.start();
  });
  after(async () => {
    writeFileSync(join(gateDir, 'never'), '');
    await service?.stop();
    await stack?.close();
  });

  const trigger = (fields: Partial<ScheduleRow>) =>
    store.schedules.create({ name: `t${Math.random()}`, pipeline_uuid: 'quick', schedule_type: 'time', status: 'active', ...fields } as never);
  const runsOf = async (id: number) => (await store.pipelineRuns.list({ pipelineScheduleId: id, orderBy: [{ column: 'execution_date', direction: 'asc' }] })).rows;

  test('a cron trigger gets one run per execution date, however often the loop looks', async () => {
    clock = new Date('2024-05-15T10:30:00Z');
    const s = await trigger({ schedule_interval: '*/15 * * * *' });
    await service.tick();
    await service.tick();
    assert.deepEqual((await runsOf(s.id)).map((r) => r.execution_date), ['2024-05-15 10:15:00.000000+00:00']);
    clock = new Date('2024-05-15T10:46:00Z');
    await service.tick();
    await service.tick();
    assert.deepEqual((await runsOf(s.id)).map((r) => r.execution_date!.slice(11, 16)), ['10:15', '10:45']);
    await store.schedules.update(s.id, { status: 'inactive' });
  });

  test('after downtime: none fires only the current interval, all fires every missed one up to its bound', async () => {
    clock = new Date('2024-05-16T00:30:00Z');
    const none = await trigger({ schedule_interval: '@hourly' });
    const all = await trigger({ schedule_interval: '@hourly', catch_up_policy: 'all', settings: { catch_up_max: 3 } });
    await service.tick();
    clock = new Date('2024-05-16T06:10:00Z'); // six hours later
    await service.tick();
    assert.deepEqual((await runsOf(none.id)).map((r) => r.execution_date!.slice(11, 13)), ['00', '06']);
    assert.deepEqual((await runsOf(all.id)).map((r) => r.execution_date!.slice(11, 13)), ['00', '04', '05', '06']);
    await store.schedules.update(none.id, { status: 'inactive' });
    await store.schedules.update(all.id, { status: 'inactive' });
  });

  test('pipeline_run_limit with wait: the second run waits in initial and starts when the first finishes', async () => {
    const s = await trigger({ pipeline_uuid: 'limited', schedule_type: 'api' });
    const a = await service.triggerRun(s);
    const b = await service.triggerRun(s);
    assert.equal(a.status, 'running');
    assert.equal(b.status, 'initial');
    writeFileSync(join(gateDir, 'limited'), '');
    assert.equal(await stack.engine.waitForRun(a.id), 'completed');
    assert.equal(await stack.engine.waitForRun(b.id), 'completed');
  });

  test('pipeline_run_limit_all_triggers with skip: a run past the limit is cancelled', async () => {
    const s1 = await trigger({ pipeline_uuid: 'skipping', schedule_type: 'api' });
    const s2 = await trigger({ pipeline_uuid: 'skipping', schedule_type: 'api' });
    const a = await service.triggerRun(s1);
    const b = await service.triggerRun(s2);
    assert.equal(a.status, 'running');
    assert.equal(b.status, 'cancelled');
    writeFileSync(join(gateDir, 'skipping'), '');
    assert.equal(await stack.engine.waitForRun(a.id), 'completed');
  });

  test('settings.pipeline_run_limit overrides the pipeline and applies per trigger', async () => {
    const s = await trigger({ pipeline_uuid: 'slow', schedule_type: 'api', settings: { pipeline_run_limit: 2 } });
    const runs = [await service.triggerRun(s), await service.triggerRun(s), await service.triggerRun(s)];
    assert.deepEqual(runs.map((r) => r.status), ['running', 'running', 'initial']);
    for (const r of runs) await stack.engine.cancelRun(r.id);
  });

  test('skip_if_previous_running: a new run is created cancelled while another is in progress', async () => {
    const s = await trigger({ pipeline_uuid: 'slow', schedule_type: 'api', settings: { skip_if_previous_running: true } });
    const a = await service.triggerRun(s);
    const b = await service.triggerRun(s);
    assert.equal(a.status, 'running');
    assert.equal(b.status, 'cancelled');
    await stack.engine.cancelRun(a.id);
  });

  test('timeout and timeout_status end a run that takes too long', async () => {
    const s = await trigger({ pipeline_uuid: 'slow', schedule_type: 'api', settings: { timeout: 0.3, timeout_status: 'cancelled' } });
    const a = await service.triggerRun(s);
    assert.equal(await stack.engine.waitForRun(a.id), 'cancelled');
    const f = await trigger({ pipeline_uuid: 'slow', schedule_type: 'api', settings: { timeout: 0.3 } });
    assert.equal(await stack.engine.waitForRun((await service.triggerRun(f)).id), 'failed');
  });

  test('allow_blocks_to_fail lets the other blocks run', async () => {
    const s = await trigger({ pipeline_uuid: 'fragile', schedule_type: 'api', settings: { allow_blocks_to_fail: true } });
    const run = await service.triggerRun(s);
    await stack.engine.waitForRun(run.id);
    const blocks = await store.blockRuns.listForRun(run.id);
    assert.equal(blocks.find((b) => b.block_uuid === 'fine')?.status, 'completed');
    assert.equal(blocks.find((b) => b.block_uuid === 'boom')?.status, 'failed');
  });

  test('sla: a run still going after execution date + sla is flagged once and a notification is emitted', async () => {
    const s = await trigger({ pipeline_uuid: 'slow', schedule_type: 'api', sla: 1 });
    const notified = new Promise<any>((resolve) => service.once('notification', resolve));
    const run = await service.triggerRun(s);
    const note = await notified;
    assert.equal(note.type, 'trigger_passed_sla');
    assert.equal(note.pipeline_run_id, run.id);
    assert.equal((await store.pipelineRuns.get(run.id))!.passed_sla, true);
    await stack.engine.cancelRun(run.id);
  });
});

