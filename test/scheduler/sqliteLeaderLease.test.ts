/**
 * The SQLite leader lease: of two holders on one database file only one leads; releasing hands over at once.
 * Then two real scheduler processes on one SQLite file: exactly one leader at a time; a frozen leader (SIGSTOP)
 * is replaced once its lease expires and steps down when it resumes (its renewal finds another owner); a
 * killed leader (SIGKILL) is replaced; no trigger gets two runs and no run is started twice.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { buildProject } from '../engine/projectBuilder.js';
import { openStore, type Store } from '../../src/store/db.js';
import { LEASE_TABLE, SqliteLeaseLock, leaderLockFor } from '../../src/scheduler/leaderLock.js';
import { waitFor } from '../helpers/wait.js';
import { spawnScheduler, type SchedulerProc } from './spawnScheduler.js';


const TUNING = { standbyRetryMs: 150, sweepMs: 200, fileScanMs: 500, watchFiles: false, lockOptions: { renewMs: 150, leaseMs: 600 } };

/** Leadership changes of a process, in order: true for `leader`, false for `standby`. */
const leadership = (p: SchedulerProc) => p.events.filter((e) => e.event === 'leader' || e.event === 'standby').map((e) => e.event === 'leader');
const leads = (p: SchedulerProc) => leadership(p).at(-1) === true;

let dir: string;
let url: string;
let store: Store;
const procs: SchedulerProc[] = [];
const extraStores: Store[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blockflow-lease-'));
  url = `sqlite://${join(dir, 'mage-ai.db')}`;
  store = await openStore({ url });
});
after(async () => {
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
  }
  await Promise.allSettled(extraStores.map((s) => s.close()));
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('one SQLite lease holder at a time; release hands over; bad timings are refused', async () => {
  const other = await openStore({ url });
  extraStores.push(other);
  const a = leaderLockFor(store, 'lease-unit');
  const b = leaderLockFor(other, 'lease-unit');
  assert.ok(a instanceof SqliteLeaseLock && b instanceof SqliteLeaseLock);
  assert.equal(await a.tryAcquire(), true);
  assert.equal(await b.tryAcquire(), false, 'an unexpired lease of another holder is not taken');
  assert.equal(a.held(), true);
  assert.equal(b.held(), false);
  const { rows } = await sql<{ owner: string }>`select owner from ${sql.table(LEASE_TABLE)} where project_key = 'lease-unit'`.execute(store.db);
  assert.deepEqual(rows, [{ owner: a.owner }]);
  const elsewhere = leaderLockFor(other, 'another-project');
  assert.equal(await elsewhere.tryAcquire(), true, 'each project has its own lease');
  await elsewhere.release();

  await a.release();
  assert.equal(a.held(), false);
  assert.equal(await b.tryAcquire(), true, 'a released lease is free at once');
  assert.equal(await a.tryAcquire(), false);
  await b.release();

  assert.throws(() => new SqliteLeaseLock(store, 'x', { renewMs: 1000, leaseMs: 500 }), /leaseMs > renewMs/);
});

test('an unexpired lease is taken at once only when its holder is a process of this machine that is gone', async () => {
  const probe = new SqliteLeaseLock(store, 'lease-gone');
  assert.equal(await probe.tryAcquire(), true);
  const { rows } = await sql<{ host: string }>`select host from ${sql.table(LEASE_TABLE)} where project_key = 'lease-gone'`.execute(store.db);
  await probe.release();
  const gone = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => gone.once('exit', resolve));
  const hold = (host: string, pid: number) =>
    sql`insert into ${sql.table(LEASE_TABLE)} (project_key, owner, host, pid, expires_at, acquired_at)
      values ('lease-gone', 'someone', ${host}, ${pid}, ${Date.now() + 3_600_000}, ${Date.now()})
      on conflict (project_key) do update set owner = excluded.owner, host = excluded.host, pid = excluded.pid, expires_at = excluded.expires_at`.execute(store.db);

  const lock = new SqliteLeaseLock(store, 'lease-gone');
  await hold(`${rows[0].host} elsewhere`, gone.pid!);
  assert.equal(await lock.tryAcquire(), false, 'a holder on another machine is trusted until its lease expires');
  await hold(rows[0].host, process.ppid);
  assert.equal(await lock.tryAcquire(), false, 'a living holder keeps its lease');
  await hold(rows[0].host, gone.pid!);
  assert.equal(await lock.tryAcquire(), true, 'the lease of an exited process is taken at once');
  await lock.release();
});

