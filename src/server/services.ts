/**
 * The long-lived services of a cluster server, started after the store and stopped before it. Each service
 * registers itself on `ctx.services` under a fixed name so resource modules can find it:
 * `engine` (run engine), `runtimes` (warm block runtimes), `secrets` (secret resolver), `scheduler` (triggers,
 * see src/scheduler/service.ts), `executions` (the notebook's interactive executions, src/executions/service.ts).
 */
import type { AppContext } from '../api/context.js';
import { createEngineStack } from '../engine/stack.js';
import { SchedulerService } from '../scheduler/service.js';
import { attachNotifier } from '../notifications/notifier.js';
import { ExecutionService } from '../executions/service.js';
import { executionSettingsFromEnv } from '../executions/settings.js';

export interface Services {
  close(): Promise<void>;
}

export interface ServiceOptions {
  /** Run the scheduler loop in this process. */
  scheduler: boolean;
  /** Start block runtimes at boot so the first run pays no start-up (default: unless BLOCKFLOW_WARM_RUNTIMES=0). */
  warmRuntimes?: boolean;
  /** URL of the store's database, for the scheduler's change feed (PostgreSQL LISTEN/NOTIFY). */
  databaseUrl?: string;
  /** The prepared key folder (src/auth/keyFiles.ts). */
  keysDir: string;
  /** The server's environment (BLOCKFLOW_WARM_RUNTIMES is read from it). Default process.env. */
  env?: NodeJS.ProcessEnv;
}

export async function startServices(ctx: AppContext, options: ServiceOptions): Promise<Services> {
  const stops: Array<() => Promise<void>> = [];
  // Read first: a bad value fails the start before anything is running.
  const executionSettings = executionSettingsFromEnv(options.env ?? process.env);
  const stack = await createEngineStack({ project: ctx.project, store: ctx.store, instanceId: ctx.settings.instanceId, keysDir: options.keysDir, env: options.env });
  stops.push(() => stack.close());
  ctx.services.engine = stack.engine;
  ctx.services.runtimes = stack.runtimes;
  ctx.services.secrets = stack.secrets;
  // Stopped before the runtimes (stops run in reverse), so running executions are interrupted while they can be.
  const executions = new ExecutionService({
    project: ctx.project,
    runtimes: stack.runtimes,
    getSecret: (name) => stack.secrets.get(name),
    settings: executionSettings,
  });
  stops.push(() => executions.close());
  ctx.services.executions = executions;
  if (options.warmRuntimes ?? (options.env ?? process.env).BLOCKFLOW_WARM_RUNTIMES !== '0') {
    stack.runtimes.warmInBackground(['typescript', 'python', 'sql'], (language, err) => {
      process.stderr.write(`[runtimes] ${language} runtime failed to start: ${(err as Error).message}\n`);
    });
  }
  // Every server starts the runs asked of it (API triggers, events, backfills); `scheduler: false`
  // (INSTANCE_TYPE=web_server) only keeps it out of the leader election for time triggers.
  const scheduler = new SchedulerService({ project: ctx.project, store: ctx.store, engine: stack.engine, loop: options.scheduler, databaseUrl: options.databaseUrl });
  // Before the scheduler starts, so an SLA passed at its first tick is notified; stopped (after the messages in
  // flight are sent) before the engine and the scheduler stop.
  const notifications = attachNotifier(
    { engine: stack.engine, scheduler, store: ctx.store, project: ctx.project, pipelines: stack.engine.pipelines },
    { getSecret: (name) => stack.secrets.get(name), env: options.env },
  );
  await scheduler.start();
  stops.push(() => scheduler.stop());
  stops.push(async () => {
    notifications.detach();
    await notifications.idle();
  });
  ctx.services.scheduler = scheduler;
  ctx.services.notifications = notifications;
  return {
    async close() {
      for (const stop of stops.reverse()) await stop();
    },
  };
}
