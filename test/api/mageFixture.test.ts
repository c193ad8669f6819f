/**
 * The hand-built Mage project (test/fixtures/mage_project) served over real HTTP on SQLite and PostgreSQL:
 * it loads as Mage would show it, a save without changes rewrites metadata.yaml byte for byte, and after a
 * series of edits through the API (pipeline fields, block fields, block content, a new block) the saved file
 * holds every key it had, Mage's and unknown ones (`x_*`), with only the edited values changed. Files the
 * edits do not concern stay byte-identical.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DIALECTS, type TestServer } from '../helpers/server.js';
import { MAGE_FIXTURE, startApiServer } from './support.js';

const PIPELINE_FILE = join('pipelines', 'etl_demo', 'metadata.yaml');
const UNTOUCHED_FILES = [
  'metadata.yaml',
  'io_config.yaml',
  'requirements.txt',
  join('pipelines', 'etl_demo', 'triggers.yaml'),
  join('transformers', 'block2.py'),
  join('transformers', 'block3.py'),
  join('data_exporters', 'block4.py'),
];

for (const dialect of DIALECTS) {
  describe(`Mage project fixture through the API (${dialect})`, () => {
    let t: TestServer;
    const call = (method: string, path: string, body?: unknown) => t.call(method, path, body, t.ownerToken);
    const fixtureText = (file: string) => readFileSync(join(MAGE_FIXTURE, file), 'utf8');
    const projectText = (file: string) => readFileSync(join(t.projectDir, file), 'utf8');

    before(async () => {
      t = await startApiServer(dialect, { fixture: MAGE_FIXTURE });
    });
    after(async () => {
      await t?.close();
    });

    test('the fixture loads: pipeline fields, block links, retry config, variables and settings as written', async () => {
      const res = await call('GET', '/api/pipelines/etl_demo');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const p = res.body.pipeline;
      assert.equal(p.name, 'ETL demo');
      assert.equal(p.created_at, '2024-09-27 23:18:10.554952+00:00');
      assert.deepEqual(p.tags, ['etl', 'yes']);
      assert.match(p.description, /Loads rows → two transformers → one exporter\. This description is long on purpose/);
      assert.deepEqual(p.concurrency_config, { block_run_limit: 2, pipeline_run_limit: 5 });
      assert.deepEqual(p.settings, { triggers: { save_in_code_automatically: true } });
      assert.deepEqual(p.variables, { env: 'dev', limit: 10, on: 'off' });
      assert.deepEqual(p.blocks.map((b: any) => [b.uuid, b.status, b.upstream_blocks, b.downstream_blocks]), [
        ['block1', 'executed', [], ['block2', 'block3']],
        ['block2', 'executed', ['block1'], ['block4']],
        ['block3', 'failed', ['block1'], ['block4']],
        ['block4', 'not_executed', ['block2', 'block3'], []],
      ]);
      assert.deepEqual(p.blocks[2].configuration, { dynamic: false, x_note: 'keep me' });
      assert.deepEqual([p.blocks[3].color, p.blocks[3].timeout, p.blocks[3].retry_config], ['teal', 600, { delay: 10, exponential_backoff: true, retries: 2 }]);
      assert.equal(p.blocks[0].content, fixtureText(join('data_loaders', 'block1.py')));
    });

    test('an update that changes nothing rewrites metadata.yaml byte for byte', async () => {
      const res = await call('PUT', '/api/pipelines/etl_demo', { pipeline: {} });
      assert.equal(res.status, 200);
      assert.equal(projectText(PIPELINE_FILE), fixtureText(PIPELINE_FILE));
    });

    test('after edits through the API the file keeps every key it had, with only the edited values changed', async () => {
      const original = parseYaml(fixtureText(PIPELINE_FILE));
      const edits = [
        await call('PUT', '/api/pipelines/etl_demo', { pipeline: { description: 'Edited through the API.', tags: ['etl', 'yes', 'edited'] } }),
        await call('PUT', '/api/pipelines/etl_demo/blocks/block3', { block: { color: 'blue', configuration: { dynamic: false, x_note: 'keep me', x_added: 1 } } }),
        await call('PUT', '/api/pipelines/etl_demo?update_content=true', { pipeline: { blocks: [{ uuid: 'block1', content: 'print("edited")\n' }] } }),
        await call('POST', '/api/pipelines/etl_demo/blocks', { block: { name: 'block5', type: 'data_exporter', upstream_blocks: ['block4'] } }),
      ];
      for (const res of edits) assert.equal(res.status, 200, JSON.stringify(res.body));

      const expected = structuredClone(original);
      expected.description = 'Edited through the API.';
      expected.tags = ['etl', 'yes', 'edited'];
      const [b1, b2, b3, b4] = expected.blocks;
      b3.color = 'blue';
      b3.configuration = { dynamic: false, x_note: 'keep me', x_added: 1 };
      b1.status = 'updated';
      // Recomputed on save (Mage's all_upstream_blocks_executed): block1 is no longer executed.
      b2.all_upstream_blocks_executed = false;
      b3.all_upstream_blocks_executed = false;
      b4.downstream_blocks = ['block5'];

      const saved = parseYaml(projectText(PIPELINE_FILE));
      const added = saved.blocks.pop();
      assert.deepEqual(saved, expected);
      assert.deepEqual([added.uuid, added.type, added.upstream_blocks, added.status], ['block5', 'data_exporter', ['block4'], 'not_executed']);
      assert.equal(readFileSync(join(t.projectDir, 'data_loaders', 'block1.py'), 'utf8'), 'print("edited")\n');
      for (const file of UNTOUCHED_FILES) assert.equal(projectText(file), fixtureText(file), `${file} changed`);
    });

    test('the edited pipeline reloads through the API with the edits and the unknown keys still on disk', async () => {
      const res = await call('GET', '/api/pipelines/etl_demo');
      assert.equal(res.status, 200);
      assert.equal(res.body.pipeline.description, 'Edited through the API.');
      assert.deepEqual(res.body.pipeline.blocks.map((b: any) => b.uuid), ['block1', 'block2', 'block3', 'block4', 'block5']);
      const saved = parseYaml(projectText(PIPELINE_FILE));
      assert.equal(saved.x_pipeline_owner, 'data-platform');
      assert.deepEqual(saved.x_review, { approved: true, by: ['bob'] });
      assert.equal(saved.blocks[0].x_owner, 'alice');
      assert.equal(saved.variables_dir, '~/.mage_data/mage_project');
    });
  });
}
