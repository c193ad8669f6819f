/**
 * The interpreter the Python runtime tests use: BLOCKFLOW_PYTHON when set, else the system interpreter when it
 * can import pandas and pyarrow, else a venv kept at `<repo>/.venv-test` created through ensureVenv.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PYTHON_PACKAGE_DIR } from './pool.js';
import { ensureVenv } from './venv.js';

const SYSTEM_PYTHON = '/root/.pyenv/versions/3.11.7/bin/python3';
export const TEST_VENV_DIR = join(PYTHON_PACKAGE_DIR, '..', '.venv-test');

let pending: Promise<string> | null = null;

function canImportPandas(python: string): boolean {
  try {
    execFileSync(python, ['-c', 'import pandas, pyarrow'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function testPython(): Promise<string> {
  pending ??= (async () => {
    const explicit = process.env.BLOCKFLOW_PYTHON?.trim();
    if (explicit) return explicit;
    if (canImportPandas(SYSTEM_PYTHON)) return SYSTEM_PYTHON;
    // No PyYAML on purpose: io_config.yaml is then parsed by the parent, which the tests cover.
    const managed = await ensureVenv({
      dataDir: join(PYTHON_PACKAGE_DIR, '..'),
      venvDir: TEST_VENV_DIR,
      basePackages: ['pandas', 'pyarrow', 'psycopg2-binary'],
      basePython: SYSTEM_PYTHON,
      env: {},
    });
    return managed.python;
  })();
  return pending;
}
