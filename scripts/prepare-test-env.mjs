#!/usr/bin/env node
// Prepares what the test suites need beyond node_modules: a Python virtual environment at .venv-test with
// pandas, pyarrow, psycopg2-binary and requests (reused when its stamp matches), and for the output-type tests
// (test/engine/outputTypes.test.ts) joblib, with which outputs are pickled as Mage does, numpy (pandas brings
// it) and polars. Prints progress.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const venv = join(root, '.venv-test');
const python = join(venv, 'bin', 'python');
const packages = ['pandas', 'pyarrow', 'psycopg2-binary', 'requests', 'joblib', 'polars'];
const stampFile = join(venv, '.blockflow-test-stamp');
const stamp = packages.join(',');

function realSystemPython() {
  for (const candidate of [process.env.BLOCKFLOW_BASE_PYTHON, '/root/.pyenv/versions/3.11.7/bin/python3', 'python3']) {
    if (!candidate) continue;
    try {
      return execFileSync(candidate, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
    } catch {
      // try the next one
    }
  }
  throw new Error('No Python 3 interpreter found; install python3 with venv and pip.');
}

export function prepareTestEnv() {
  if (existsSync(python) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return python;
  console.log(`[test-env] creating ${venv} with ${packages.join(', ')} (first run only)`);
  if (!existsSync(python)) {
    const made = spawnSync(realSystemPython(), ['-m', 'venv', venv], { stdio: 'inherit' });
    if (made.status !== 0) throw new Error('python -m venv failed');
  }
  const pip = spawnSync(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', ...packages], { stdio: 'inherit' });
  if (pip.status !== 0) throw new Error('pip install of the test packages failed');
  writeFileSync(stampFile, stamp);
  return python;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(prepareTestEnv());
