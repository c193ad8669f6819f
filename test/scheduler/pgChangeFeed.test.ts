/**
 * The scheduler's change feed on PostgreSQL (LISTEN/NOTIFY). The leader is a scheduler service whose sweep is
 * ten minutes away, so only the feed can make it act within the test: a trigger created through another
 * server's HTTP API gets its run from the leader at once; a run finishing in that other server starts, in the
 * leader, the run that waited for its run-limit slot; the listening connection comes back after it is
 * terminated. The feed itself: changes reach other feeds but not the sender, and a URL naming another database
 * is refused.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { buildProject } from '../engine/projectBuilder.js';
import { createFreshPgDatabase, PG_ADMIN_URL, type FreshPgDatabase } from '../helpers/pg.js';
import { loadProject } from '../../src/project/projectConfig.js';
import { openStore, type Store } from '../../src/store/db.js';
import { createEngineStack, type EngineStack } from '../../src/engine/stack.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { SchedulerService } from '../../src/scheduler/service.js';
import { FEED_APPLICATION_NAME, PgChangeFeed, type SchedulerChange } from '../../src/scheduler/changeFeed.js';
import { waitFor } from '../helpers/wait.js';
import { QUICK_BLOCK, gatedOn, triggerFromOtherServer, waitingRunStartedByLeader, type FeedScenario } from './changeFeedScenarios.js';

let db: FreshPgDatabase;
let store: Store;
let stack: EngineStack;
let leader: SchedulerService;
let server: RunningServer;
const feedStates: Array<{ state: string; at: number }> = [];
const gate = join(mkdtempSync(join(tmpdir(), 'blockflow-feed-gate-')), 'open');

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(server.url + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: await res.json() };
}

/** Waits until the leader listens and has finished the sweep that follows, so later changes can only arrive by the feed. */
async function leaderListening(listenedBefore: number): Promise<void> {
  const listened = await waitFor('the leader to listen', () => feedStates.filter((s) => s.state === 'listening')[listenedBefore]);
  await waitFor('the sweep after listening', () => (leader.lastActivity()?.getTime() ?? 0) >= listened.at);
  await sleep(300);
}

before(async () => {
  // startServices reads it from process.env: no runtime warm-up (nor Python environment set-up) here.
  process.env.BLOCKFLOW_WARM_RUNTIMES = '0';
  db = await createFreshPgDatabase();
  const projectDir = buildProject({
    quick: { blocks: [{ uuid: 'q', type: 'data_loader', language: 'typescript', code: QUICK_BLOCK }] },
    limited: {
      blocks: [{ uuid: 'hold', type: 'data_loader', language: 'typescript', code: gatedOn(gate) }],
      concurrency_config: { pipeline_run_limit_all_triggers: 1 },
    },
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'blockflow-feed-data-'));
  const env: NodeJS.ProcessEnv = { ...process.env, MAGE_DATABASE_CONNECTION_URL: db.url, MAGE_DATA_DIR: dataDir, REQUIRE_USER_AUTHENTICATION: '0', BLOCKFLOW_WARM_RUNTIMES: '0' };
  delete env.DATABASE_URL;
  // The other server: a web server (no scheduler loop), whose API changes must reach the leader.
  server = await startServer({ projectDir, port: 0, host: '127.0.0.1', env, logger: false, scheduler: false });
  store = await openStore({ url: db.url });
  const project = loadProject(projectDir, env);
  stack = await createEngineStack({ project, store, instanceId: 'leader-a' });
  leader = new SchedulerService({ project, store, engine: stack.engine, sweepMs: 600_000, fileScanMs: 600_000, watchFiles: false, databaseUrl: db.url });
  leader.on('feed', (state: string) => feedStates.push({ state, at: Date.now() }));
  await leader.start();
  await waitFor('leadership', () => leader.isLeader());
});

after(async () => {
  writeFileSync(gate, '');
  await leader?.stop();
  await stack?.close();
  await store?.close();
  await server?.close();
  await db?.drop();
});

const scenario = (): FeedScenario => ({ store, leader, leaderId: 'leader-a', call, gate });

test('a trigger created through another server reaches the leader at once', async () => {
  await leaderListening(0);
  await triggerFromOtherServer(scenario(), 'quick');
});

test('a run finishing in another server starts the run waiting for its slot in the leader at once', async () => {
  await waitingRunStartedByLeader(scenario(), 'limited');
});

test('the leader listens again after its connection is terminated', async () => {
  const listened = feedStates.filter((s) => s.state === 'listening').length;
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and datname = current_database()', [
      FEED_APPLICATION_NAME,
    ]);
    assert.equal(rowCount, 1, 'one listening connection');
  } finally {
    await admin.end();
  }
  await waitFor('the loss to be noticed', () => feedStates.some((s) => s.state === 'lost'));
  await leaderListening(listened);
  const created = await call('POST', '/api/pipelines/quick/pipeline_schedules', {
    pipeline_schedule: { name: 'after-reconnect', schedule_type: 'time', schedule_interval: '@once', status: 'active' },
  });
  const id = created.body.pipeline_schedule.id as number;
  // The run exists (initial) a moment before it is started and owned; wait for the start.
  const run = await waitFor('the run of the trigger made after reconnecting to start', async () => {
    const first = (await store.pipelineRuns.list({ pipelineScheduleId: id })).rows[0];
    return first?.owner_id ? first : undefined;
  });
  assert.equal(run.owner_id, 'leader-a');
});

test('changes reach other feeds of the project, not the sender; a URL naming another database is refused', async () => {
  const listener = new PgChangeFeed(store, 'feed-unit', { url: db.url });
  const sender = new PgChangeFeed(store, 'feed-unit', { url: db.url });
  const otherProject = new PgChangeFeed(store, 'another-project', { url: db.url });
  const got: SchedulerChange[] = [];
  const gotBySender: SchedulerChange[] = [];
  const gotElsewhere: SchedulerChange[] = [];
  const listening = (feed: PgChangeFeed, into: SchedulerChange[]) =>
    new Promise<void>((resolve, reject) => feed.subscribe({ change: (c) => into.push(c), listening: resolve, lost: reject }));
  try {
    await Promise.all([listening(listener, got), listening(sender, gotBySender), listening(otherProject, gotElsewhere)]);
    await sender.publish({ kind: 'triggers' });
    await sender.publish({ kind: 'waiting', pipelineUuid: 'p1' });
    await waitFor('both changes', () => got.length === 2);
    assert.deepEqual(got, [{ kind: 'triggers' }, { kind: 'waiting', pipelineUuid: 'p1' }]);
    // Notifications are delivered in order per connection; a later one from the listener proves the earlier ones were seen.
    await listener.publish({ kind: 'triggers' });
    await waitFor('the marker', () => gotBySender.length === 1);
    assert.deepEqual(gotBySender, [{ kind: 'triggers' }], 'the sender does not hear itself');
    assert.deepEqual(gotElsewhere, [], 'another project does not hear these changes');
  } finally {
    await Promise.all([listener.unsubscribe(), sender.unsubscribe(), otherProject.unsubscribe()]);
  }

  const misdirected = new PgChangeFeed(store, 'feed-unit', { url: PG_ADMIN_URL, timeoutMs: 300, reconnectMinMs: 60_000 });
  try {
    const err = await new Promise<Error>((resolve) => misdirected.subscribe({ change: () => undefined, listening: () => resolve(new Error('listened')), lost: resolve }));
    assert.match(err.message, /did not arrive within 300 ms; does the feed's URL name the store's database\?/);
  } finally {
    await misdirected.unsubscribe();
  }
});
