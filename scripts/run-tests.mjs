#!/usr/bin/env node
// Runs every *.test.ts under test/ and src/ with node's test runner (Node 20's `node --test` does not
// expand globs, so the file list is built here). Extra arguments are passed through as file filters:
//   npm test -- store        runs only test files whose path contains "store".
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { prepareTestEnv } from './prepare-test-env.mjs';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));

function collect(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) collect(full, out);
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const files = [...collect(join(root, 'src'), []), ...collect(join(root, 'test'), [])]
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

// Test files run two at a time: the machine has two cores and many suites start servers and workers.
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files];
// Python blocks in every suite use the prepared venv instead of creating one per test project.
const python = prepareTestEnv();
const env = { ...process.env, BLOCKFLOW_TEST: '1', BLOCKFLOW_PYTHON: python, BLOCKFLOW_SKIP_VENV: '1', BLOCKFLOW_SCRYPT_N: '1024' };
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
