/**
 * Long names (issue 17, item 4), over real HTTP on SQLite and PostgreSQL: a name whose uuid becomes a file or
 * folder name and is longer in UTF-8 bytes than MAX_NAME_BYTES (pipeline create, rename and clone; block
 * create and both rename routes) is refused with a 400 giving the limit, and nothing is written; a name at
 * the limit works all the way through a run (block file, outputs with their temp folders, logs). Names that
 * never become paths (triggers, backfills, variables, secrets) are not limited by it and never answer 500.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIALECTS, type TestServer } from '../helpers/server.js';
import { assertError, makeUser, startApiServer, type TestUser } from '../api/support.js';
import { buildProject } from '../engine/projectBuilder.js';
import { MAX_NAME_BYTES } from '../../src/project/names.js';
import type { Engine } from '../../src/engine/engine.js';
import { fileTree } from '../helpers/files.js';

const TS_BLOCK = `export default async function load() {\n  return { ok: true };\n}\n`;
const LIMIT_MESSAGE = new RegExp(`limited to ${MAX_NAME_BYTES} bytes`);
/** 3 bytes each in UTF-8. */
const cjk = (n: number) => '漢'.repeat(n);

function fixture(): string {
  return buildProject({
    p1: { blocks: [{ uuid: 'load', type: 'data_loader', language: 'typescript', code: TS_BLOCK }] },
  });
}


