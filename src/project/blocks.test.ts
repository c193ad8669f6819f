import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  addBlock,
  applyPipelineUpdate,
  BlockExistsError,
  blockFilePath,
  blockTemplate,
  BLOCK_TYPES,
  HasDownstreamDependenciesError,
  readBlockContent,
  removeBlock,
  updateBlock,
  writeBlockContent,
} from './blocks.js';
import { loadPipeline, PipelineCycleError, savePipeline, type PipelineConfig } from './pipeline.js';
import { PathRefusedError } from './paths.js';
import { loadProject, type Project } from './projectConfig.js';
import { copyFixture, PYTHON } from './testSupport.js';
import { PipelineUpdateError } from './errors.js';

function setup(): { project: Project; pipeline: PipelineConfig; root: string; cleanup: () => void } {
  const t = copyFixture();
  // Keep block outputs inside the temp folder rather than under ~/.mage_data.
  const project = loadProject(t.root, { MAGE_DATA_DIR: join(dirname(t.root), 'data') });
  return { project, pipeline: loadPipeline(project, 'etl_demo'), root: project.root, cleanup: t.cleanup };
}

/** Keys of every mapping in the file, depth-first, as the file lists them. */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => keyPaths(v, `${prefix}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [`${prefix}.${k}`, ...keyPaths(v, `${prefix}.${k}`)]);
  }
  return [];
}

/** What PyYAML writes for the file's own content: equal to the file when it is in Mage's exact format. */
function pyyamlRoundTrip(text: string): string {
  const r = spawnSync(PYTHON, ['-c', 'import sys, yaml; sys.stdout.write(yaml.dump(yaml.full_load(sys.stdin.read())))'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('the fixture keeps every key and Mage’s format after add, rename and content update', () => {
  const { project, pipeline, root, cleanup } = setup();
  try {
    const metadataPath = join(root, 'pipelines/etl_demo/metadata.yaml');
    const before = keyPaths(loadPipeline(project, 'etl_demo'));

    const added = addBlock(project, pipeline, { name: 'Block 5', type: 'transformer', upstream_blocks: ['block4'] });
    assert.equal(added.block.uuid, 'block_5');
    assert.equal(readFileSync(join(root, 'transformers/block_5.py'), 'utf8'), blockTemplate('transformer', 'python'));

    updateBlock(project, pipeline, 'block2', { name: 'Clean Rows' });
    assert.ok(existsSync(join(root, 'transformers/clean_rows.py')));
    assert.equal(existsSync(join(root, 'transformers/block2.py')), false);

    applyPipelineUpdate(project, pipeline, { blocks: pipeline.blocks.map((b) => ({ uuid: b.uuid, content: b.uuid === 'block3' ? 'x = 1\n' : undefined })) }, { updateContent: true });
    assert.equal(readFileSync(join(root, 'transformers/block3.py'), 'utf8'), 'x = 1\n');

    const text = readFileSync(metadataPath, 'utf8');
    assert.equal(pyyamlRoundTrip(text), text, 'file is exactly what PyYAML writes for its content');
    const after = loadPipeline(project, 'etl_demo');
    const renamedPaths = new Set(keyPaths(after));
    for (const key of before) assert.ok(renamedPaths.has(key), `key ${key} survived`);
    assert.equal(after.x_pipeline_owner, 'data-platform');
    assert.equal(after.blocks[0].x_owner, 'alice');
    assert.deepEqual(after.blocks.map((b) => b.uuid), ['block1', 'clean_rows', 'block3', 'block4', 'block_5']);
    assert.deepEqual(after.blocks[1].tags, ['core']);
    assert.equal(after.blocks[1].name, 'Clean Rows');
    assert.deepEqual(after.blocks[0].downstream_blocks, ['clean_rows', 'block3']);
    assert.deepEqual(after.blocks[3].upstream_blocks, ['clean_rows', 'block3']);
    assert.deepEqual(after.blocks[3].downstream_blocks, ['block_5']);
    assert.equal(after.blocks[2].status, 'updated');
    assert.deepEqual(after.blocks[2].configuration, { dynamic: false, x_note: 'keep me' });
    assert.deepEqual(readdirSync(join(root, 'pipelines/etl_demo')).sort(), ['__init__.py', 'metadata.yaml', 'triggers.yaml']);
  } finally {
    cleanup();
  }
});

test('addBlock reuses an existing file, refuses duplicates with Mage’s message, and honours content/priority', () => {
  const { project, pipeline, root, cleanup } = setup();
  try {
    mkdirSync(join(root, 'custom'), { recursive: true });
    writeFileSync(join(root, 'custom/shared_step.py'), '# shared\n');
    const reused = addBlock(project, pipeline, { name: 'shared step', type: 'custom', priority: 0 });
    assert.equal(reused.content, '# shared\n');
    assert.equal(readFileSync(join(root, 'custom/shared_step.py'), 'utf8'), '# shared\n');
    assert.equal(pipeline.blocks[0].uuid, 'shared_step');

    assert.throws(
      () => addBlock(project, pipeline, { name: 'block1', type: 'data_loader' }),
      (e: unknown) => e instanceof BlockExistsError && (e as Error).message === '[ERR_BLOCK_EXISTS] Block block1 already exists. Please use a different name.',
    );
    writeFileSync(join(root, 'data_loaders/lonely.py'), '# mine\n');
    assert.throws(() => addBlock(project, pipeline, { uuid: 'lonely', type: 'data_loader', require_unique_name: true }), BlockExistsError);
    assert.equal(readFileSync(join(root, 'data_loaders/lonely.py'), 'utf8'), '# mine\n');

    const sql = addBlock(project, pipeline, { uuid: 'sum_up', type: 'data_exporter', language: 'sql', content: 'SELECT 2', downstream_blocks: [], upstream_blocks: ['block4'], color: 'pink' });
    assert.equal(readFileSync(join(root, 'data_exporters/sum_up.sql'), 'utf8'), 'SELECT 2');
    assert.equal(sql.block.color, 'pink');
    const reloaded = loadPipeline(project, 'etl_demo');
    assert.deepEqual(reloaded.blocks.find((b) => b.uuid === 'block4')?.downstream_blocks, ['sum_up']);

    const before = readFileSync(join(root, 'pipelines/etl_demo/metadata.yaml'), 'utf8');
    assert.throws(() => addBlock(project, pipeline, { name: 'loop', type: 'transformer', upstream_blocks: ['block4'], downstream_blocks: ['block1'] }), PipelineCycleError);
    assert.equal(existsSync(join(root, 'transformers/loop.py')), false, 'nothing written for a refused block');
    assert.equal(readFileSync(join(root, 'pipelines/etl_demo/metadata.yaml'), 'utf8'), before);
    assert.throws(() => addBlock(project, pipeline, { name: 'x', type: 'nonsense' }), /not supported/);
    assert.throws(() => addBlock(project, pipeline, { name: 'x', type: 'data_loader', upstream_blocks: ['ghost'] }), /ghost does not exist/);
  } finally {
    cleanup();
  }
});

test('callbacks, conditionals and charts go to their own lists', () => {
  const { project, pipeline, cleanup } = setup();
  try {
    addBlock(project, pipeline, { name: 'notify', type: 'callback', upstream_blocks: ['block1'] });
    addBlock(project, pipeline, { name: 'only_weekdays', type: 'conditional' });
    addBlock(project, pipeline, { name: 'chart_1', type: 'chart', language: 'python', upstream_blocks: ['block4'] });
    const p = loadPipeline(project, 'etl_demo');
    assert.deepEqual(p.callbacks.map((b) => b.uuid), ['notify']);
    assert.deepEqual(p.conditionals.map((b) => b.uuid), ['only_weekdays']);
    assert.deepEqual(p.widgets.map((b) => b.uuid), ['chart_1']);
    assert.equal(p.blocks.length, 4);
  } finally {
    cleanup();
  }
});

test('updateBlock sets upstream_blocks and recomputes the other side; refuses cycles', () => {
  const { project, pipeline, cleanup } = setup();
  try {
    updateBlock(project, pipeline, 'block4', { upstream_blocks: ['block3'], color: 'blue', timeout: 30, content: 'ignored' });
    const p = loadPipeline(project, 'etl_demo');
    const by = (u: string) => p.blocks.find((b) => b.uuid === u)!;
    assert.deepEqual(by('block4').upstream_blocks, ['block3']);
    assert.deepEqual(by('block2').downstream_blocks, []);
    assert.deepEqual(by('block3').downstream_blocks, ['block4']);
    assert.equal(by('block4').color, 'blue');
    assert.equal(by('block4').timeout, 30);
    assert.match(readFileSync(blockFilePath(project, by('block4')), 'utf8'), /export_data/);
    updateBlock(project, pipeline, 'block1', { downstream_blocks: ['block2'] });
    assert.deepEqual(loadPipeline(project, 'etl_demo').blocks.find((b) => b.uuid === 'block3')?.upstream_blocks, []);
    assert.throws(() => updateBlock(project, pipeline, 'block1', { upstream_blocks: ['block2'] }), PipelineCycleError);
    assert.throws(() => updateBlock(project, pipeline, 'block1', { name: 'block3' }), BlockExistsError);
    assert.throws(() => updateBlock(project, pipeline, 'ghost', { color: 'blue' }), /Block ghost does not exist in pipeline etl_demo/);
  } finally {
    cleanup();
  }
});

test('renaming a block also renames it in other pipelines that use the same file', () => {
  const { project, pipeline, root, cleanup } = setup();
  try {
    const second = loadPipeline(project, 'etl_demo');
    second.uuid = 'second';
    second.name = 'second';
    mkdirSync(join(root, 'pipelines/second'));
    savePipeline(project, second);
    updateBlock(project, pipeline, 'block1', { name: 'load_rows' });
    assert.deepEqual(loadPipeline(project, 'second').blocks.map((b) => b.uuid), ['load_rows', 'block2', 'block3', 'block4']);
    assert.deepEqual(loadPipeline(project, 'second').blocks[1].upstream_blocks, ['load_rows']);
    assert.ok(existsSync(join(root, 'data_loaders/load_rows.py')));
  } finally {
    cleanup();
  }
});

test('removeBlock refuses blocks with downstream dependencies unless forced, then relinks', () => {
  const { project, pipeline, root, cleanup } = setup();
  try {
    assert.throws(() => removeBlock(project, pipeline, 'block2'), HasDownstreamDependenciesError);
    const varsDir = join(project.dataDir, 'pipelines/etl_demo/.variables/block2/output_0');
    mkdirSync(varsDir, { recursive: true });
    removeBlock(project, pipeline, 'block2', { force: true });
    assert.equal(existsSync(varsDir), false);
    const p = loadPipeline(project, 'etl_demo');
    assert.deepEqual(p.blocks.map((b) => b.uuid), ['block1', 'block3', 'block4']);
    assert.deepEqual(p.blocks[2].upstream_blocks, ['block3', 'block1']);
    assert.deepEqual(p.blocks[0].downstream_blocks, ['block3', 'block4']);
    assert.ok(existsSync(join(root, 'transformers/block2.py')), 'python block files are kept');
    removeBlock(project, pipeline, 'block4');
    addBlock(project, pipeline, { name: 'notes', type: 'markdown', language: 'markdown', content: '# hi' });
    assert.ok(existsSync(join(root, 'markdowns/notes.md')));
    removeBlock(project, pipeline, 'notes');
    assert.equal(existsSync(join(root, 'markdowns/notes.md')), false, 'markdown files go with their block');
  } finally {
    cleanup();
  }
});

test('applyPipelineUpdate reorders, saves fields, renames, and refuses adding or removing blocks', () => {
  const { project, pipeline, root, cleanup } = setup();
  try {
    const order = ['block1', 'block3', 'block2', 'block4'];
    applyPipelineUpdate(project, pipeline, { description: 'new', tags: ['a'], variables: { ignored: true }, blocks: order.map((uuid) => ({ uuid })) });
    let p = loadPipeline(project, 'etl_demo');
    assert.deepEqual(p.blocks.map((b) => b.uuid), order);
    assert.equal(p.description, 'new');
    assert.deepEqual(p.variables, { env: 'dev', limit: 10, on: 'off' });

    assert.throws(
      () => applyPipelineUpdate(project, pipeline, { blocks: [{ uuid: 'block4' }, { uuid: 'block1' }] }),
      (e: unknown) => e instanceof PipelineUpdateError && (e as Error).message === 'Blocks cannot be added or removed when saving content',
    );
    assert.throws(() => applyPipelineUpdate(project, pipeline, { blocks: [{ uuid: 'new' }, ...order.map((uuid) => ({ uuid }))] }), PipelineUpdateError);

    const updated = applyPipelineUpdate(
      project,
      pipeline,
      { name: 'Renamed ETL', blocks: [...order.map((uuid) => ({ uuid })), { uuid: 'unknown_block', content: 'x' }].map((b) => (b.uuid === 'block1' ? { ...b, name: 'Load All', color: 'yellow', content: '# new\n' } : b)) },
      { updateContent: true },
    );
    assert.equal(updated.uuid, 'renamed_etl');
    assert.equal(pipeline.uuid, 'renamed_etl');
    p = loadPipeline(project, 'renamed_etl');
    assert.equal(p.blocks[0].uuid, 'load_all');
    assert.equal(p.blocks[0].color, 'yellow');
    assert.equal(readFileSync(join(root, 'data_loaders/load_all.py'), 'utf8'), '# new\n');
    assert.deepEqual(p.blocks[2].upstream_blocks, ['load_all']);
  } finally {
    cleanup();
  }
});

test('block files: paths per type and language, overrides checked against the root', () => {
  const { project, root, cleanup } = setup();
  try {
    assert.equal(blockFilePath(project, { uuid: 'a', type: 'custom', language: 'python' }), join(root, 'custom/a.py'));
    assert.equal(blockFilePath(project, { uuid: 'a', type: 'data_loader', language: 'typescript' }), join(root, 'data_loaders/a.ts'));
    assert.equal(blockFilePath(project, { uuid: 'a', type: 'transformer', language: 'javascript' }), join(root, 'transformers/a.js'));
    assert.equal(blockFilePath(project, { uuid: 'a', type: 'markdown', language: 'markdown' }), join(root, 'markdowns/a.md'));
    assert.equal(blockFilePath(project, { uuid: 'a', type: 'data_loader', language: 'r' }), join(root, 'data_loaders/a.r'));
    assert.equal(blockFilePath(project, { uuid: 'a', type: 'data_loader', language: 'yaml' }), join(root, 'data_loaders/a.yaml'));
    assert.equal(blockFilePath(project, { uuid: 'a', type: 'data_loader', configuration: { file_path: 'lib/x.py' } }), join(root, 'lib/x.py'));
    assert.equal(blockFilePath(project, { uuid: 'a', type: 'data_loader', configuration: { file_source: { path: 'src/y.py' }, file_path: 'lib/x.py' } }), join(root, 'src/y.py'));
    assert.throws(() => blockFilePath(project, { uuid: 'a', type: 'data_loader', configuration: { file_path: '../../etc/passwd' } }), PathRefusedError);
    assert.throws(() => blockFilePath(project, { uuid: '../../x', type: 'data_loader' }), PathRefusedError);
    const ref = { uuid: 'fresh', type: 'sensor', language: 'python' };
    assert.equal(readBlockContent(project, ref), null);
    writeBlockContent(project, ref, 'print(1)\n');
    assert.equal(readBlockContent(project, ref), 'print(1)\n');
    assert.deepEqual(readdirSync(join(root, 'sensors')), ['fresh.py']);
  } finally {
    cleanup();
  }
});

test('templates: Mage’s Python text, SQL, and default-exported TypeScript/JavaScript functions', () => {
  assert.equal(
    blockTemplate('data_loader', 'python'),
    `if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test


@data_loader
def load_data(*args, **kwargs):
    """
    Template code for loading data from any source.

    Returns:
        Anything (e.g. data frame, dictionary, array, int, str, etc.)
    """
    # Specify your data loading logic here

    return {}


@test
def test_output(output, *args) -> None:
    """
    Template code for testing the output of the block.
    """
    assert output is not None, 'The output is undefined'
`,
  );
  assert.match(blockTemplate('transformer', 'python'), /@transformer\ndef transform\(data, \*args, \*\*kwargs\):[\s\S]*    return data\n/);
  assert.match(blockTemplate('data_exporter', 'python'), /@data_exporter\ndef export_data\(data, \*args, \*\*kwargs\):/);
  assert.doesNotMatch(blockTemplate('data_exporter', 'python'), /@test/);
  assert.match(blockTemplate('custom', 'python'), /@custom\ndef transform_custom\(\*args, \*\*kwargs\):[\s\S]*return \{\}/);
  assert.match(blockTemplate('sensor', 'python'), /@sensor\ndef check_condition\(\*args, \*\*kwargs\) -> bool:/);
  assert.match(blockTemplate('callback', 'python'), /@callback\('success'\)\ndef success_callback\(parent_block_data, \*\*kwargs\):/);
  assert.match(blockTemplate('conditional', 'python'), /@condition\ndef evaluate_condition\(\*args, \*\*kwargs\) -> bool:\n    return True/);
  assert.equal(blockTemplate('markdown', 'markdown'), '');
  assert.match(blockTemplate('data_loader', 'sql'), /SELECT 1/);
  assert.match(blockTemplate('transformer', 'sql'), /\{\{ df_1 \}\}/);
  assert.equal(
    blockTemplate('data_loader', 'typescript'),
    "import type { BlockContext } from 'blockflow';\n\nexport default async function loadData(ctx: BlockContext) {\n  return { hello: 'world' };\n}\n",
  );
  assert.match(blockTemplate('transformer', 'typescript'), /export default async function transform\(ctx: BlockContext, data: unknown\) \{\n  return data;\n\}/);
  assert.match(blockTemplate('transformer', 'javascript'), /export default async function transform\(ctx, data\) \{/);
  for (const type of BLOCK_TYPES) for (const lang of ['python', 'sql', 'r', 'typescript', 'javascript', 'markdown', 'yaml'] as const) assert.equal(typeof blockTemplate(type, lang), 'string');
});
