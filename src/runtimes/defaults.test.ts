import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeRegistry } from './registry.js';
import { registerDefaultRuntimes } from './defaults.js';
import { initProject } from '../project/init.js';
import { loadProject } from '../project/projectConfig.js';

test('a bad worker count in the environment is an error naming the variable, and the registry stays usable', async () => {
  const base = mkdtempSync(join(tmpdir(), 'blockflow-defaults-'));
  const previous = process.env.BLOCKFLOW_TS_WORKERS;
  try {
    initProject(join(base, 'p'));
    const registry = new RuntimeRegistry();
    registerDefaultRuntimes(registry, loadProject(join(base, 'p'), { ...process.env, MAGE_DATA_DIR: join(base, 'data') }));
    process.env.BLOCKFLOW_TS_WORKERS = 'two';
    await assert.rejects(registry.get('typescript'), /BLOCKFLOW_TS_WORKERS must be a whole number of at least 1; got "two"/);
    let reported: unknown;
    registry.warmInBackground(['typescript'], (_language, err) => (reported = err));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(String(reported), /BLOCKFLOW_TS_WORKERS/);
    process.env.BLOCKFLOW_TS_WORKERS = '1';
    const runtime = await registry.get('typescript');
    assert.ok(runtime.languages.includes('typescript'), 'a corrected setting works on the next request');
    await registry.close();
  } finally {
    if (previous === undefined) delete process.env.BLOCKFLOW_TS_WORKERS;
    else process.env.BLOCKFLOW_TS_WORKERS = previous;
    rmSync(base, { recursive: true, force: true });
  }
});