for (const dialect of DIALECTS) {
  describe(`long names (${dialect})`, () => {
    let t: TestServer;
    let editor: TestUser;
    let viewer: TestUser;

    before(async () => {
      t = await startApiServer(dialect, { fixture: fixture() });
      editor = await makeUser(t, 'editor', `editor_${dialect}`);
      viewer = await makeUser(t, 'viewer', `viewer_${dialect}`);
    });
    after(async () => {
      await t?.close();
    });

    /** The project's files and the pipeline's metadata, to compare before and after a refused request. */
    const snapshot = () => ({ files: fileTree(t.projectDir), p1: readFileSync(join(t.projectDir, 'pipelines', 'p1', 'metadata.yaml'), 'utf8') });
    const refused = async (method: string, path: string, body: unknown) => {
      const before = snapshot();
      const asViewer = await t.call(method, path, body, viewer.token);
      assert.equal(asViewer.status, 403, `a viewer may not: ${JSON.stringify(asViewer.body)}`);
      const res = await t.call(method, path, body, editor.token);
      assertError(res, 400, LIMIT_MESSAGE, 'invalid_name');
      assert.deepEqual(snapshot(), before, 'nothing written, nothing half-written');
      return res;
    };

    test('block create: 230 ASCII, 100 CJK characters, a long uuid are refused with the limit', async () => {
      await refused('POST', '/api/pipelines/p1/blocks', { block: { name: 'b'.repeat(230), type: 'data_loader', language: 'typescript' } });
      const cjkRes = await refused('POST', '/api/pipelines/p1/blocks', { block: { name: cjk(100), type: 'data_loader' } });
      assert.match(cjkRes.body.error.message, /300 bytes/);
      await refused('POST', '/api/pipelines/p1/blocks', { block: { uuid: 'u'.repeat(255), type: 'transformer' } });
    });

    test('block rename to 255 characters is refused through PUT block and PUT pipeline ?update_content', async () => {
      await refused('PUT', '/api/pipelines/p1/blocks/load', { block: { name: 'r'.repeat(255) } });
      await refused('PUT', '/api/pipelines/p1?update_content=true', { pipeline: { blocks: [{ uuid: 'load', name: cjk(80) }] } });
      assert.ok(existsSync(join(t.projectDir, 'data_loaders', 'load.ts')), 'the file was not moved');
    });

    test('pipeline create (255 CJK, 230 ASCII), clone and rename are refused; the pipeline keeps its uuid and fields', async () => {
      await refused('POST', '/api/pipelines', { pipeline: { name: cjk(255) } });
      await refused('POST', '/api/pipelines', { pipeline: { name: 'p'.repeat(230) } });
      await refused('POST', '/api/pipelines', { pipeline: { name: 'c'.repeat(201), clone_pipeline_uuid: 'p1' } });
      await refused('PUT', '/api/pipelines/p1', { pipeline: { name: cjk(255), description: 'must not be saved' } });
      const p1 = await t.call('GET', '/api/pipelines/p1', undefined, viewer.token);
      assert.equal(p1.status, 200);
      assert.notEqual(p1.body.pipeline.description, 'must not be saved');
    });

    test('a name at the limit works end to end: block file, a run with outputs and logs, rename back and forth', async () => {
      const name = 'n'.repeat(MAX_NAME_BYTES);
      const created = await t.call('POST', '/api/pipelines', { pipeline: { name: cjk(Math.floor(MAX_NAME_BYTES / 3)) } }, editor.token);
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const uuid: string = created.body.pipeline.uuid;
      const block = await t.call('POST', `/api/pipelines/${encodeURIComponent(uuid)}/blocks`, { block: { name, type: 'data_loader', language: 'typescript', content: TS_BLOCK } }, editor.token);
      assert.equal(block.status, 200, JSON.stringify(block.body));
      assert.ok(existsSync(join(t.projectDir, 'data_loaders', `${name}.ts`)));

      const trigger = await t.call('POST', `/api/pipelines/${encodeURIComponent(uuid)}/pipeline_schedules`, { pipeline_schedule: { name: 'at_limit', schedule_type: 'api', status: 'active' } }, editor.token);
      const { id, token } = trigger.body.pipeline_schedule;
      const run = await t.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs/${token}`, {});
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.equal(await (t.server.ctx.services.engine as Engine).waitForRun(run.body.pipeline_run.id), 'completed');
      const partition = run.body.pipeline_run.variables.execution_partition as string;
      const dataDir = t.server.ctx.project.dataDir;
      assert.ok(existsSync(join(dataDir, 'pipelines', uuid, '.variables', ...partition.split('/'), name, 'output_0')));
      assert.ok(existsSync(join(dataDir, 'pipelines', uuid, '.logs', ...partition.split('/'), `${name}.log`)));

      const renamed = await t.call('PUT', `/api/pipelines/${encodeURIComponent(uuid)}/blocks/${name}`, { block: { name: 'm'.repeat(MAX_NAME_BYTES) } }, editor.token);
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      assert.ok(existsSync(join(t.projectDir, 'data_loaders', `${'m'.repeat(MAX_NAME_BYTES)}.ts`)));
      const tooLong = await t.call('PUT', `/api/pipelines/${encodeURIComponent(uuid)}/blocks/${'m'.repeat(MAX_NAME_BYTES)}`, { block: { name: 'm'.repeat(MAX_NAME_BYTES + 1) } }, editor.token);
      assertError(tooLong, 400, LIMIT_MESSAGE);
    });

    test('names that never become paths (trigger, backfill, variable, secret) are not limited and never answer 500', async () => {
      const trigger = await t.call('POST', '/api/pipelines/p1/pipeline_schedules', { pipeline_schedule: { name: cjk(255), schedule_type: 'api' } }, editor.token);
      assert.equal(trigger.status, 200, JSON.stringify(trigger.body));
      assert.equal(trigger.body.pipeline_schedule.name, cjk(255));
      const renamed = await t.call('PUT', `/api/pipeline_schedules/${trigger.body.pipeline_schedule.id}`, { pipeline_schedule: { name: `${cjk(254)}x` } }, editor.token);
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      const backfill = await t.call('POST', '/api/pipelines/p1/backfills', { backfill: { name: cjk(255), start_datetime: '2024-01-01 00:00:00', end_datetime: '2024-01-01 00:00:00' } }, editor.token);
      assert.equal(backfill.status, 200, JSON.stringify(backfill.body));
      const variable = await t.call('POST', '/api/pipelines/p1/variables', { variable: { name: 'v'.repeat(255), value: 1 } }, editor.token);
      assert.ok(variable.status < 500, JSON.stringify(variable.body));
      const secret = await t.call('POST', '/api/secrets', { secret: { name: 's'.repeat(255), value: 'x' } }, t.ownerToken);
      assert.ok(secret.status < 500, JSON.stringify(secret.body));
      for (const res of [trigger, backfill]) assert.equal(res.status, 200);
      assert.equal((await t.call('POST', '/api/pipelines/p1/pipeline_schedules', { pipeline_schedule: { name: cjk(10) } }, viewer.token)).status, 403);
    });
  });
}
