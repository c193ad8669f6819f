/**
 * A scheduler in its own process with the service options given as JSON (timings, lock options), for the
 * two-scheduler and lease tests (started by spawnScheduler.ts): opens the store at the given URL, starts an engine and the scheduler service,
 * and prints one JSON line per event on stdout (`ready`, `leader`, `standby`, `feed` with its state, and
 * `started` for every run this process moves to running). Runs until killed; SIGTERM stops it cleanly.
 *
 *   node --import tsx test/scheduler/schedulerProcess.ts <projectDir> <databaseUrl> <instanceId> '<options JSON>'
 */
import { loadProject } from '../../src/project/projectConfig.js';
import { openStore } from '../../src/store/db.js';
import { createEngineStack } from '../../src/engine/stack.js';
import { SchedulerService, type SchedulerServiceOptions } from '../../src/scheduler/service.js';

type Tuning = Omit<SchedulerServiceOptions, 'project' | 'store' | 'engine' | 'lock' | 'changeFeed' | 'now'>;

const [projectDir, url, instanceId, json] = process.argv.slice(2);
const tuning = JSON.parse(json ?? '{}') as Tuning;
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ instanceId, pid: process.pid, ...event })}\n`);

const project = loadProject(projectDir);
const store = await openStore({ url, poolSize: 4 });
const stack = await createEngineStack({ project, store, instanceId });
const service = new SchedulerService({ project, store, engine: stack.engine, databaseUrl: url, ...tuning });
service.on('leader', () => say({ event: 'leader' }));
service.on('standby', () => say({ event: 'standby' }));
service.on('feed', (state: string) => say({ event: 'feed', state }));
stack.engine.on('event', (e) => {
  if (e.type === 'run' && e.status === 'running') say({ event: 'started', runId: e.runId });
});
await service.start();
say({ event: 'ready' });
process.on('SIGTERM', () => {
  void service.stop().then(() => stack.close()).then(() => store.close()).then(() => process.exit(0));
});
