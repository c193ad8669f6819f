/**
 * startCloudServer(): the control plane as one service: its database, the Cloud API over HTTP, the provider
 * that runs clusters, and the reconcile loop between them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { buildCloudApp } from './api/buildCloudApp.js';
import { ClusterService } from './clusterService.js';
import { openCloudDb, type CloudDb } from './db/openCloudDb.js';
import { DEFAULT_LOGIN_LIMITS, LoginGuard, type LoginLimits } from './loginGuard.js';
import { PasswordHasher } from '../auth/passwords.js';
import { LocalProvider, type LocalProviderOptions } from './providers/local/localProvider.js';
import type { KubernetesProviderOptions } from './providers/kubernetes/kubernetesProvider.js';
import type { ClusterProvider } from './providers/types.js';
import { Reconciler } from './reconciler.js';
import { loadMasterKey, SecretBox } from './secretBox.js';
import { addApiClient, countApiClients } from './store/apiClients.js';
import { dbReplicaStateStore } from './store/replicaState.js';
import { createTeam, findTeam, setMembership, type TeamRole } from './store/teams.js';
import { createUser, findUserByEmail } from './store/users.js';

export const DEFAULT_CLOUD_PORT = 6790;

export function defaultCloudDataDir(): string {
  return join(homedir(), '.blockflow', 'cloud');
}

export interface CloudBootstrap {
  /** Users created when missing (existing users keep their password). */
  users?: Array<{ email: string; password: string }>;
  /** Teams created when missing, with members added by email. `id` fixes the team id. */
  teams?: Array<{ id?: string; name: string; members: Array<{ email: string; role: TeamRole }> }>;
}

export interface CloudServerOptions {
  /** TCP port (default 6790; 0 picks a free one). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Database, master key file and local clusters live here (default ~/.blockflow/cloud). */
  dataDir?: string;
  /** `postgres://...` for PostgreSQL; default SQLite at <dataDir>/cloud.db. */
  databaseUrl?: string;
  /** Master key for secrets at rest (default env BLOCKFLOW_CLOUD_MASTER_KEY, else <dataDir>/master.key). */
  masterKey?: string;
  /**
   * Client application keys accepted as X-API-KEY (added to the database; default env
   * BLOCKFLOW_CLOUD_API_KEYS, comma-separated). When none exists at all, one is generated and written to
   * <dataDir>/client-api-key.
   */
  apiKeys?: string[];
  bootstrap?: CloudBootstrap;
  /** 'local' (default), 'kubernetes', or a provider object. */
  provider?: 'local' | 'kubernetes' | ClusterProvider;
  /** Overrides for the local provider (dataDir and state are filled in). */
  local?: Partial<Omit<LocalProviderOptions, 'state'>>;
  /** Options of the Kubernetes provider (required when provider is 'kubernetes'). */
  kubernetes?: KubernetesProviderOptions;
  /** scrypt cost N (default 2^15). */
  passwordCost?: number;
  /** Session lifetime (default 30 days, Mage's MAGE_ACCESS_TOKEN_EXPIRY_TIME). */
  sessionTtlMs?: number;
  /** Idle timeout of a session (default 7 days). */
  sessionIdleMs?: number;
  loginLimits?: Partial<LoginLimits>;
  /** Largest replicaCount accepted (default 10). */
  maxReplicas?: number;
  /** Reconcile interval when nothing changes (default 1000 ms). */
  reconcileIntervalMs?: number;
  /** Secure flag of the session cookie (default 'auto': when the request came over https). */
  cookieSecure?: boolean | 'auto';
  /** Fastify request logging (default off). */
  logger?: boolean;
}

export interface CloudServer {
  url: string;
  port: number;
  /** The generated client API key, when this start generated one. */
  generatedApiKey?: string;
  /** Stops serving. Clusters keep running for re-adoption unless `stopClusters` is set. */
  close(options?: { stopClusters?: boolean }): Promise<void>;
  /** Runs one reconcile pass now (the loop also runs on its own). */
  reconcileNow(): Promise<void>;
  /** The database handle (tests and admin tooling). */
  db: CloudDb;
}

