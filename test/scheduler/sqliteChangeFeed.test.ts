/**
 * The scheduler's change feed on SQLite (polling `data_version`). The leader is a scheduler service whose sweep
 * is ten minutes away, sharing one SQLite file with another server (a web server, no scheduler loop), so only the
 * feed can make it act within the test: a trigger created through the other server's HTTP API gets its run from
 * the leader, and a run finishing in the other server starts, in the leader, the run that waited for its
 * run-limit slot. The feed itself stays silent while nobody else writes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildProject } from '../engine/projectBuilder.js';
import { loadProject } from '../../src/project/projectConfig.js';
import { openStore, type Store } from '../../src/store/db.js';
import { createEngineStack, type EngineStack } from '../../src/engine/stack.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { SchedulerService } from '../../src/scheduler/service.js';
import { SqliteChangeFeed, type SchedulerChange } from '../../src/scheduler/changeFeed.js';
import { waitFor } from '../helpers/wait.js';
import { QUICK_BLOCK, gatedOn, triggerFromOtherServer, waitingRunStartedByLeader, type FeedScenario } from './changeFeedScenarios.js';

const base = mkdtempSync(join(tmpdir(), 'blockflow-sqlite-feed-'));
const gate = join(base, 'open');
const dbUrl = `sqlite:///${join(base, 'shared.db')}`;
let store: Store;
let stack: EngineStack;
let leader: SchedulerService;
let server: RunningServer;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(server.url + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, body: await res.json() };
}

before(async () => {
  process.env.BLOCKFLOW_WARM_RUNTIMES = '0';
  const projectDir = buildProject({
    quick: { blocks: [{ uuid: 'q', type: 'data_loader', language: 'typescript', code: QUICK_BLOCK }] },
    limited: {
      blocks: [{ uuid: 'hold', type: 'data_loader', language: 'typescript', code: gatedOn(gate) }],
      concurrency_config: { pipeline_run_limit_all_triggers: 1 },
    },
  });
  const env: NodeJS.ProcessEnv = { ...process.env, MAGE_DATABASE_CONNECTION_URL: dbUrl, MAGE_DATA_DIR: join(base, 'data'), REQUIRE_USER_AUTHENTICATION: '0', BLOCKFLOW_WARM_RUNTIMES: '0' };
  delete env.DATABASE_URL;
  server = await startServer({ projectDir, port: 0, host: '127.0.0.1', env, logger: false, scheduler: false });
  store = await openStore({ url: dbUrl });
  const project = loadProject(projectDir, env);
  stack = await createEngineStack({ project, store, instanceId: 'leader-a' });
  leader = new SchedulerService({
    project,
    store,
    engine: stack.engine,
    sweepMs: 600_000,
    fileScanMs: 600_000,
    watchFiles: false,
    changeFeed: new SqliteChangeFeed(store, { pollMs: 100 }),
  });
  await leader.start();
  await waitFor('leadership', () => leader.isLeader());
  // The sweep that follows taking the lead is done; later changes can only arrive through the feed.
  await sleep(500);
});

after(async () => {
  writeFileSync(gate, '');
  await leader?.stop();
  await stack?.close();
  await store?.close();
  await server?.close();
  rmSync(base, { recursive: true, force: true });
});

const scenario = (): FeedScenario => ({ store, leader, leaderId: 'leader-a', call, gate });

test('a trigger created through another server on the same SQLite file reaches the leader', async () => {
  await triggerFromOtherServer(scenario(), 'quick');
});

test('a run finishing in another server starts the run waiting for its slot in the leader', async () => {
  await waitingRunStartedByLeader(scenario(), 'limited');
});

test('the feed reports nothing while only its own connection writes, and a trigger change from another connection once', async () => {
  // A file of its own: the servers above write to theirs in the background (heartbeats), which would count as
  // another process's commits here.
  const quietUrl = `sqlite:///${join(base, 'quiet.db')}`;
  const own = await openStore({ url: quietUrl });
  const other = await openStore({ url: quietUrl });
  const feed = new SqliteChangeFeed(own, { pollMs: 20 });
  const changes: SchedulerChange[] = [];
  let listening = 0;
  feed.subscribe({ change: (c) => changes.push(c), listening: () => void listening++, lost: () => assert.fail('never lost') });
  try {
    await waitFor('the first poll', () => listening === 1);
    await own.schedules.create({ name: 'own write', pipeline_uuid: 'quick', schedule_type: 'api', status: 'inactive' });
    await sleep(200);
    assert.deepEqual(changes, [], "the feed's own connection is not another process");
    await other.schedules.create({ name: 'other write', pipeline_uuid: 'quick', schedule_type: 'api', status: 'inactive' });
    await waitFor('the change', () => changes.length > 0);
    await sleep(200);
    assert.deepEqual(changes, [{ kind: 'triggers' }]);
  } finally {
    await feed.unsubscribe();
    await own.close();
    await other.close();
  }
});
