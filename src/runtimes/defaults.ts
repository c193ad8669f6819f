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

export function registerDefaultRuntimes(registry: RuntimeRegistry, project: Project, options: DefaultRuntimeOptions = {}): void {
  registry.register(['typescript', 'javascript'], () => new TypeScriptRuntime({ size: Number(process.env.BLOCKFLOW_TS_WORKERS ?? 2) }));
  registry.register(['sql'], () => new SqlRuntime());
  registry.register(['python'], async () => {
    const managed = await ensureVenv({ dataDir: project.dataDir, projectRoot: project.root, onProgress: options.onVenvProgress ?? printVenvProgress });
    return new PythonRuntime({ python: managed.python, cwd: project.root, size: process.env.BLOCKFLOW_PY_WORKERS ? Number(process.env.BLOCKFLOW_PY_WORKERS) : undefined });
  });
}
