/**
 * `blocks` under a pipeline over real HTTP on SQLite and PostgreSQL (mage-api.md §3.2): list with
 * block_uuid[], detail with content and outputs, create from the template of each type and language (Python,
 * SQL, R, YAML, Markdown, TypeScript, JavaScript), update (rename, links, configuration, content), delete with
 * and without force, and the 4xx answers for missing auth, roles, bad input and paths leaving the project.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DIALECTS, type TestServer } from '../helpers/server.js';
import { MAGE_FIXTURE, assertError, makeUser, startApiServer, type TestUser } from './support.js';

/** The keys Mage's block list test expects on each item (mage-api.md §7, test_blocks.py). */
const LIST_KEYS = [
  'all_upstream_blocks_executed', 'color', 'configuration', 'downstream_blocks', 'executor_config', 'executor_type',
  'has_callback', 'name', 'language', 'retry_config', 'status', 'timeout', 'type', 'upstream_blocks', 'uuid',
];

/** type, language, the file it lands in, the collection holding it, and a marker of its template. */
const TEMPLATE_CASES: Array<[string, string, string, string, RegExp]> = [
  ['data_loader', 'python', 'data_loaders/tpl_data_loader_python.py', 'blocks', /@data_loader\ndef load_data\(\*args, \*\*kwargs\):/],
  ['transformer', 'python', 'transformers/tpl_transformer_python.py', 'blocks', /@transformer\ndef transform\(data, \*args, \*\*kwargs\):/],
  ['data_exporter', 'python', 'data_exporters/tpl_data_exporter_python.py', 'blocks', /@data_exporter\ndef export_data/],
  ['custom', 'python', 'custom/tpl_custom_python.py', 'blocks', /@custom/],
  ['sensor', 'python', 'sensors/tpl_sensor_python.py', 'blocks', /@sensor/],
  ['callback', 'python', 'callbacks/tpl_callback_python.py', 'callbacks', /@callback/],
  ['conditional', 'python', 'conditionals/tpl_conditional_python.py', 'conditionals', /@condition/],
  ['transformer', 'sql', 'transformers/tpl_transformer_sql.sql', 'blocks', /\{\{ df_1 \}\}/],
  ['data_loader', 'sql', 'data_loaders/tpl_data_loader_sql.sql', 'blocks', /^--/],
  ['transformer', 'r', 'transformers/tpl_transformer_r.r', 'blocks', /transform <- function\(df_1, \.\.\.\)/],
  ['data_loader', 'typescript', 'data_loaders/tpl_data_loader_typescript.ts', 'blocks', /export default async function/],
  ['transformer', 'typescript', 'transformers/tpl_transformer_typescript.ts', 'blocks', /import type \{ BlockContext \} from 'blockflow';[\s\S]*export default/],
  ['data_exporter', 'javascript', 'data_exporters/tpl_data_exporter_javascript.js', 'blocks', /export default/],
  ['custom', 'javascript', 'custom/tpl_custom_javascript.js', 'blocks', /@typedef \{import\('blockflow'\)\.BlockContext\} BlockContext[\s\S]*export default/],
  ['markdown', 'markdown', 'markdowns/tpl_markdown_markdown.md', 'blocks', /^$/],
  ['scratchpad', 'python', 'scratchpads/tpl_scratchpad_python.py', 'blocks', /^$/],
  ['chart', 'python', 'charts/tpl_chart_python.py', 'widgets', /^$/],
  ['dbt', 'sql', 'dbt/tpl_dbt_sql.sql', 'blocks', /^$/],
  ['data_loader', 'yaml', 'data_loaders/tpl_data_loader_yaml.yaml', 'blocks', /^$/],
];