async function bootstrap(db: CloudDb, hasher: PasswordHasher, spec: CloudBootstrap): Promise<void> {
  for (const u of spec.users ?? []) {
    if (!(await findUserByEmail(db.db, u.email))) await createUser(db.db, u.email, await hasher.hash(u.password));
  }
  for (const t of spec.teams ?? []) {
    const team = (t.id && (await findTeam(db.db, t.id))) || (await createTeam(db.db, t.name, t.id));
    for (const m of t.members) {
      const user = await findUserByEmail(db.db, m.email);
      if (!user) throw new Error(`bootstrap: team ${t.name} names unknown user ${m.email}`);
      await setMembership(db.db, team.id, user.id, m.role);
    }
  }
}

export async function startCloudServer(options: CloudServerOptions = {}): Promise<CloudServer> {
  const dataDir = options.dataDir ?? defaultCloudDataDir();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const box = new SecretBox(loadMasterKey(options.masterKey ?? process.env.BLOCKFLOW_CLOUD_MASTER_KEY, join(dataDir, 'master.key')));
  const db = await openCloudDb(options.databaseUrl ?? join(dataDir, 'cloud.db'));
  const hasher = new PasswordHasher(options.passwordCost);

  const keys = options.apiKeys ?? (process.env.BLOCKFLOW_CLOUD_API_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean);
  for (const key of keys) await addApiClient(db.db, 'configured', key);
  let generatedApiKey: string | undefined;
  const keyFile = join(dataDir, 'client-api-key');
  if ((await countApiClients(db.db)) === 0) {
    generatedApiKey = randomBytes(30).toString('base64url');
    await addApiClient(db.db, 'generated', generatedApiKey);
    writeFileSync(keyFile, generatedApiKey + '\n', { mode: 0o600 });
  } else if (keys.length === 0 && existsSync(keyFile)) {
    generatedApiKey = readFileSync(keyFile, 'utf8').trim();
  }
  if (options.bootstrap) await bootstrap(db, hasher, options.bootstrap);

  let reconciler: Reconciler | undefined;
  const wake = () => reconciler?.wake();
  let provider: ClusterProvider;
  if (typeof options.provider === 'object') provider = options.provider;
  else if (options.provider === 'kubernetes') {
    if (!options.kubernetes) throw new Error('the kubernetes provider needs options.kubernetes (a KubeConfig)');
    // Loaded on demand: the Kubernetes client is heavy and the local provider does not need it.
    const { KubernetesProvider } = await import('./providers/kubernetes/kubernetesProvider.js');
    provider = new KubernetesProvider(options.kubernetes);
  } else {
    provider = new LocalProvider({ dataDir, ...options.local, state: dbReplicaStateStore(db.db), onChange: wake });
  }

  const service = new ClusterService({ db: db.db, box, limits: { maxReplicas: options.maxReplicas ?? 10 }, onChange: wake });
  const app = buildCloudApp(
    {
      db: db.db,
      service,
      hasher,
      guard: new LoginGuard(db.db, { ...DEFAULT_LOGIN_LIMITS, ...options.loginLimits }),
      sessionTtlMs: options.sessionTtlMs ?? 30 * 24 * 3600_000,
      sessionIdleMs: options.sessionIdleMs ?? 7 * 24 * 3600_000,
      cookieSecure: options.cookieSecure ?? 'auto',
    },
    { logger: options.logger },
  );
  reconciler = new Reconciler({ db: db.db, provider, service, intervalMs: options.reconcileIntervalMs });
  try {
    await reconciler.start();
    await app.listen({ port: options.port ?? DEFAULT_CLOUD_PORT, host: options.host ?? '127.0.0.1' });
  } catch (err) {
    await reconciler.stop();
    await provider.close({ stopClusters: false });
    await app.close();
    await db.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port ?? DEFAULT_CLOUD_PORT;
  const host = options.host ?? '127.0.0.1';
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    generatedApiKey,
    db,
    reconcileNow: () => reconciler!.pass(),
    close(closeOptions = {}) {
      closing ??= (async () => {
        await app.close();
        await reconciler!.stop();
        await provider.close({ stopClusters: closeOptions.stopClusters ?? false });
        await db.close();
      })();
      return closing;
    },
  };
}
