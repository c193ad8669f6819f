/**
 * The warm Python worker keeps compiled block files and a list of modules outside the project between
 * requests. These tests prove that neither hides a change: an edited block file runs its new code, a project
 * module imported under a name first seen outside the project is still imported afresh, and a second project
 * root gets its own modules evicted.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BlockRunRequest, BlockRunResult } from '../types.js';
import { PythonRuntime } from './pool.js';
import { testPython } from './testPython.js';

const HEADER = `if 'data_loader' not in globals():\n    from mage_ai.data_preparation.decorators import data_loader\n`;

let base: string;
let runtime: PythonRuntime;

function write(root: string, relativePath: string, text: string): string {
  const file = join(root, relativePath);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function request(projectRoot: string, filePath: string, blockUuid: string): BlockRunRequest {
  return {
    projectRoot,
    dataDir: join(projectRoot, 'mage_data'),
    pipelineUuid: 'pipe',
    blockUuid,
    blockType: 'data_loader',
    language: 'python',
    filePath,
    mode: 'run',
    configuration: {},
    upstream: [],
    kwargs: {},
    outputDir: null,
    returnOutputs: true,
    runTests: false,
  };
}

function outputs(result: BlockRunResult): unknown[] | undefined {
  if (!result.ok) assert.fail(`block failed: ${JSON.stringify(result.error)}`);
  return result.outputs;
}

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'blockflow-pyfiles-'));
  // One worker, so every request below lands on the same warm interpreter and its caches.
  runtime = new PythonRuntime({ python: await testPython(), size: 1, cwd: base });
  await runtime.warm();
});

after(async () => {
  await runtime?.close();
  rmSync(base, { recursive: true, force: true });
});

test('an edited block file runs its new code, even when the size does not change', async () => {
  const root = join(base, 'edits');
  const file = write(root, 'data_loaders/edited.py', `${HEADER}@data_loader\ndef load(*args, **kwargs):\n    return 'aaa'\n`);
  const pid = runtime.workerPids[0];
  assert.deepEqual(outputs(await runtime.run(request(root, file, 'edited'))), ['aaa']);
  assert.deepEqual(outputs(await runtime.run(request(root, file, 'edited'))), ['aaa']);
  write(root, 'data_loaders/edited.py', `${HEADER}@data_loader\ndef load(*args, **kwargs):\n    return 'bbb'\n`);
  assert.deepEqual(outputs(await runtime.run(request(root, file, 'edited'))), ['bbb']);
  assert.deepEqual(runtime.workerPids, [pid], 'the same warm worker ran every request');
});

test('a second project root gets its helper modules evicted too, and the first keeps working', async () => {
  const a = join(base, 'project_a');
  const b = join(base, 'project_b');
  for (const [root, value] of [[a, 1], [b, 2]] as const) write(root, 'shared_helpers/values.py', `VALUE = ${value}\n`);
  const code = `${HEADER}from shared_helpers.values import VALUE\n@data_loader\ndef load(*args, **kwargs):\n    return VALUE\n`;
  const fileA = write(a, 'data_loaders/reads.py', code);
  const fileB = write(b, 'data_loaders/reads.py', code);
  assert.deepEqual(outputs(await runtime.run(request(a, fileA, 'reads'))), [1]);
  // Same module name, other project: project A's module must not be served to project B.
  assert.deepEqual(outputs(await runtime.run(request(b, fileB, 'reads'))), [2]);
  write(b, 'shared_helpers/values.py', 'VALUE = 20\n');
  assert.deepEqual(outputs(await runtime.run(request(b, fileB, 'reads'))), [20]);
  assert.deepEqual(outputs(await runtime.run(request(a, fileA, 'reads'))), [1]);
});
