/**
 * Starts a cluster server: loads the project, opens the metadata store (migrations run there), creates the
 * owner on first start, starts the services (runtimes, engine, scheduler), and listens.
 */
import { loadProject, ensureProjectUuid } from '../project/projectConfig.js';
import { openStore, resolveDatabaseUrl, sqliteFileOf } from '../store/db.js';
import { resolve } from 'node:path';
import { buildApp, type App } from '../api/app.js';
import type { AppContext } from '../api/context.js';
import { settingsFromEnv } from './settings.js';
import { prepareKeysDir } from '../auth/keyFiles.js';
import { ensureOwner, type OwnerBootstrap } from './owner.js';
import { startServices, type Services } from './services.js';

export interface StartServerOptions {
  projectDir: string;
  /** Port to listen on (default 6789, Mage's; 0 picks a free port). */
  port?: number;
  /**
   * Address to bind. Default: all interfaces when authentication is on; loopback only when
   * REQUIRE_USER_AUTHENTICATION=0, so an open server is never exposed by accident.
   */
  host?: string;
  env?: NodeJS.ProcessEnv;
  /** Fastify/pino logger option (default: info level JSON to stdout). */
  logger?: boolean | Record<string, unknown>;
  /** Start the scheduler loop in this process (default true; INSTANCE_TYPE=web_server turns it off). */
  scheduler?: boolean;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  app: App;
  ctx: AppContext;
  owner: OwnerBootstrap;
  close(): Promise<void>;
}

/** Files the server keeps that may lie inside the project, which the file APIs must then refuse. */
function serverOwnedPaths(databaseUrl: string, env: NodeJS.ProcessEnv): string[] {
  const paths: string[] = [];
  const dbFile = sqliteFileOf(databaseUrl);
  if (dbFile) paths.push(...['', '-wal', '-shm', '-journal'].map((suffix) => dbFile + suffix));
  if (env.BLOCKFLOW_VENV_DIR) paths.push(resolve(env.BLOCKFLOW_VENV_DIR));
  return paths;
}

export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const project = loadProject(options.projectDir, env);
  ensureProjectUuid(project);
  const databaseUrl = resolveDatabaseUrl(env, project.dataDir);
  project.protectedPaths = serverOwnedPaths(databaseUrl, env);
  const store = await openStore({ url: databaseUrl, env });
  const keys = prepareKeysDir(project, env);
  if (keys.moved.length > 0) {
    process.stderr.write(`Moved key files (${keys.moved.join(', ')}) out of ${keys.movedFrom} to ${keys.dir}, where no API can serve them.\n`);
  }
  const settings = settingsFromEnv(keys.dir, env);
  const owner = settings.requireAuth ? await ensureOwner(store, env) : { created: false, email: '', username: '' };
  const ctx: AppContext = { project, store, settings, services: {} };
  let services: Services | undefined;
  try {
    services = await startServices(ctx, { keysDir: keys.dir, scheduler: options.scheduler ?? env.INSTANCE_TYPE !== 'web_server', databaseUrl, env });
    const app = await buildApp(ctx, { logger: options.logger ?? { level: env.LOG_LEVEL ?? 'info' } });
    const host = options.host ?? (settings.requireAuth ? '0.0.0.0' : '127.0.0.1');
    await app.listen({ port: options.port ?? 6789, host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port ?? 6789;
    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return {
      url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
      port,
      host,
      app,
      ctx,
      owner,
      async close() {
        await app.close();
        await services?.close();
        await store.close();
      },
    };
  } catch (err) {
    await services?.close();
    await store.close();
    throw err;
  }
}
