/**
 * Wires an engine with its runtimes and secret resolver. Used by the server and by `blockflow run`.
 */
import type { Project } from '../project/projectConfig.js';
import type { Store } from '../store/db.js';
import { Engine } from './engine.js';
import { RuntimeRegistry } from '../runtimes/registry.js';
import { registerDefaultRuntimes } from '../runtimes/defaults.js';
import { SecretBox } from '../auth/secretBox.js';
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
  /** Adopt orphaned runs and start heartbeats (default true). */
  start?: boolean;
}

export async function createEngineStack(options: EngineStackOptions): Promise<EngineStack> {
  const runtimes = new RuntimeRegistry();
  registerDefaultRuntimes(runtimes, options.project);
  const secrets = new SecretResolver(options.store, SecretBox.load(options.project.dataDir), options.project.name);
  const engine = new Engine({
    project: options.project,
    store: options.store,
    runtimes,
    instanceId: options.instanceId,
    getSecret: (name) => secrets.get(name),
  });
  if (options.start !== false) await engine.start();
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
