/**
 * Two scheduler processes on one PostgreSQL database: only the leader fires time triggers, no trigger gets two
 * runs and no run is started twice; when the leader is killed (SIGKILL), the other takes over within seconds
 * and fires the triggers created after the kill.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildProject } from '../engine/projectBuilder.js';
import { createFreshPgDatabase, type FreshPgDatabase } from '../helpers/pg.js';
import { openStore, type Store } from '../../src/store/db.js';
import { waitFor } from '../helpers/wait.js';
import { spawnScheduler, type SchedulerProc } from './spawnScheduler.js';


/** Short timings, so a takeover happens within the test. */
const TUNING = { standbyRetryMs: 300, sweepMs: 300, fileScanMs: 300 };

let db: FreshPgDatabase;
let store: Store;
const procs: SchedulerProc[] = [];

before(async () => {
  db = await createFreshPgDatabase();
  store = await openStore({ url: db.url });
});
after(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await store?.close();
  await db?.drop();
});

test('two schedulers on one PostgreSQL: one leader, no duplicate, takeover within seconds after SIGKILL', async () => {
  const projectDir = buildProject({
    quick: { blocks: [{ uuid: 'q', type: 'data_loader', language: 'typescript', code: 'export default async function q() {\n  return 1;\n}\n' }] },
  });
  const a = spawnScheduler(projectDir, db.url, 'proc-a', TUNING);
  procs.push(a);
  await waitFor('first leader', () => a.events.some((e) => e.event === 'leader'));
  const b = spawnScheduler(projectDir, db.url, 'proc-b', TUNING);
  procs.push(b);
  await waitFor('second ready', () => b.events.some((e) => e.event === 'ready'));
  await sleep(500);
  assert.equal(b.events.filter((e) => e.event === 'leader').length, 0, 'the second process stays standby');

  const once = async (name: string) =>
    store.schedules.create({ name, pipeline_uuid: 'quick', schedule_type: 'time', schedule_interval: '@once', status: 'active' });
  const before = await Promise.all(Array.from({ length: 10 }, (_, i) => once(`before-${i}`)));
  const runsOf = async (ids: number[]) => (await store.pipelineRuns.list({ pipelineScheduleIds: ids })).rows;
  await waitFor('runs of the leader', async () => (await runsOf(before.map((s) => s.id))).filter((r) => r.status === 'completed').length === 10);

  a.child.kill('SIGKILL');
  const killedAt = Date.now();
  const afterKill = await Promise.all(Array.from({ length: 5 }, (_, i) => once(`after-${i}`)));
  await waitFor('takeover', () => b.events.some((e) => e.event === 'leader'), 15_000);
  await waitFor('runs after the takeover', async () => (await runsOf(afterKill.map((s) => s.id))).filter((r) => r.status === 'completed').length === 5, 15_000);
  const tookOverMs = Date.now() - killedAt;
  assert.ok(tookOverMs < 15_000, `took over in ${tookOverMs} ms`);
  process.stdout.write(`# takeover and 5 runs completed ${tookOverMs} ms after SIGKILL\n`);

  const all = await runsOf([...before, ...afterKill].map((s) => s.id));
  assert.equal(all.length, 15, 'exactly one run per @once trigger');
  assert.deepEqual([...new Set(all.map((r) => r.pipeline_schedule_id))].length, 15);
  assert.ok(all.filter((r) => afterKill.some((s) => s.id === r.pipeline_schedule_id)).every((r) => r.owner_id === 'proc-b'));
  const started = [...a.events, ...b.events].filter((e) => e.event === 'started').map((e) => e.runId);
  assert.equal(new Set(started).size, started.length, 'no run was started twice');
  assert.equal(started.length, 15);
});
