#!/usr/bin/env node
// Runs the differential suite against real Mage (test/mage-diff/): Blockflow's Python blocks use the prepared
// test venv, as in `npm test`; Mage itself is installed into its own cached venv by the suite (mageServer.ts).
import { spawn } from 'node:child_process';
import { prepareTestEnv } from './prepare-test-env.mjs';

const root = new URL('..', import.meta.url).pathname;
const python = prepareTestEnv();
const env = { ...process.env, BLOCKFLOW_PYTHON: python, BLOCKFLOW_SKIP_VENV: '1', BLOCKFLOW_SCRYPT_N: '1024' };
const args = ['--import', 'tsx', '--test', '--test-concurrency=1', 'test/mage-diff/mageDiff.test.ts'];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
