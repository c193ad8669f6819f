import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProject } from './projectConfig.js';
import {
  createPipeline,
  deletePipeline,
  downstreamClosure,
  dumpPipelineYaml,
  findCycle,
  listPipelineUuids,
  loadPipeline,
  PipelineConfigError,
  PipelineCycleError,
  PipelineExistsError,
  PipelineNotFoundError,
  pipelineExists,
  pipelineUpdatedAt,
  renamePipeline,
  savePipeline,
  topologicalOrder,
  upstreamClosure,
} from './pipeline.js';
import { PathRefusedError } from './paths.js';
import { copyFixture, FIXTURE_DIR } from './testSupport.js';

const FIXTURE_YAML = readFileSync(join(FIXTURE_DIR, 'pipelines/etl_demo/metadata.yaml'), 'utf8');

test('loadPipeline reads the fixture with every key, known and unknown', () => {
  const t = copyFixture();
  try {
    const project = loadProject(t.root, {});
    assert.deepEqual(listPipelineUuids(project), ['etl_demo']);
    const p = loadPipeline(project, 'etl_demo');
    assert.equal(p.uuid, 'etl_demo');
    assert.equal(p.name, 'ETL demo');
    assert.deepEqual(p.tags, ['etl', 'yes']);
    assert.deepEqual(p.variables, { env: 'dev', limit: 10, on: 'off' });
    assert.equal(p.x_pipeline_owner, 'data-platform');
    assert.deepEqual(p.x_review, { approved: true, by: ['bob'] });
    assert.deepEqual(p.blocks.map((b) => b.uuid), ['block1', 'block2', 'block3', 'block4']);
    assert.equal(p.blocks[0].x_owner, 'alice');
    assert.deepEqual(p.blocks[1].tags, ['core']);
    assert.deepEqual(p.blocks[3].upstream_blocks, ['block2', 'block3']);
    assert.deepEqual(p.settings, { triggers: { save_in_code_automatically: true } });
  } finally {
    t.cleanup();
  }
});

test('load then save without changes writes the same bytes as Mage', () => {
  const t = copyFixture();
  try {
    const project = loadProject(t.root, {});
    const p = loadPipeline(project, 'etl_demo');
    assert.equal(dumpPipelineYaml(p), FIXTURE_YAML);
    savePipeline(project, p);
    assert.equal(readFileSync(join(t.root, 'pipelines/etl_demo/metadata.yaml'), 'utf8'), FIXTURE_YAML);
    assert.deepEqual(readdirSync(join(t.root, 'pipelines/etl_demo')).sort(), ['__init__.py', 'metadata.yaml', 'triggers.yaml']);
  } finally {
    t.cleanup();
  }
});

test('missing keys get Mage defaults, and executor_type defaults to local_python', () => {
  const t = copyFixture();
  try {
    const project = loadProject(t.root, {});
    mkdirSync(join(t.root, 'pipelines/mini'));
    writeFileSync(
      join(t.root, 'pipelines/mini/metadata.yaml'),
      'name: mini\nblocks:\n- uuid: a\n  type: data_loader\n  downstream_blocks: [b]\n- uuid: b\n  type: transformer\n  upstream_blocks: [a, ghost]\n',
    );
    const p = loadPipeline(project, 'mini');
    assert.equal(p.type, 'python');
    assert.equal(p.executor_count, 1);
    assert.deepEqual(p.callbacks, []);
    assert.deepEqual(p.settings, { triggers: null });
    assert.equal(p.variables_dir, project.dataDir);
    assert.equal('variables' in p, false);
    assert.equal(p.blocks[0].executor_type, 'local_python');
    assert.equal(p.blocks[0].language, 'python');
    assert.equal(p.blocks[0].status, 'not_executed');
    assert.deepEqual(p.blocks[1].upstream_blocks, ['a']);
    savePipeline(project, p);
    const text = readFileSync(join(t.root, 'pipelines/mini/metadata.yaml'), 'utf8');
    assert.match(text, /^cache_block_output_in_memory: false$/m);
    assert.match(text, /^  executor_type: local_python$/m);
    assert.doesNotMatch(text, /^variables:/m);
  } finally {
    t.cleanup();
  }
});

test('upstream and downstream lists are made consistent on load', () => {
  const t = copyFixture();
  try {
    const project = loadProject(t.root, {});
    mkdirSync(join(t.root, 'pipelines/half'));
    writeFileSync(join(t.root, 'pipelines/half/metadata.yaml'), 'blocks:\n- {uuid: a, type: data_loader}\n- {uuid: b, type: transformer, upstream_blocks: [a]}\n');
    const p = loadPipeline(project, 'half');
    assert.deepEqual(p.blocks[0].downstream_blocks, ['b']);
  } finally {
    t.cleanup();
  }
});