test('two scheduler processes on one SQLite file: one leader, takeover after the lease expires, no duplicate', async () => {
  const projectDir = buildProject({
    quick: { blocks: [{ uuid: 'q', type: 'data_loader', language: 'typescript', code: 'export default async function q() {\n  return 1;\n}\n' }] },
  });
  const once = (name: string) => store.schedules.create({ name, pipeline_uuid: 'quick', schedule_type: 'time', schedule_interval: '@once', status: 'active' });
  const onceMany = async (prefix: string, n: number) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await once(`${prefix}-${i}`));
    return out;
  };
  const runsOf = async (ids: number[]) => (await store.pipelineRuns.list({ pipelineScheduleIds: ids })).rows;
  const completed = (ids: number[]) =>
    waitFor(`${ids.length} completed runs`, async () => {
      const rows = await runsOf(ids);
      return rows.filter((r) => r.status === 'completed').length === ids.length && rows;
    });
  const leaseOwnerPid = async () =>
    (await sql<{ pid: number }>`select pid from ${sql.table(LEASE_TABLE)} where project_key = 'e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0'`.execute(store.db)).rows[0]?.pid;

  const a = spawnScheduler(projectDir, url, 'proc-a', TUNING);
  procs.push(a);
  await waitFor('first leader', () => leads(a));
  const b = spawnScheduler(projectDir, url, 'proc-b', TUNING);
  procs.push(b);
  await waitFor('second ready', () => b.events.some((e) => e.event === 'ready'));
  // Several lease lengths, during which the standby keeps trying.
  await sleep(1000);
  assert.deepEqual(leadership(b), [], 'the second process stays standby while the lease is renewed');
  assert.equal(await leaseOwnerPid(), a.child.pid);

  const first = await onceMany('first', 5);
  assert.ok((await completed(first.map((s) => s.id))).every((r) => r.owner_id === 'proc-a'));

  // A frozen leader still exists, so only the lease's expiry lets the standby in.
  a.child.kill('SIGSTOP');
  const whileFrozen = await onceMany('frozen', 5);
  await waitFor('takeover from the frozen leader', () => leads(b), 15_000);
  assert.equal(await leaseOwnerPid(), b.child.pid);
  assert.ok((await completed(whileFrozen.map((s) => s.id))).every((r) => r.owner_id === 'proc-b'));

  a.child.kill('SIGCONT');
  await waitFor('the resumed leader to step down', () => leadership(a).at(-1) === false, 15_000);
  assert.deepEqual(leadership(a), [true, false]);
  assert.deepEqual(leadership(b), [true], 'the new leader keeps its lease');
  const resumed = await onceMany('resumed', 3);
  assert.ok((await completed(resumed.map((s) => s.id))).every((r) => r.owner_id === 'proc-b'));

  b.child.kill('SIGKILL');
  await new Promise((resolve) => (b.child.exitCode !== null || b.child.signalCode !== null ? resolve(null) : b.child.once('exit', resolve)));
  const afterKill = await onceMany('killed', 3);
  await waitFor('takeover after SIGKILL', () => leads(a), 15_000);
  assert.deepEqual(leadership(a), [true, false, true]);
  assert.ok((await completed(afterKill.map((s) => s.id))).every((r) => r.owner_id === 'proc-a'));

  const triggers = [...first, ...whileFrozen, ...resumed, ...afterKill];
  const all = await runsOf(triggers.map((s) => s.id));
  assert.equal(all.length, triggers.length, 'exactly one run per @once trigger');
  assert.equal(new Set(all.map((r) => r.pipeline_schedule_id)).size, triggers.length);
  const started = [...a.events, ...b.events].filter((e) => e.event === 'started').map((e) => e.runId);
  assert.equal(new Set(started).size, started.length, 'no run was started twice');
  assert.equal(started.length, triggers.length);
});
