/**
 * Wires an engine with its runtimes and secret resolver. Used by the server and by `blockflow run`.
 */
import type { Project } from '../project/projectConfig.js';
import type { Store } from '../store/db.js';
import { Engine } from './engine.js';
import { RuntimeRegistry } from '../runtimes/registry.js';
import { registerDefaultRuntimes } from '../runtimes/defaults.js';
import { SecretBox } from '../auth/secretBox.js';
import { prepareKeysDir } from '../auth/keyFiles.js';
import { SecretResolver } from './secrets.js';

export interface EngineStack {
  engine: Engine;
  runtimes: RuntimeRegistry;
  secrets: SecretResolver;
  close(): Promise<void>;
}

export interface EngineStackOptions {
  project: Project;
  store: Store;
  instanceId: string;
  /** Start heartbeats (and adoption, see `adopt`) now (default true). */
  start?: boolean;
  /** Adopt runs of dead servers (default true; `blockflow run` passes false). */
  adopt?: boolean;
  /**
   * Environment read for the engine's timing: `BLOCKFLOW_HEARTBEAT_SECONDS` (default 10) and
   * `BLOCKFLOW_ORPHAN_AFTER_SECONDS` (default 60: a running run whose server has sent no heartbeat for this
   * long is adopted). Default: `process.env`.
   */
  env?: NodeJS.ProcessEnv;
  /** The prepared key folder (prepareKeysDir); default: prepared here from `env`. */
  keysDir?: string;
}

function positiveSeconds(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number of seconds, got "${value}".`);
  return n;
}

export async function createEngineStack(options: EngineStackOptions): Promise<EngineStack> {
  const env = options.env ?? process.env;
  const runtimes = new RuntimeRegistry();
  registerDefaultRuntimes(runtimes, options.project);
  const keysDir = options.keysDir ?? prepareKeysDir(options.project, env).dir;
  const secrets = new SecretResolver(options.store, SecretBox.load(keysDir, env), options.project.name);
  const engine = new Engine({
    project: options.project,
    store: options.store,
    runtimes,
    instanceId: options.instanceId,
    getSecret: (name) => secrets.get(name),
    heartbeatSeconds: positiveSeconds(env.BLOCKFLOW_HEARTBEAT_SECONDS, 'BLOCKFLOW_HEARTBEAT_SECONDS'),
    orphanAfterSeconds: positiveSeconds(env.BLOCKFLOW_ORPHAN_AFTER_SECONDS, 'BLOCKFLOW_ORPHAN_AFTER_SECONDS'),
  });
  if (options.start !== false) await engine.start({ adopt: options.adopt });
  return {
    engine,
    runtimes,
    secrets,
    async close() {
      await engine.close();
      await runtimes.close();
    },
  };
}
