/**
 * A scheduler in its own process, for the two-scheduler test: opens the store at the given URL, starts an
 * engine and the scheduler service, and prints one JSON line per event on stdout (`leader`, `standby`, and
 * `started` for every run this process moves to running). Runs until killed.
 *
 *   node --import tsx test/scheduler/schedulerProcess.ts <projectDir> <databaseUrl> <instanceId>
 */
import { loadProject } from '../../src/project/projectConfig.js';
import { openStore } from '../../src/store/db.js';
import { createEngineStack } from '../../src/engine/stack.js';
import { SchedulerService } from '../../src/scheduler/service.js';

const [projectDir, url, instanceId] = process.argv.slice(2);
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ instanceId, ...event })}\n`);

const project = loadProject(projectDir);
const store = await openStore({ url, poolSize: 4 });
const stack = await createEngineStack({ project, store, instanceId });
const service = new SchedulerService({ project, store, engine: stack.engine, standbyRetryMs: 300, sweepMs: 300, fileScanMs: 300 });
service.on('leader', () => say({ event: 'leader' }));
service.on('standby', () => say({ event: 'standby' }));
stack.engine.on('event', (e) => {
  if (e.type === 'run' && e.status === 'running') say({ event: 'started', runId: e.runId });
});
await service.start();
say({ event: 'ready' });
process.on('SIGTERM', () => {
  void service.stop().then(() => stack.close()).then(() => store.close()).then(() => process.exit(0));
});