for (const dialect of DIALECTS) {
  describe(`blocks resource (${dialect})`, () => {
    let t: TestServer;
    let viewer: TestUser;
    const call = (method: string, path: string, body?: unknown, token?: string | null) =>
      t.call(method, path, body, token === undefined ? t.ownerToken : token);
    const metadataOnDisk = (uuid: string) => parseYaml(readFileSync(join(t.projectDir, 'pipelines', uuid, 'metadata.yaml'), 'utf8'));
    const savedBlock = (pipeline: string, uuid: string) => metadataOnDisk(pipeline).blocks.find((b: any) => b.uuid === uuid);
    /** A fresh copy of etl_demo (block files are shared at the project level, as in Mage). */
    const copyOfDemo = async (name: string) => {
      const res = await call('POST', '/api/pipelines', { pipeline: { name, clone_pipeline_uuid: 'etl_demo' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.pipeline.uuid as string;
    };

    before(async () => {
      t = await startApiServer(dialect, { fixture: MAGE_FIXTURE });
      viewer = await makeUser(t, 'viewer', `bv_${dialect}`);
    });
    after(async () => {
      await t?.close();
    });

    test('list: the four fixture blocks with Mage keys and metadata {count, next}, no content', async () => {
      const res = await call('GET', '/api/pipelines/etl_demo/blocks');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.blocks.map((b: any) => b.uuid), ['block1', 'block2', 'block3', 'block4']);
      for (const b of res.body.blocks) for (const key of LIST_KEYS) assert.ok(key in b, `missing ${key}`);
      assert.equal(res.body.blocks[0].content, undefined);
      assert.deepEqual(res.body.metadata, { count: 4, next: false });
      assert.deepEqual(res.body.blocks[3].retry_config, { delay: 10, exponential_backoff: true, retries: 2 });
    });

    test('list filters by block_uuid[] (comma-joined or repeated) and pages with _limit/_offset', async () => {
      const joined = await call('GET', '/api/pipelines/etl_demo/blocks?block_uuid[]=block1,block3');
      assert.deepEqual(joined.body.blocks.map((b: any) => b.uuid), ['block1', 'block3']);
      const repeated = await call('GET', '/api/pipelines/etl_demo/blocks?block_uuid[]=block4&block_uuid[]=block2');
      assert.deepEqual(repeated.body.blocks.map((b: any) => b.uuid), ['block2', 'block4']);
      const page = await call('GET', '/api/pipelines/etl_demo/blocks?_limit=1&_offset=1');
      assert.deepEqual(page.body.blocks.map((b: any) => b.uuid), ['block2']);
      assert.deepEqual(page.body.metadata, { count: 4, next: true });
      assertError(await call('GET', '/api/pipelines/etl_demo/blocks?_limit=x'), 400, /_limit must be a non-negative integer/);
      assertError(await call('GET', '/api/pipelines/no_pipe/blocks'), 404, /Pipeline no_pipe does not exist/);
    });

    test('detail: content from the file, outputs, callback/conditional lists; include_outputs=false drops outputs', async () => {
      const outDir = join(t.server.ctx.project.dataDir, 'pipelines', 'etl_demo', '.variables', 'block2', 'output_0');
      (await import('node:fs')).mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, 'data.json'), JSON.stringify([1, 2, 3]));
      const res = await call('GET', '/api/pipelines/etl_demo/blocks/block2');
      assert.equal(res.status, 200);
      assert.equal(res.body.metadata, null);
      const b = res.body.block;
      assert.equal(b.uuid, 'block2');
      assert.equal(b.content, readFileSync(join(t.projectDir, 'transformers', 'block2.py'), 'utf8'));
      assert.deepEqual(b.outputs, [{ type: 'text', variable_uuid: 'output_0', text_data: '[1,2,3]' }]);
      // Mage computes tags from the dynamic settings; the `tags: [core]` saved in metadata.yaml is not shown.
      assert.deepEqual([b.callback_blocks, b.conditional_blocks, b.tags], [[], [], []]);
      const bare = await call('GET', '/api/pipelines/etl_demo/blocks/block2?include_outputs=false');
      assert.equal(bare.body.block.outputs, undefined);
      assert.equal(typeof bare.body.block.content, 'string');
    });

    test('detail of an unknown block is 404 naming block and pipeline', async () => {
      assertError(await call('GET', '/api/pipelines/etl_demo/blocks/block9'), 404, /Block block9 does not exist in pipeline etl_demo/, 'record_not_found');
      assertError(await call('GET', '/api/pipelines/nope/blocks/block1'), 404, /Pipeline nope does not exist/);
    });

    test('create renders the template of every type and language into <type>s/<uuid>.<ext>', async () => {
      await call('POST', '/api/pipelines', { pipeline: { name: 'Templates' } });
      for (const [type, language, file, collection, marker] of TEMPLATE_CASES) {
        const res = await call('POST', '/api/pipelines/templates/blocks', { block: { name: `tpl ${type} ${language}`, type, language } });
        assert.equal(res.status, 200, `${type}/${language}: ${JSON.stringify(res.body)}`);
        const b = res.body.block;
        assert.equal(b.uuid, `tpl_${type}_${language}`);
        assert.deepEqual([b.type, b.language, b.status], [type, language, 'not_executed']);
        const path = join(t.projectDir, file);
        assert.ok(existsSync(path), `${type}/${language}: ${file} not written`);
        assert.equal(b.content, readFileSync(path, 'utf8'), `${type}/${language}: answered content differs from the file`);
        assert.match(b.content, marker, `${type}/${language}: not the ${type} template`);
        const saved = metadataOnDisk('templates')[collection].find((x: any) => x.uuid === b.uuid);
        assert.ok(saved, `${type}/${language}: not saved under ${collection}`);
        assert.equal(saved.language, language);
      }
    });

    test('create wires upstream and downstream on both sides at the given priority and saves metadata.yaml', async () => {
      const p = await copyOfDemo('Wire New');
      const res = await call('POST', `/api/pipelines/${p}/blocks`, { block: { name: 'silent fire', type: 'transformer', language: 'python', upstream_blocks: ['block1'], downstream_blocks: ['block4'], priority: 1, color: 'teal', configuration: { dynamic: false } } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.block.uuid, 'silent_fire');
      assert.deepEqual(res.body.block.upstream_blocks, ['block1']);
      assert.deepEqual(res.body.block.downstream_blocks, ['block4']);
      const saved = metadataOnDisk(p);
      assert.deepEqual(saved.blocks.map((b: any) => b.uuid), ['block1', 'silent_fire', 'block2', 'block3', 'block4']);
      assert.ok(saved.blocks[0].downstream_blocks.includes('silent_fire'));
      assert.deepEqual(saved.blocks[4].upstream_blocks, ['block2', 'block3', 'silent_fire']);
      assert.equal(saved.blocks[1].color, 'teal');
      assert.deepEqual(saved.blocks[1].configuration, { dynamic: false });
    });

    test('create reuses an existing file when the pipeline lacks the block; content given overwrites it', async () => {
      await call('POST', '/api/pipelines', { pipeline: { name: 'Reuse' } });
      const reused = await call('POST', '/api/pipelines/reuse/blocks', { block: { name: 'block1', type: 'data_loader' } });
      assert.equal(reused.status, 200);
      assert.equal(reused.body.block.content, readFileSync(join(MAGE_FIXTURE, 'data_loaders', 'block1.py'), 'utf8'));
      const given = await call('POST', '/api/pipelines/reuse/blocks', { block: { uuid: 'given_content', type: 'data_loader', content: 'print("given")\n' } });
      assert.equal(given.status, 200);
      assert.equal(readFileSync(join(t.projectDir, 'data_loaders', 'given_content.py'), 'utf8'), 'print("given")\n');
    });

    test('create conflicts: a uuid already in the pipeline, or an existing file with require_unique_name, is 409', async () => {
      assertError(await call('POST', '/api/pipelines/etl_demo/blocks', { block: { name: 'block1', type: 'data_loader' } }), 409, /\[ERR_BLOCK_EXISTS\] Block block1 already exists/, 'record_exists');
      await call('POST', '/api/pipelines', { pipeline: { name: 'Unique' } });
      assertError(await call('POST', '/api/pipelines/unique/blocks', { block: { name: 'block2', type: 'transformer', require_unique_name: true } }), 409, /Block block2 already exists/);
      assert.deepEqual(metadataOnDisk('unique').blocks ?? [], []);
    });

    test('create refuses links to unknown blocks and cycles with 422, writing nothing', async () => {
      const p = await copyOfDemo('Bad Links');
      assertError(await call('POST', `/api/pipelines/${p}/blocks`, { block: { name: 'orphan', type: 'transformer', upstream_blocks: ['ghost'] } }), 422, /Block ghost does not exist in pipeline bad_links/, 'record_invalid');
      assertError(await call('POST', `/api/pipelines/${p}/blocks`, { block: { name: 'loop', type: 'transformer', upstream_blocks: ['block4'], downstream_blocks: ['block1'] } }), 422, /cycle was detected in this pipeline: .*loop/);
      assert.equal(existsSync(join(t.projectDir, 'transformers', 'orphan.py')), false);
      assert.equal(existsSync(join(t.projectDir, 'transformers', 'loop.py')), false);
      assert.equal(metadataOnDisk(p).blocks.length, 4);
    });

    test('create with wrong types or unknown values is 400 naming the field and what it may be', async () => {
      const post = (block: unknown) => call('POST', '/api/pipelines/etl_demo/blocks', { block });
      assertError(await post({ name: 'x', type: 'loader' }), 400, /body\.block\.type must be one of "data_loader", "transformer"/);
      assertError(await post({ name: 'x', type: 'transformer', language: 'cobol' }), 400, /body\.block\.language must be one of "python", "sql", "markdown", "r", "yaml", "typescript", "javascript"/);
      assertError(await post({ name: 'x', type: 'transformer', color: 'red' }), 400, /body\.block\.color must be one of "blue", .* or null/);
      assertError(await post({ name: 'x', type: 'transformer', priority: 'first' }), 400, /body\.block\.priority must be integer/);
      assertError(await post({ name: 'x', type: 'transformer', upstream_blocks: 'block1' }), 400, /body\.block\.upstream_blocks must be array/);
      assertError(await post({ name: 'x', type: 'transformer', retry_config: { retries: 'many' } }), 400, /body\.block\.retry_config\.retries must be integer/);
      assertError(await post({ name: 'x', type: 'transformer', timeout: 0 }), 400, /body\.block\.timeout must be > 0 or null/);
      assertError(await post({ name: 'x', type: 'transformer', colour: 'teal' }), 400, /body\.block\.colour is not a known field/);
      assertError(await post({ name: 'x' }), 400, /body\.block\.type is required/);
      assertError(await post({ type: 'transformer' }), 400, /block\.name \(or block\.uuid\) is required/);
      assertError(await post({ name: '$"', type: 'transformer' }), 400, /Name "\$\\"" is empty once cleaned/, 'invalid_name');
      assertError(await call('POST', '/api/pipelines/etl_demo/blocks', '{"block": {"name": "x",'), 400, /not valid JSON/);
      assert.equal(metadataOnDisk('etl_demo').blocks.length, 4);
    });

    test('a block file path in configuration may not leave the project (.., absolute)', async () => {
      const post = (configuration: unknown) => call('POST', '/api/pipelines/etl_demo/blocks', { block: { name: 'escape', type: 'transformer', configuration } });
      assertError(await post({ file_path: '../../outside.py' }), 400, /contains a "\.\." segment/, 'invalid_path');
      assertError(await post({ file_source: { path: '/etc/passwd' } }), 400, /is absolute/, 'invalid_path');
      assertError(await call('PUT', '/api/pipelines/etl_demo/blocks/block1', { block: { configuration: { file_path: 'data_loaders/../../x.py' } } }), 400, /"\.\." segment/);
      assert.equal(savedBlock('etl_demo', 'escape'), undefined);
      assert.deepEqual(savedBlock('etl_demo', 'block1').configuration, {});
    });

    test('update with a new name renames uuid and file and rewires the links of its neighbours', async () => {
      const p = await copyOfDemo('Rename Block');
      await call('POST', `/api/pipelines/${p}/blocks`, { block: { name: 'mid', type: 'transformer', upstream_blocks: ['block1'], downstream_blocks: ['block4'] } });
      const res = await call('PUT', `/api/pipelines/${p}/blocks/mid`, { block: { name: 'Middle Step' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.block.uuid, 'middle_step');
      assert.equal(res.body.block.name, 'Middle Step');
      assert.ok(existsSync(join(t.projectDir, 'transformers', 'middle_step.py')));
      assert.equal(existsSync(join(t.projectDir, 'transformers', 'mid.py')), false);
      assert.ok(savedBlock(p, 'block1').downstream_blocks.includes('middle_step'));
      assert.ok(savedBlock(p, 'block4').upstream_blocks.includes('middle_step'));
      assert.equal(savedBlock(p, 'mid'), undefined);
      assertError(await call('PUT', `/api/pipelines/${p}/blocks/middle_step`, { block: { name: 'block2' } }), 409, /Block block2 already exists/);
    });

    test('update of upstream_blocks sets the full list and recomputes the other side; a cycle is 422', async () => {
      const p = await copyOfDemo('Relink');
      const res = await call('PUT', `/api/pipelines/${p}/blocks/block4`, { block: { upstream_blocks: ['block3'] } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.block.upstream_blocks, ['block3']);
      assert.deepEqual(savedBlock(p, 'block2').downstream_blocks, []);
      assert.deepEqual(savedBlock(p, 'block3').downstream_blocks, ['block4']);
      assertError(await call('PUT', `/api/pipelines/${p}/blocks/block1`, { block: { upstream_blocks: ['block4'] } }), 422, /cycle was detected in this pipeline: block1 -> .*block1/);
      assertError(await call('PUT', `/api/pipelines/${p}/blocks/block1`, { block: { downstream_blocks: ['ghost'] } }), 422, /Block ghost does not exist in pipeline relink/);
      assert.deepEqual(savedBlock(p, 'block1').upstream_blocks, []);
    });

    test('update of color, configuration, retry_config, timeout and content is saved; bad values are 400', async () => {
      const p = await copyOfDemo('Block Fields');
      await call('POST', `/api/pipelines/${p}/blocks`, { block: { name: 'fields_loader', type: 'data_loader' } });
      const res = await call('PUT', `/api/pipelines/${p}/blocks/fields_loader`, { block: { color: 'purple', configuration: { x: 1 }, retry_config: { retries: 3 }, timeout: 30, content: 'print(2)\n' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.block.content, 'print(2)\n');
      assert.equal(readFileSync(join(t.projectDir, 'data_loaders', 'fields_loader.py'), 'utf8'), 'print(2)\n');
      const saved = savedBlock(p, 'fields_loader');
      assert.deepEqual([saved.color, saved.configuration, saved.retry_config, saved.timeout], ['purple', { x: 1 }, { retries: 3 }, 30]);
      assertError(await call('PUT', `/api/pipelines/${p}/blocks/fields_loader`, { block: { color: 'red' } }), 400, /body\.block\.color must be one of/);
      assertError(await call('PUT', `/api/pipelines/${p}/blocks/fields_loader`, { block: { configuration: [] } }), 400, /body\.block\.configuration must be object/);
      assertError(await call('PUT', `/api/pipelines/${p}/blocks/fields_loader`, { block: { has_callback: 'yes' } }), 400, /body\.block\.has_callback must be boolean/);
      assertError(await call('PUT', `/api/pipelines/${p}/blocks/fields_loader`, { blok: {} }), 400, /body\.blok is not a known field/);
      assertError(await call('PUT', `/api/pipelines/${p}/blocks/ghost`, { block: { color: 'blue' } }), 404, /Block ghost does not exist in pipeline block_fields/);
      assert.equal(savedBlock(p, 'fields_loader').color, 'purple');
    });

    test('delete without force of a block with downstream blocks is 409 naming them; nothing changes', async () => {
      const p = await copyOfDemo('Delete Guard');
      assertError(await call('DELETE', `/api/pipelines/${p}/blocks/block1`), 409, /Block block1 has downstream dependencies block2, block3/, 'has_downstream_dependencies');
      assert.equal(metadataOnDisk(p).blocks.length, 4);
    });

    test('delete with force relinks the downstream blocks to its upstreams and keeps its file', async () => {
      const p = await copyOfDemo('Delete Force');
      const res = await call('DELETE', `/api/pipelines/${p}/blocks/block2?force=true`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.block.uuid, 'block2');
      assert.equal(typeof res.body.block.content, 'string');
      assert.deepEqual(metadataOnDisk(p).blocks.map((b: any) => b.uuid), ['block1', 'block3', 'block4']);
      assert.deepEqual(savedBlock(p, 'block4').upstream_blocks.sort(), ['block1', 'block3']);
      assert.ok(existsSync(join(t.projectDir, 'transformers', 'block2.py')));
      assertError(await call('DELETE', `/api/pipelines/${p}/blocks/block2`), 404, /Block block2 does not exist/);
      assertError(await call('DELETE', `/api/pipelines/${p}/blocks/block3?force=perhaps`), 400, /force must be true or false/);
    });

    test('delete of a leaf block needs no force; a markdown block takes its file with it', async () => {
      const p = await copyOfDemo('Delete Leaf');
      assert.equal((await call('DELETE', `/api/pipelines/${p}/blocks/block4`)).status, 200);
      assert.deepEqual(metadataOnDisk(p).blocks.map((b: any) => b.uuid), ['block1', 'block2', 'block3']);
      assert.deepEqual(savedBlock(p, 'block2').downstream_blocks, []);
      assert.ok(existsSync(join(t.projectDir, 'data_exporters', 'block4.py')));
      await call('POST', `/api/pipelines/${p}/blocks`, { block: { name: 'notes', type: 'markdown', language: 'markdown', content: '# hi\n' } });
      assert.ok(existsSync(join(t.projectDir, 'markdowns', 'notes.md')));
      assert.equal((await call('DELETE', `/api/pipelines/${p}/blocks/notes`)).status, 200);
      assert.equal(existsSync(join(t.projectDir, 'markdowns', 'notes.md')), false);
    });

    test('without a token every block route is 401; a viewer reads but writes are 403', async () => {
      const routes = [
        ['GET', '/api/pipelines/etl_demo/blocks'],
        ['GET', '/api/pipelines/etl_demo/blocks/block1'],
        ['POST', '/api/pipelines/etl_demo/blocks', { block: { name: 'anon', type: 'transformer' } }],
        ['PUT', '/api/pipelines/etl_demo/blocks/block1', { block: { color: 'blue' } }],
        ['DELETE', '/api/pipelines/etl_demo/blocks/block4'],
      ] as const;
      for (const [method, path, body] of routes) {
        assertError(await call(method, path, body, null), 401, /Authentication required/);
        const asViewer = await call(method, path, body, viewer.token);
        if (method === 'GET') assert.equal(asViewer.status, 200);
        else assertError(asViewer, 403, new RegExp(`${method === 'POST' ? 'create' : method === 'PUT' ? 'update' : 'delete'} action on blocks needs the editor role`));
      }
      const saved = metadataOnDisk('etl_demo');
      assert.equal(saved.blocks.length, 4);
      assert.equal(saved.blocks[0].color, null);
    });
  });
}
