/**
 * Child process of bench/scheduler.ts: a scheduler (leader loop + engine) alone on a SQLite store holding the
 * active cron triggers. It waits for `warmupMs`, then measures its own CPU time (user + system) over
 * `windowMs`, and prints one JSON line: `{cpuMs, windowMs, wallStart, wallEnd}`.
 *
 *   node --import tsx bench/schedulerCronChild.ts <projectDir> <databaseUrl> <warmupMs> <windowMs>
 */
import { loadProject } from '../src/project/projectConfig.js';
import { openStore } from '../src/store/db.js';
import { createEngineStack } from '../src/engine/stack.js';
import { SchedulerService } from '../src/scheduler/service.js';

const [projectDir, url, warmupRaw, windowRaw] = process.argv.slice(2);
const project = loadProject(projectDir);
const store = await openStore({ url });
const stack = await createEngineStack({ project, store, instanceId: 'bench-cron' });
const service = new SchedulerService({ project, store, engine: stack.engine });
await service.start();
await new Promise((r) => setTimeout(r, Number(warmupRaw)));
const before = process.cpuUsage();
const wallStart = Date.now();
await new Promise((r) => setTimeout(r, Number(windowRaw)));
const used = process.cpuUsage(before);
const wallEnd = Date.now();
process.stdout.write(`${JSON.stringify({ cpuMs: (used.user + used.system) / 1000, windowMs: wallEnd - wallStart, wallStart, wallEnd })}\n`);
await service.stop();
await stack.close();
await store.close();
process.exit(0);
