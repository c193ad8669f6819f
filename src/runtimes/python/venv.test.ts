import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { findPythonInterpreter, resolveSystemPython, venvPython } from './interpreter.js';
import { ensureVenv, type VenvProgress } from './venv.js';

const SYSTEM_PYTHON = '/root/.pyenv/versions/3.11.7/bin/python3';
const scratch = mkdtempSync(join(tmpdir(), 'blockflow-venv-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('resolveSystemPython returns the real interpreter path, not the pyenv shim', async () => {
  const path = await resolveSystemPython();
  assert.ok(!path.includes('/shims/'), path);
  assert.ok(existsSync(path));
  assert.equal(await resolveSystemPython(), path);
});

test('findPythonInterpreter prefers BLOCKFLOW_PYTHON, then an existing venv, then the system python', async () => {
  assert.equal(await findPythonInterpreter({ env: { BLOCKFLOW_PYTHON: '/opt/py/bin/python' } }), '/opt/py/bin/python');
  assert.equal(await findPythonInterpreter({ env: {}, venvDir: join(scratch, 'absent') }), await resolveSystemPython());
});

test('ensureVenv creates the venv once, stamps it, and skips the install when nothing changed', async () => {
  const projectRoot = join(scratch, 'project');
  const dataDir = join(projectRoot, 'mage_data');
  rmSync(projectRoot, { recursive: true, force: true });
  mkdirSync(projectRoot, { recursive: true });
  // Only mage-ai is listed, which our compatibility package replaces: nothing to download.
  writeFileSync(join(projectRoot, 'requirements.txt'), 'mage-ai==0.9.76\n');
  const phases: VenvProgress['phase'][] = [];
  const first = await ensureVenv({
    dataDir,
    projectRoot,
    basePackages: [],
    basePython: SYSTEM_PYTHON,
    env: {},
    onProgress: (p) => phases.push(p.phase),
  });
  assert.equal(first.venvDir, join(dataDir, '.venv'));
  assert.equal(first.python, venvPython(join(dataDir, '.venv')));
  assert.ok(existsSync(first.python));
  assert.ok(phases.includes('create'));
  assert.equal(phases.at(-1), 'ready');
  assert.match(readFileSync(join(dataDir, '.venv', '.blockflow-requirements.sha256'), 'utf8'), /^[0-9a-f]{64}\n$/);
  assert.equal(await findPythonInterpreter({ env: {}, venvDir: first.venvDir! }), first.python);

  const again: VenvProgress['phase'][] = [];
  const second = await ensureVenv({ dataDir, projectRoot, basePackages: [], env: {}, onProgress: (p) => again.push(p.phase) });
  assert.equal(second.installed, false);
  assert.deepEqual(again, ['ready']);
});

test('ensureVenv reports a failed pip install with its output and leaves no stamp', async () => {
  const dataDir = join(scratch, 'failing');
  const venvDir = join(dataDir, '.venv');
  await ensureVenv({ dataDir, basePackages: [], basePython: SYSTEM_PYTHON, env: {} });
  rmSync(join(venvDir, '.blockflow-requirements.sha256'));
  const requirements = join(dataDir, 'bad-requirements.txt');
  writeFileSync(requirements, 'this is not a requirement ===\n');
  await assert.rejects(
    ensureVenv({ dataDir, requirementsFile: requirements, basePackages: [], env: {} }),
    /pip install .* failed/,
  );
  assert.ok(!existsSync(join(venvDir, '.blockflow-requirements.sha256')));
});

test('BLOCKFLOW_SKIP_VENV=1 uses the system interpreter as it is', async () => {
  const result = await ensureVenv({ dataDir: join(scratch, 'skip'), env: { BLOCKFLOW_SKIP_VENV: '1' } });
  assert.deepEqual(result, { python: await resolveSystemPython(), venvDir: null, installed: false });
  assert.ok(!existsSync(join(scratch, 'skip', '.venv')));
});
