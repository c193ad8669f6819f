import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { blockFilePath } from './blocks.js';
import { initProject } from './init.js';
import { listPipelineUuids, loadPipeline, topologicalOrder } from './pipeline.js';
import { loadProject, ProjectConfigError, readIoConfig } from './projectConfig.js';
import { tempDir } from './testSupport.js';
import { readTriggers } from './triggersYaml.js';

test('initProject creates a Mage-style project whose demo pipeline loads back', async () => {
  const t = tempDir();
  try {
    const dir = join(t.root, 'shop');
    const project = initProject(dir);
    assert.equal(project.name, 'shop');
    assert.equal(project.projectType, 'standalone');
    assert.match(project.projectUuid ?? '', /^[0-9a-f]{32}$/);
    assert.equal(project.dataDir, join(project.root, 'mage_data'));
    for (const f of ['metadata.yaml', 'io_config.yaml', 'requirements.txt', '.gitignore', 'data_loaders', 'transformers', 'data_exporters', 'custom', 'sensors', 'dbt', 'charts', 'markdowns', 'scratchpads', 'callbacks', 'conditionals', 'extensions', 'interactions', 'utils', 'custom_templates']) {
      assert.ok(existsSync(join(dir, f)), f);
    }
    assert.equal(readFileSync(join(dir, 'requirements.txt'), 'utf8'), '');
    assert.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /^mage_data\/$/m);
    const io = await readIoConfig(project, 'default', { env: { POSTGRES_HOST: 'db.local' } });
    assert.equal(io.POSTGRES_HOST, 'db.local');
    assert.equal(io.POSTGRES_DBNAME, '');

    assert.deepEqual(listPipelineUuids(project), ['demo_pipeline']);
    const p = loadPipeline(project, 'demo_pipeline');
    assert.equal(p.variables_dir, project.dataDir);
    assert.deepEqual(topologicalOrder(p).map((b) => [b.uuid, b.type, b.language]), [
      ['load_numbers', 'data_loader', 'python'],
      ['summarise', 'transformer', 'sql'],
      ['report', 'data_exporter', 'typescript'],
    ]);
    const [load, summarise, report] = p.blocks;
    assert.match(readFileSync(blockFilePath(project, load), 'utf8'), /pd\.DataFrame\(\{'id': ids, 'value'/);
    assert.match(readFileSync(blockFilePath(project, summarise), 'utf8'), /SELECT count\(\*\) AS n, sum\(value\) AS total FROM \{\{ df_1 \}\}/);
    assert.equal(summarise.configuration.data_provider, 'duckdb');
    assert.equal(blockFilePath(project, report), join(project.root, 'data_exporters/report.ts'));
    assert.match(readFileSync(blockFilePath(project, report), 'utf8'), /export default async function report\(ctx: BlockContext, summary: unknown\)/);
    const triggers = readTriggers(project, 'demo_pipeline');
    assert.equal(triggers.length, 1);
    assert.deepEqual([triggers[0].schedule_interval, triggers[0].status, triggers[0].schedule_type], ['@daily', 'inactive', 'time']);
    assert.deepEqual(readdirSync(t.root), ['shop'], 'no staging folder left behind');
  } finally {
    t.cleanup();
  }
});

test('initProject refuses an existing project unless ifMissing, and refuses non-empty folders', () => {
  const t = tempDir();
  try {
    const dir = join(t.root, 'p');
    const first = initProject(dir);
    assert.throws(() => initProject(dir), ProjectConfigError);
    const again = initProject(dir, { ifMissing: true });
    assert.equal(again.projectUuid, first.projectUuid);
    initProject(join(t.root, 'empty_ok'));
    writeFileSync(join(t.root, 'stray.txt'), 'x');
    assert.throws(() => initProject(t.root), /not empty/);
    assert.equal(loadProject(join(t.root, 'empty_ok')).name, 'empty_ok');
  } finally {
    t.cleanup();
  }
});
