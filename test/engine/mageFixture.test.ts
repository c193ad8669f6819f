/**
 * A project written in Mage's own format (test/fixtures/mage_project, etl_demo: one loader, two transformers,
 * one exporter with Mage's templates) runs unchanged through the engine, honouring its block_run_limit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProject, type Project } from '../../src/project/projectConfig.js';
import { openStore, type Store } from '../../src/store/db.js';
import { createEngineStack, type EngineStack } from '../../src/engine/stack.js';
import { runPartition } from '../../src/engine/executeBlock.js';
import { blockVariablesDir } from '../../src/variables/layout.js';
import { readOutputs } from '../../src/variables/read.js';
import { usePreparedPython } from './projectBuilder.js';

usePreparedPython();

describe('a Mage project run unchanged', () => {
  let base: string;
  let project: Project;
  let store: Store;
  let stack: EngineStack;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'blockflow-mage-fixture-'));
    cpSync(new URL('../fixtures/mage_project', import.meta.url).pathname, join(base, 'mage_project'), { recursive: true });
    project = loadProject(join(base, 'mage_project'), { ...process.env, MAGE_DATA_DIR: join(base, 'data') });
    store = await openStore({ url: `sqlite://${join(base, 'data', 'mage-ai.db')}` });
    stack = await createEngineStack({ project, store, instanceId: 'fixture', env: {} });
  });

  after(async () => {
    await stack?.close();
    await store?.close();
    rmSync(base, { recursive: true, force: true });
  });

  test('etl_demo completes; the exporter receives both transformers outputs positionally', async () => {
    const run = await stack.engine.createRun({ pipelineUuid: 'etl_demo' });
    assert.equal(await stack.engine.waitForRun(run.id), 'completed');
    const blockRuns = await store.blockRuns.listForRun(run.id);
    assert.deepEqual(blockRuns.map((b) => [b.block_uuid, b.status]), [
      ['block1', 'completed'],
      ['block2', 'completed'],
      ['block3', 'completed'],
      ['block4', 'completed'],
    ]);
    const row = (await store.pipelineRuns.get(run.id))!;
    const dir = (block: string) => blockVariablesDir(project.dataDir, 'etl_demo', runPartition(row), block);
    assert.deepEqual(await readOutputs(dir('block4')), [{ rows: 4 }]);
    // block1 returns a list of two rows: Mage splits a returned list into output_0..N.
    assert.deepEqual(await readOutputs(dir('block1')), [{ id: 1, value: 10 }, { id: 2, value: 20 }]);
  });
});
