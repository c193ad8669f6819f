/**
 * The runtimes every server starts with: Python (warm process pool in the project's managed virtual
 * environment), TypeScript/JavaScript (warm worker threads) and SQL (embedded DuckDB, PostgreSQL and MySQL
 * through io_config profiles).
 */
import type { Project } from '../project/projectConfig.js';
import type { RuntimeRegistry } from './registry.js';
import { TypeScriptRuntime } from './typescript/runtime.js';
import { SqlRuntime } from './sql/index.js';
import { PythonRuntime } from './python/pool.js';
import { ensureVenv, type VenvProgress } from './python/venv.js';

export interface DefaultRuntimeOptions {
  /** Progress of the first-use venv creation and `pip install` (default: lines to stderr). */
  onVenvProgress?: (progress: VenvProgress) => void;
}

function printVenvProgress(progress: VenvProgress): void {
  if (progress.phase === 'create' && !progress.line) process.stderr.write('[python] creating the project virtual environment...\n');
  else if (progress.phase === 'install' && !progress.line) process.stderr.write('[python] installing requirements (pandas, pyarrow, requirements.txt)...\n');
  else if (progress.phase === 'ready') process.stderr.write('[python] environment ready\n');
  else if (progress.line && /^(Collecting|Downloading|Installing|Successfully)/.test(progress.line.trim())) process.stderr.write(`[python] ${progress.line.trim()}\n`);
}

/** A whole number from the environment (undefined when unset), or an error that names the variable. */
function envInteger(name: string, min: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}; got ${JSON.stringify(raw)}.`);
  return value;
}

/**
 * Environment:
 * - BLOCKFLOW_TS_WORKERS: worker threads of the TypeScript runtime (default 2).
 * - BLOCKFLOW_PY_WORKERS: warm Python worker processes (default min(2, CPU cores)).
 * - BLOCKFLOW_PY_MAX_REQUESTS: requests a Python worker serves before it is recycled (default 10,000; 0 = never).
 */
export function registerDefaultRuntimes(registry: RuntimeRegistry, project: Project, options: DefaultRuntimeOptions = {}): void {
  registry.register(['typescript', 'javascript'], () => new TypeScriptRuntime({ size: envInteger('BLOCKFLOW_TS_WORKERS', 1) ?? 2 }));
  registry.register(['sql'], () => new SqlRuntime());
  registry.register(['python'], async () => {
    const size = envInteger('BLOCKFLOW_PY_WORKERS', 1);
    const maxRequestsPerWorker = envInteger('BLOCKFLOW_PY_MAX_REQUESTS', 0);
    const managed = await ensureVenv({ dataDir: project.dataDir, projectRoot: project.root, onProgress: options.onVenvProgress ?? printVenvProgress });
    return new PythonRuntime({ python: managed.python, cwd: project.root, size, maxRequestsPerWorker });
  });
}