test('an unknown block type, a cycle, a broken file or a missing pipeline raise typed errors', () => {
  const t = copyFixture();
  try {
    const project = loadProject(t.root, {});
    const write = (name: string, text: string) => {
      mkdirSync(join(t.root, 'pipelines', name), { recursive: true });
      writeFileSync(join(t.root, 'pipelines', name, 'metadata.yaml'), text);
    };
    write('badtype', 'blocks:\n- {uuid: a, type: loader}\n');
    assert.throws(() => loadPipeline(project, 'badtype'), (e: unknown) => e instanceof PipelineConfigError && /unknown type "loader"/.test((e as Error).message));
    write('cyclic', 'blocks:\n- {uuid: a, type: transformer, upstream_blocks: [b]}\n- {uuid: b, type: transformer, upstream_blocks: [a]}\n');
    assert.throws(() => loadPipeline(project, 'cyclic'), PipelineCycleError);
    write('broken', 'blocks: [\n');
    assert.throws(() => loadPipeline(project, 'broken'), PipelineConfigError);
    write('empty', '');
    assert.throws(() => loadPipeline(project, 'empty'), PipelineConfigError);
    write('dup', 'blocks:\n- {uuid: a, type: data_loader}\n- {uuid: a, type: data_loader}\n');
    assert.throws(() => loadPipeline(project, 'dup'), /more than once/);
    assert.throws(() => loadPipeline(project, 'nope'), (e: unknown) => e instanceof PipelineNotFoundError && (e as Error).message === 'Pipeline nope does not exist.');
    assert.throws(() => loadPipeline(project, '..'), PathRefusedError);
    assert.throws(() => loadPipeline(project, 'a/b'), PathRefusedError);
    assert.equal(pipelineExists(project, '../x'), false);
  } finally {
    t.cleanup();
  }
});

test('createPipeline writes __init__.py and only Mage’s six keys; an existing folder is refused', () => {
  const t = copyFixture();
  try {
    const project = loadProject(t.root, {});
    const p = createPipeline(project, { name: 'Arwen-Starlight', description: 'd', tags: ['x'] });
    assert.equal(p.uuid, 'arwen_starlight');
    assert.equal(readFileSync(join(t.root, 'pipelines/arwen_starlight/__init__.py'), 'utf8'), '');
    const text = readFileSync(join(t.root, 'pipelines/arwen_starlight/metadata.yaml'), 'utf8');
    const keys = [...text.matchAll(/^(\w+):/gm)].map((m) => m[1]);
    assert.deepEqual(keys, ['created_at', 'description', 'name', 'tags', 'type', 'uuid']);
    assert.match(text, /^created_at: '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00'$/m);
    assert.match(text, /^name: Arwen-Starlight$/m);
    assert.throws(() => createPipeline(project, { name: 'arwen starlight' }), (e: unknown) => e instanceof PipelineExistsError && (e as Error).message === 'Pipeline arwen starlight already exists.');
    assert.throws(() => createPipeline(project, { name: 'z', type: 'nonsense' }), PipelineConfigError);
    assert.equal(existsSync(join(t.root, 'pipelines/z')), false);
  } finally {
    t.cleanup();
  }
});

test('renamePipeline moves the folder and changes the uuid; deletePipeline removes only the folder', () => {
  const t = copyFixture();
  try {
    const project = loadProject(t.root, {});
    createPipeline(project, { name: 'other' });
    assert.throws(() => renamePipeline(project, 'etl_demo', 'Other'), PipelineExistsError);
    const renamed = renamePipeline(project, 'etl_demo', 'Sales ETL');
    assert.equal(renamed.uuid, 'sales_etl');
    assert.equal(existsSync(join(t.root, 'pipelines/etl_demo')), false);
    const reloaded = loadPipeline(project, 'sales_etl');
    assert.equal(reloaded.name, 'Sales ETL');
    assert.equal(reloaded.x_pipeline_owner, 'data-platform');
    assert.ok(existsSync(join(t.root, 'pipelines/sales_etl/triggers.yaml')));
    assert.match(pipelineUpdatedAt(project, 'sales_etl'), /^\d{4}-\d\d-\d\dT/);
    deletePipeline(project, 'sales_etl');
    assert.equal(pipelineExists(project, 'sales_etl'), false);
    assert.ok(existsSync(join(t.root, 'data_loaders/block1.py')));
    assert.throws(() => deletePipeline(project, 'sales_etl'), PipelineNotFoundError);
  } finally {
    t.cleanup();
  }
});

test('DAG helpers: topological order, closures and cycle detection', () => {
  const t = copyFixture();
  try {
    const p = loadPipeline(loadProject(t.root, {}), 'etl_demo');
    assert.deepEqual(topologicalOrder(p).map((b) => b.uuid), ['block1', 'block2', 'block3', 'block4']);
    assert.deepEqual(upstreamClosure(p, 'block4'), ['block1', 'block2', 'block3']);
    assert.deepEqual(upstreamClosure(p, 'block1'), []);
    assert.deepEqual(downstreamClosure(p, 'block1'), ['block2', 'block3', 'block4']);
    assert.deepEqual(downstreamClosure(p, 'block3'), ['block4']);
    const reversed = { blocks: [...p.blocks].reverse() };
    assert.deepEqual(topologicalOrder(reversed).map((b) => b.uuid), ['block1', 'block3', 'block2', 'block4']);
    assert.equal(findCycle(p.blocks), null);
    const cyclic = [
      { uuid: 'a', upstream_blocks: ['c'] },
      { uuid: 'b', upstream_blocks: ['a'] },
      { uuid: 'c', upstream_blocks: ['b'] },
    ];
    const cycle = findCycle(cyclic);
    assert.ok(cycle && cycle.length === 4 && cycle[0] === cycle[3]);
    assert.throws(() => topologicalOrder({ blocks: cyclic }), /cycle/);
  } finally {
    t.cleanup();
  }
});
