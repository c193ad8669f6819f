/**
 * `pipelines` over real HTTP on SQLite and PostgreSQL (mage-api.md §3.1): list filters, paging and ordering,
 * detail with content and outputs, create (and clone), update (fields, rename, ?update_content, reorder, status
 * side effects), delete, and the 4xx answers for missing auth, roles, bad input and bad names.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DIALECTS, type TestServer } from '../helpers/server.js';
import { MAGE_FIXTURE, assertError, makeUser, startApiServer, type TestUser } from './support.js';

/** The keys Mage's pipeline list test expects on every item (mage-api.md §7, test_pipelines.py). */
const LIST_KEYS = [
  'blocks', 'callbacks', 'concurrency_config', 'conditionals', 'created_at', 'data_integration', 'description',
  'executor_config', 'executor_count', 'executor_type', 'name', 'notification_config', 'retry_config',
  'run_pipeline_in_one_process', 'spark_config', 'tags', 'type', 'updated_at', 'uuid', 'widgets',
];

for (const dialect of DIALECTS) {
  describe(`pipelines resource (${dialect})`, () => {
    let t: TestServer;
    let viewer: TestUser;
    let editor: TestUser;
    const call = (method: string, path: string, body?: unknown, token?: string | null) =>
      t.call(method, path, body, token === undefined ? t.ownerToken : token);
    const create = async (pipeline: Record<string, unknown>) => {
      const res = await call('POST', '/api/pipelines', { pipeline });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.pipeline;
    };
    const metadataOnDisk = (uuid: string) => parseYaml(readFileSync(join(t.projectDir, 'pipelines', uuid, 'metadata.yaml'), 'utf8'));

    before(async () => {
      t = await startApiServer(dialect, { fixture: MAGE_FIXTURE });
      viewer = await makeUser(t, 'viewer', `pv_${dialect}`);
      editor = await makeUser(t, 'editor', `pe_${dialect}`);
    });
    after(async () => {
      await t?.close();
    });

    test('list: Mage keys on each item, blocks without content, metadata {count, results, next}', async () => {
      const res = await call('GET', '/api/pipelines');
      assert.equal(res.status, 200);
      const demo = res.body.pipelines.find((p: any) => p.uuid === 'etl_demo');
      assert.ok(demo);
      for (const key of LIST_KEYS) assert.ok(key in demo, `missing ${key}`);
      assert.equal(demo.name, 'ETL demo');
      assert.deepEqual(demo.blocks.map((b: any) => b.uuid), ['block1', 'block2', 'block3', 'block4']);
      assert.equal(demo.blocks[0].content, undefined);
      assert.equal(demo.blocks[0].outputs, undefined);
      assert.equal(demo.extensions, undefined);
      assert.deepEqual(res.body.metadata, { count: res.body.pipelines.length, results: res.body.pipelines.length, next: null }, "next is null without _limit, as in Mage");
    });

    test('list filters: search, tag[], type[] and status[] from the pipeline\'s schedules', async () => {
      await create({ name: 'Filter Alpha', type: 'streaming', tags: ['stream', 'alpha'], description: 'reads kafka' });
      await create({ name: 'Filter Beta', tags: ['etl'] });
      await create({ name: 'Filter Gamma' });
      const store = t.server.ctx.store;
      await store.schedules.create({ name: 'on', pipeline_uuid: 'filter_alpha', schedule_type: 'time', schedule_interval: '@daily', status: 'active' });
      await store.schedules.create({ name: 'off', pipeline_uuid: 'filter_beta', schedule_type: 'time', schedule_interval: '@daily', status: 'inactive' });
      const all = async (query: string): Promise<string[]> => (await call('GET', `/api/pipelines?${query}`)).body.pipelines.map((p: any) => p.uuid as string);
      const uuids = async (query: string) => (await all(query)).filter((u) => u.startsWith('filter_') || u === 'etl_demo').sort();
      const filterOnly = async (query: string) => (await all(query)).filter((u) => u.startsWith('filter_')).sort();
      assert.deepEqual(await uuids('search=KAFKA'), ['filter_alpha']);
      assert.deepEqual(await uuids('search=filter%20b'), ['filter_beta']);
      assert.deepEqual(await uuids('tag[]=etl'), ['etl_demo', 'filter_beta']);
      assert.deepEqual(await uuids('tag[]=stream,etl'), ['etl_demo', 'filter_alpha', 'filter_beta']);
      assert.deepEqual(await uuids('type[]=streaming'), ['filter_alpha']);
      assert.deepEqual(await filterOnly('status[]=active'), ['filter_alpha']);
      assert.deepEqual(await filterOnly('status[]=inactive'), ['filter_beta']);
      assert.deepEqual(await filterOnly('status[]=no_schedules'), ['filter_gamma']);
      assert.deepEqual(await filterOnly('status[]=active,inactive'), ['filter_alpha', 'filter_beta']);
      const withSchedules = await call('GET', '/api/pipelines?include_schedules=true&search=filter_alpha');
      assert.equal(withSchedules.body.pipelines[0].schedules.length, 1);
      assert.equal(withSchedules.body.pipelines[0].schedules[0].name, 'on');
    });

    test('list paging and ordering: _limit, _offset, _order_by[] (with - for descending)', async () => {
      for (const name of ['Page A', 'Page B', 'Page C']) await create({ name, tags: ['paging'] });
      const page1 = await call('GET', '/api/pipelines?tag[]=paging&_limit=2&_offset=0');
      assert.deepEqual(page1.body.pipelines.map((p: any) => p.uuid), ['page_a', 'page_b']);
      assert.deepEqual(page1.body.metadata, { count: 3, results: 2, next: true });
      const page2 = await call('GET', '/api/pipelines?tag[]=paging&_limit=2&_offset=2');
      assert.deepEqual(page2.body.pipelines.map((p: any) => p.uuid), ['page_c']);
      assert.deepEqual(page2.body.metadata, { count: 3, results: 1, next: false });
      const desc = await call('GET', '/api/pipelines?tag[]=paging&_order_by[]=-name');
      assert.deepEqual(desc.body.pipelines.map((p: any) => p.uuid), ['page_c', 'page_b', 'page_a']);
      const byBlocks = await call('GET', '/api/pipelines?_order_by[]=-blocks&_limit=1');
      assert.equal(byBlocks.body.pipelines[0].uuid, 'etl_demo');
    });

    test('list with a bad _limit, _offset or _order_by[] is 400 naming the parameter', async () => {
      assertError(await call('GET', '/api/pipelines?_limit=ten'), 400, /_limit must be a non-negative integer, got "ten"/);
      assertError(await call('GET', '/api/pipelines?_offset=-1'), 400, /_offset must be a non-negative integer/);
      assertError(await call('GET', '/api/pipelines?_order_by[]=password'), 400, /Cannot order pipelines by "password"; use one of name/);
      assertError(await call('GET', '/api/pipelines?include_schedules=maybe'), 400, /include_schedules must be true or false, got "maybe"/);
    });

    test('a pipeline whose metadata.yaml is broken is listed as type invalid; its detail is 422', async () => {
      mkdirSync(join(t.projectDir, 'pipelines', 'broken_one'), { recursive: true });
      writeFileSync(join(t.projectDir, 'pipelines', 'broken_one', 'metadata.yaml'), 'blocks:\n- uuid: a\n  type: not_a_type\n');
      const list = await call('GET', '/api/pipelines?search=broken');
      assert.equal(list.status, 200);
      const broken = list.body.pipelines.find((p: any) => p.uuid === 'broken_one');
      assert.equal(broken?.type, 'invalid');
      assertError(await call('GET', '/api/pipelines/broken_one'), 422, /unknown type "not_a_type"/, 'record_invalid');
    });

    test('detail: blocks carry content, outputs, tags; extensions present; flags turn content and outputs off', async () => {
      const outDir = join(t.server.ctx.project.dataDir, 'pipelines', 'etl_demo', '.variables', 'block1', 'output_0');
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, 'data.json'), JSON.stringify({ rows: 2, source: 'fixture' }));
      const res = await call('GET', '/api/pipelines/etl_demo');
      assert.equal(res.status, 200);
      assert.equal(res.body.metadata, null);
      const p = res.body.pipeline;
      assert.deepEqual(p.extensions, {});
      const b1 = p.blocks.find((b: any) => b.uuid === 'block1');
      assert.equal(b1.content, readFileSync(join(t.projectDir, 'data_loaders', 'block1.py'), 'utf8'));
      assert.deepEqual(b1.outputs, [{ type: 'table', variable_uuid: 'output_0', shape: [1, 2], sample_data: { columns: ['rows', 'source'], rows: [[2, 'fixture']] } }]);
      assert.deepEqual(p.blocks.find((b: any) => b.uuid === 'block2').tags, [], 'tags are computed as Mage does, not read from metadata.yaml');
      assert.deepEqual(p.variables, { env: 'dev', limit: 10, on: 'off' });
      const bare = await call('GET', '/api/pipelines/etl_demo?includes_content=false&includes_outputs=false&includes_extensions=false');
      assert.equal(bare.body.pipeline.blocks[0].content, undefined);
      assert.equal(bare.body.pipeline.blocks[0].outputs, undefined);
      assert.equal(bare.body.pipeline.extensions, undefined);
    });

    test('detail of a block whose file is missing reports the error on the block, not a failure', async () => {
      await create({ name: 'Missing File' });
      const added = await call('POST', '/api/pipelines/missing_file/blocks', { block: { name: 'gone_loader', type: 'data_loader' } });
      assert.equal(added.status, 200);
      const file = join(t.projectDir, 'data_loaders', 'gone_loader.py');
      (await import('node:fs')).unlinkSync(file);
      const res = await call('GET', '/api/pipelines/missing_file');
      assert.equal(res.status, 200);
      assert.equal(res.body.pipeline.blocks[0].content, null);
      assert.equal(res.body.pipeline.blocks[0].error.error, 'file_not_found');
    });

    test('detail of a missing pipeline is 404 naming it; a bad max_results_for_block_outputs is 400', async () => {
      assertError(await call('GET', '/api/pipelines/no_such_pipeline'), 404, /Pipeline no_such_pipeline does not exist/, 'record_not_found');
      assertError(await call('GET', '/api/pipelines/etl_demo?max_results_for_block_outputs=all'), 400, /max_results_for_block_outputs must be a non-negative integer/);
    });

    test('create: uuid is clean_name(name), files are written, the answer has no content', async () => {
      const p = await create({ name: 'arwen-starlight', type: 'python', description: 'd', tags: ['x'] });
      assert.equal(p.uuid, 'arwen_starlight');
      assert.equal(p.name, 'arwen-starlight');
      assert.deepEqual([p.blocks, p.callbacks, p.conditionals, p.widgets], [[], [], [], []]);
      assert.equal(p.executor_count, 1);
      assert.ok(existsSync(join(t.projectDir, 'pipelines', 'arwen_starlight', '__init__.py')));
      const saved = metadataOnDisk('arwen_starlight');
      assert.deepEqual({ name: saved.name, uuid: saved.uuid, type: saved.type, tags: saved.tags, description: saved.description }, { name: 'arwen-starlight', uuid: 'arwen_starlight', type: 'python', tags: ['x'], description: 'd' });
      assert.equal((await call('POST', '/api/pipelines', { pipeline: { name: '9 lives' } })).body.pipeline.uuid, 'letter_9_lives');
    });

    test('create errors: duplicate 409, a name that cleans to nothing 400, wrong types and unknown fields 400', async () => {
      assertError(await call('POST', '/api/pipelines', { pipeline: { name: 'ETL demo' } }), 409, /Pipeline ETL demo already exists/, 'record_exists');
      assertError(await call('POST', '/api/pipelines', { pipeline: { name: '$"' } }), 400, /empty once cleaned/, 'invalid_name');
      assertError(await call('POST', '/api/pipelines', { pipeline: { name: 'x', type: 'batch' } }), 400, /body\.pipeline\.type must be one of "python", "pyspark", "streaming"/);
      assertError(await call('POST', '/api/pipelines', { pipeline: { name: 'x', tags: 'a' } }), 400, /body\.pipeline\.tags must be array/);
      assertError(await call('POST', '/api/pipelines', { pipeline: { name: 'x', description: 5 } }), 400, /body\.pipeline\.description must be string or null/);
      assertError(await call('POST', '/api/pipelines', { pipeline: { name: '' } }), 400, /body\.pipeline\.name must NOT have fewer than 1 characters/);
      assertError(await call('POST', '/api/pipelines', { name: 'x' }), 400, /body\.name is not a known field; body\.pipeline is required|body\.pipeline is required/);
      assertError(await call('POST', '/api/pipelines', '[1, 2]'), 400, /body must be object/);
      assertError(await call('POST', '/api/pipelines', '{"pipeline": '), 400, /not valid JSON/, 'invalid_json');
      assert.equal(existsSync(join(t.projectDir, 'pipelines', 'x')), false);
    });

    test('create with clone_pipeline_uuid copies blocks and settings; cloning a missing pipeline is 404', async () => {
      const clone = await create({ name: 'ETL copy', clone_pipeline_uuid: 'etl_demo' });
      assert.equal(clone.uuid, 'etl_copy');
      assert.equal(clone.name, 'ETL copy');
      assert.deepEqual(clone.blocks.map((b: any) => [b.uuid, b.upstream_blocks]), [['block1', []], ['block2', ['block1']], ['block3', ['block1']], ['block4', ['block2', 'block3']]]);
      assert.deepEqual(clone.concurrency_config, { block_run_limit: 2, pipeline_run_limit: 5 });
      const saved = metadataOnDisk('etl_copy');
      assert.equal(saved.uuid, 'etl_copy');
      assert.equal(saved.x_pipeline_owner, 'data-platform');
      assertError(await call('POST', '/api/pipelines', { pipeline: { name: 'Bad clone', clone_pipeline_uuid: 'nope' } }), 404, /Pipeline nope does not exist/);
      assert.equal(existsSync(join(t.projectDir, 'pipelines', 'bad_clone')), false);
    });

    test('update: saved fields change on disk, unknown keys of the file stay, variables cannot be changed here', async () => {
      await create({ name: 'Upd fields', clone_pipeline_uuid: 'etl_demo' });
      const res = await call('PUT', '/api/pipelines/upd_fields', { pipeline: { description: 'new', tags: ['a', 'b'], concurrency_config: { block_run_limit: 1 }, settings: { triggers: { save_in_code_automatically: false } }, variables: { env: 'prod' } } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.pipeline.description, 'new');
      assert.deepEqual(res.body.pipeline.extensions, {});
      assert.equal(res.body.pipeline.blocks[0].content, undefined);
      const saved = metadataOnDisk('upd_fields');
      assert.equal(saved.description, 'new');
      assert.deepEqual(saved.tags, ['a', 'b']);
      assert.deepEqual(saved.concurrency_config, { block_run_limit: 1 });
      assert.deepEqual(saved.settings, { triggers: { save_in_code_automatically: false } });
      assert.deepEqual(saved.variables, { env: 'dev', limit: 10, on: 'off' });
      assert.deepEqual(saved.x_review, { approved: true, by: ['bob'] });
    });

    test('update with a new name renames folder and uuid and moves schedules and runs to it', async () => {
      await create({ name: 'Before rename' });
      const store = t.server.ctx.store;
      const schedule = await store.schedules.create({ name: 'r', pipeline_uuid: 'before_rename', schedule_type: 'time', schedule_interval: '@daily' });
      const run = await store.pipelineRuns.create({ pipeline_uuid: 'before_rename', status: 'completed' });
      const res = await call('PUT', '/api/pipelines/before_rename', { pipeline: { name: 'After Rename' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.pipeline.uuid, 'after_rename');
      assert.equal(res.body.pipeline.name, 'After Rename');
      assert.equal(existsSync(join(t.projectDir, 'pipelines', 'before_rename')), false);
      assert.equal(metadataOnDisk('after_rename').uuid, 'after_rename');
      assert.equal((await store.schedules.get(schedule.id))?.pipeline_uuid, 'after_rename');
      assert.equal((await store.pipelineRuns.get(run.id))?.pipeline_uuid, 'after_rename');
      assertError(await call('GET', '/api/pipelines/before_rename'), 404, /before_rename does not exist/);
    });

    test('renaming onto an existing pipeline is 409 and changes nothing', async () => {
      await create({ name: 'Rename Src' });
      await create({ name: 'Rename Dst' });
      assertError(await call('PUT', '/api/pipelines/rename_src', { pipeline: { name: 'Rename Dst', description: 'changed' } }), 409, /rename_dst already exists/);
      assert.equal(metadataOnDisk('rename_src').name, 'Rename Src');
      assert.equal(metadataOnDisk('rename_src').description, null, 'the other fields of a refused rename are not saved');
      assert.equal(metadataOnDisk('rename_dst').name, 'Rename Dst');
    });

    test('a refused update with a new name leaves the pipeline where it was, database rows included', async () => {
      await create({ name: 'Stay Put', clone_pipeline_uuid: 'etl_demo' });
      const schedule = await t.server.ctx.store.schedules.create({ name: 's', pipeline_uuid: 'stay_put', schedule_type: 'api' });
      const res = await call('PUT', '/api/pipelines/stay_put?update_content=true', { pipeline: { name: 'Moved Away', blocks: [{ uuid: 'block1' }, { uuid: 'brand_new' }] } });
      assertError(res, 422, /Blocks cannot be added or removed when saving content/);
      assert.ok(existsSync(join(t.projectDir, 'pipelines', 'stay_put', 'metadata.yaml')));
      assert.equal(existsSync(join(t.projectDir, 'pipelines', 'moved_away')), false);
      assert.equal((await t.server.ctx.store.schedules.get(schedule.id))?.pipeline_uuid, 'stay_put');
    });

    test('?update_content=true writes block content and marks the block updated; without it content is ignored', async () => {
      await create({ name: 'Content Edit' });
      await call('POST', '/api/pipelines/content_edit/blocks', { block: { name: 'ce_loader', type: 'data_loader', content: 'v1\n' } });
      const file = join(t.projectDir, 'data_loaders', 'ce_loader.py');
      const ignored = await call('PUT', '/api/pipelines/content_edit', { pipeline: { blocks: [{ uuid: 'ce_loader', content: 'ignored\n' }] } });
      assert.equal(ignored.status, 200);
      assert.equal(readFileSync(file, 'utf8'), 'v1\n');
      const res = await call('PUT', '/api/pipelines/content_edit?update_content=true', { pipeline: { blocks: [{ uuid: 'ce_loader', content: 'v2\n', color: 'pink' }] } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(readFileSync(file, 'utf8'), 'v2\n');
      const block = metadataOnDisk('content_edit').blocks[0];
      assert.equal(block.status, 'updated');
      assert.equal(block.color, 'pink');
      assertError(await call('PUT', '/api/pipelines/content_edit?update_content=sometimes', { pipeline: {} }), 400, /update_content must be true or false/);
    });

    test('update with the same blocks in a new order reorders them', async () => {
      await create({ name: 'Reorder', clone_pipeline_uuid: 'etl_demo' });
      const order = ['block1', 'block3', 'block2', 'block4'];
      const res = await call('PUT', '/api/pipelines/reorder', { pipeline: { blocks: order.map((uuid) => ({ uuid })) } });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.pipeline.blocks.map((b: any) => b.uuid), order);
      assert.deepEqual(metadataOnDisk('reorder').blocks.map((b: any) => b.uuid), order);
    });

    test('status active/inactive sets every schedule of the pipeline; other pipelines are untouched', async () => {
      await create({ name: 'Status Sched' });
      const store = t.server.ctx.store;
      const a = await store.schedules.create({ name: 'a', pipeline_uuid: 'status_sched', schedule_type: 'time', schedule_interval: '@daily', status: 'inactive' });
      const b = await store.schedules.create({ name: 'b', pipeline_uuid: 'status_sched', schedule_type: 'api', status: 'inactive' });
      const other = await store.schedules.create({ name: 'o', pipeline_uuid: 'etl_demo', schedule_type: 'api', status: 'inactive' });
      assert.equal((await call('PUT', '/api/pipelines/status_sched', { pipeline: { status: 'active' } })).status, 200);
      assert.deepEqual([(await store.schedules.get(a.id))?.status, (await store.schedules.get(b.id))?.status], ['active', 'active']);
      assert.ok((await store.schedules.get(a.id))?.last_enabled_at);
      assert.equal((await store.schedules.get(other.id))?.status, 'inactive');
      assert.equal((await call('PUT', '/api/pipelines/status_sched', { pipeline: { status: 'inactive' } })).status, 200);
      assert.deepEqual([(await store.schedules.get(a.id))?.status, (await store.schedules.get(b.id))?.status], ['inactive', 'inactive']);
    });

    test('status active/inactive with save-in-code rewrites triggers.yaml; a broken trigger file refuses with 422 and changes nothing', async () => {
      await create({ name: 'Status Code' });
      assert.equal((await call('PUT', '/api/pipelines/status_code', { pipeline: { settings: { triggers: { save_in_code_automatically: true } } } })).status, 200);
      const created = await call('POST', '/api/pipelines/status_code/pipeline_schedules', {
        pipeline_schedule: { name: 'nightly', schedule_type: 'time', schedule_interval: '@daily', status: 'inactive', start_time: '2026-01-01 00:00:00' },
      });
      assert.equal(created.status, 200);
      const yamlPath = join(t.projectDir, 'pipelines', 'status_code', 'triggers.yaml');
      const fileStatus = () => (parseYaml(readFileSync(yamlPath, 'utf8')) as any).triggers.find((x: any) => x.name === 'nightly').status;
      assert.equal(fileStatus(), 'inactive');
      assert.equal((await call('PUT', '/api/pipelines/status_code', { pipeline: { status: 'active' } })).status, 200);
      assert.equal(fileStatus(), 'active');
      assert.equal((await t.server.ctx.store.schedules.get(created.body.pipeline_schedule.id))?.status, 'active');

      writeFileSync(yamlPath, 'triggers: [unclosed\n');
      const refused = await call('PUT', '/api/pipelines/status_code', { pipeline: { status: 'inactive' } });
      assertError(refused, 422, /triggers\.yaml/);
      assert.equal((await t.server.ctx.store.schedules.get(created.body.pipeline_schedule.id))?.status, 'active', 'nothing changed in the database');
      assert.equal(readFileSync(yamlPath, 'utf8'), 'triggers: [unclosed\n');
    });

    test('status cancelled stops the pipeline\'s initial and running runs, or only the listed ones', async () => {
      await create({ name: 'Cancel Me' });
      const store = t.server.ctx.store;
      const running = await store.pipelineRuns.create({ pipeline_uuid: 'cancel_me', status: 'running' });
      const initial = await store.pipelineRuns.create({ pipeline_uuid: 'cancel_me', status: 'initial' });
      const done = await store.pipelineRuns.create({ pipeline_uuid: 'cancel_me', status: 'completed' });
      const foreign = await store.pipelineRuns.create({ pipeline_uuid: 'etl_demo', status: 'running' });
      const listed = await call('PUT', '/api/pipelines/cancel_me', { pipeline: { status: 'cancelled', pipeline_runs: [{ id: initial.id }, { id: foreign.id }] } });
      assert.equal(listed.status, 200);
      assert.equal((await store.pipelineRuns.get(initial.id))?.status, 'cancelled');
      assert.equal((await store.pipelineRuns.get(running.id))?.status, 'running');
      assert.equal((await store.pipelineRuns.get(foreign.id))?.status, 'running', 'a run of another pipeline is not cancelled');
      assert.equal((await call('PUT', '/api/pipelines/cancel_me', { pipeline: { status: 'cancelled' } })).status, 200);
      assert.equal((await store.pipelineRuns.get(running.id))?.status, 'cancelled');
      assert.equal((await store.pipelineRuns.get(done.id))?.status, 'completed');
      await store.pipelineRuns.transition(foreign.id, ['running'], 'cancelled');
    });

    test('update errors: wrong types 400 naming the field, a bad status 400 listing the allowed ones, missing 404', async () => {
      assertError(await call('PUT', '/api/pipelines/etl_demo', { pipeline: { name: 42 } }), 400, /body\.pipeline\.name must be string/);
      assertError(await call('PUT', '/api/pipelines/etl_demo', { pipeline: { status: 'paused' } }), 400, /body\.pipeline\.status must be one of "active", "inactive", "cancelled"/);
      assertError(await call('PUT', '/api/pipelines/etl_demo', { pipeline: { executor_count: 'two' } }), 400, /body\.pipeline\.executor_count must be integer/);
      assertError(await call('PUT', '/api/pipelines/etl_demo', { pipeline: { blocks: [{ name: 'no uuid' }] } }), 400, /body\.pipeline\.blocks\.0\.uuid is required/);
      assertError(await call('PUT', '/api/pipelines/etl_demo', { pipelin: {} }), 400, /body\.pipelin is not a known field/);
      assertError(await call('PUT', '/api/pipelines/etl_demo', '{"pipeline": {'), 400, /not valid JSON/);
      assertError(await call('PUT', '/api/pipelines/nope', { pipeline: { description: 'x' } }), 404, /Pipeline nope does not exist/);
      assert.equal(metadataOnDisk('etl_demo').name, 'ETL demo');
    });

    test('delete answers the last state, removes the folder, keeps block files; a second delete is 404', async () => {
      await create({ name: 'Delete Me', clone_pipeline_uuid: 'etl_demo' });
      const res = await call('DELETE', '/api/pipelines/delete_me');
      assert.equal(res.status, 200);
      assert.equal(res.body.pipeline.uuid, 'delete_me');
      assert.equal(res.body.pipeline.blocks.length, 4);
      assert.equal(existsSync(join(t.projectDir, 'pipelines', 'delete_me')), false);
      assert.ok(existsSync(join(t.projectDir, 'data_loaders', 'block1.py')));
      assertError(await call('DELETE', '/api/pipelines/delete_me'), 404, /Pipeline delete_me does not exist/);
    });

    test('without a token every route is 401; with a bad token 401 invalid_oauth_token', async () => {
      for (const [method, path, body] of [
        ['GET', '/api/pipelines'],
        ['GET', '/api/pipelines/etl_demo'],
        ['POST', '/api/pipelines', { pipeline: { name: 'anon' } }],
        ['PUT', '/api/pipelines/etl_demo', { pipeline: { description: 'anon' } }],
        ['DELETE', '/api/pipelines/etl_demo'],
      ] as const) {
        assertError(await call(method, path, body, null), 401, /Authentication required/, 'unauthenticated');
        assertError(await call(method, path, body, 'forged-token'), 401, /Invalid token/, 'invalid_oauth_token');
      }
      assert.equal(existsSync(join(t.projectDir, 'pipelines', 'anon')), false);
      assert.ok(existsSync(join(t.projectDir, 'pipelines', 'etl_demo')));
    });

    test('an unauthenticated request with a malformed body is refused as unauthenticated, before the body is read', async () => {
      assertError(await call('POST', '/api/pipelines', '{"pipeline": ', null), 401, /Authentication required/);
      assertError(await call('POST', '/api/pipelines', { wrong: 1 }, null), 401, /Authentication required/);
    });

    test('a viewer reads but every write is 403 naming the role needed; an editor writes', async () => {
      assert.equal((await call('GET', '/api/pipelines', undefined, viewer.token)).status, 200);
      assert.equal((await call('GET', '/api/pipelines/etl_demo', undefined, viewer.token)).status, 200);
      assertError(await call('POST', '/api/pipelines', { pipeline: { name: 'By viewer' } }, viewer.token), 403, /create action on pipelines needs the editor role.*you are viewer/, 'unauthorized_access');
      assertError(await call('PUT', '/api/pipelines/etl_demo', { pipeline: { description: 'v' } }, viewer.token), 403, /update action on pipelines needs the editor role/);
      assertError(await call('DELETE', '/api/pipelines/etl_demo', undefined, viewer.token), 403, /delete action on pipelines needs the editor role/);
      assert.equal(existsSync(join(t.projectDir, 'pipelines', 'by_viewer')), false);
      assert.notEqual(metadataOnDisk('etl_demo').description, 'v');
      const made = await call('POST', '/api/pipelines', { pipeline: { name: 'By editor' } }, editor.token);
      assert.equal(made.status, 200);
      assert.equal((await call('DELETE', '/api/pipelines/by_editor', undefined, editor.token)).status, 200);
    });
  });
}
