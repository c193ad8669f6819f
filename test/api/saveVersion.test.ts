/**
 * Save with a version check (the server side of "no silent overwrite across tabs"), over real HTTP on SQLite and
 * PostgreSQL: GET of a pipeline or a block answers an ETag hashing its saved content (metadata.yaml and the block
 * files; the block's file); a PUT with a matching If-Match proceeds and answers the new ETag; a stale one is 409
 * naming the change, and nothing is written; without If-Match a PUT behaves as before.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIALECTS, type TestServer } from '../helpers/server.js';
import { MAGE_FIXTURE, assertError, startApiServer } from './support.js';

const FILES = [
  'pipelines/etl_demo/metadata.yaml',
  'data_loaders/block1.py',
  'transformers/block2.py',
  'transformers/block3.py',
  'data_exporters/block4.py',
];

for (const dialect of DIALECTS) {
  describe(`save with a version check (${dialect})`, () => {
    let t: TestServer;
    const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => t.call(method, path, body, t.ownerToken, headers);
    const files = () => Object.fromEntries(FILES.map((f) => [f, readFileSync(join(t.projectDir, f), 'utf8')]));
    const etagOf = async (path: string) => {
      const res = await call('GET', path);
      assert.equal(res.status, 200);
      const etag = res.headers.get('etag');
      assert.match(etag ?? '', /^"[A-Za-z0-9_-]{32}"$/);
      assert.match(res.headers.get('access-control-expose-headers') ?? '', /ETag/);
      return etag!;
    };

    before(async () => {
      t = await startApiServer(dialect, { fixture: MAGE_FIXTURE });
    });
    after(async () => {
      await t?.close();
    });

    test('GET of a pipeline and of a block answers an ETag that changes only when the saved content does', async () => {
      const pipeline = await etagOf('/api/pipelines/etl_demo');
      assert.equal(await etagOf('/api/pipelines/etl_demo?includes_outputs=false'), pipeline, 'the same content, the same tag');
      const block = await etagOf('/api/pipelines/etl_demo/blocks/block2');
      assert.notEqual(await etagOf('/api/pipelines/etl_demo/blocks/block3'), block);
      // An edit of a block file outside the API changes both the block's and the pipeline's version.
      const path = join(t.projectDir, 'transformers', 'block2.py');
      const original = readFileSync(path, 'utf8');
      writeFileSync(path, original + '\n# edited elsewhere\n');
      try {
        assert.notEqual(await etagOf('/api/pipelines/etl_demo/blocks/block2'), block);
        assert.notEqual(await etagOf('/api/pipelines/etl_demo'), pipeline);
      } finally {
        writeFileSync(path, original);
      }
      assert.equal(await etagOf('/api/pipelines/etl_demo'), pipeline);
    });

    test('PUT ?update_content=true with a stale If-Match is 409 and writes nothing; with the current one it saves', async () => {
      const loaded = await etagOf('/api/pipelines/etl_demo');
      // Another tab saves first.
      const first = await call('PUT', '/api/pipelines/etl_demo?update_content=true', { pipeline: { blocks: [{ uuid: 'block1', content: 'print("tab one")\n' }] } }, { 'if-match': loaded });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const afterFirst = first.headers.get('etag');
      assert.notEqual(afterFirst, loaded);
      assert.equal(afterFirst, await etagOf('/api/pipelines/etl_demo'), 'the answer carries the new version');

      const before = files();
      const stale = await call(
        'PUT',
        '/api/pipelines/etl_demo?update_content=true',
        { pipeline: { description: 'tab two', blocks: [{ uuid: 'block1', content: 'print("tab two")\n' }, { uuid: 'block2', content: 'x = 2\n' }] } },
        { 'if-match': loaded },
      );
      assertError(stale, 409, /Pipeline etl_demo was changed since it was loaded.*nothing was written/, 'version_conflict');
      assert.deepEqual(files(), before, 'no file changed');

      const renamed = await call('PUT', '/api/pipelines/etl_demo', { pipeline: { name: 'Renamed Demo' } }, { 'if-match': loaded });
      assertError(renamed, 409, /changed since it was loaded/);
      assert.deepEqual(files(), before);
      assert.equal((await call('GET', '/api/pipelines/etl_demo')).status, 200, 'not renamed');

      const current = await call('PUT', '/api/pipelines/etl_demo?update_content=true', { pipeline: { blocks: [{ uuid: 'block1', content: 'print("tab two")\n' }] } }, { 'if-match': afterFirst! });
      assert.equal(current.status, 200);
      assert.equal(readFileSync(join(t.projectDir, 'data_loaders/block1.py'), 'utf8'), 'print("tab two")\n');
      // `*`, several tags, and a weak form of the current tag all match.
      const now = await etagOf('/api/pipelines/etl_demo');
      assert.equal((await call('PUT', '/api/pipelines/etl_demo', { pipeline: { description: 'any' } }, { 'if-match': '*' })).status, 200);
      const now2 = await etagOf('/api/pipelines/etl_demo');
      assert.notEqual(now2, now);
      assert.equal((await call('PUT', '/api/pipelines/etl_demo', { pipeline: { description: 'listed' } }, { 'if-match': `"stale", W/${now2}` })).status, 200);
    });

    test('PUT without If-Match behaves as before (Mage clients send none)', async () => {
      const res = await call('PUT', '/api/pipelines/etl_demo?update_content=true', { pipeline: { blocks: [{ uuid: 'block1', content: 'print("no precondition")\n' }] } });
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.body), ['pipeline', 'metadata'], 'no key added to the body');
      assert.equal(readFileSync(join(t.projectDir, 'data_loaders/block1.py'), 'utf8'), 'print("no precondition")\n');
      const block = await call('PUT', '/api/pipelines/etl_demo/blocks/block3', { block: { content: 'y = 3\n' } });
      assert.equal(block.status, 200);
    });

    test('PUT of a block with a stale If-Match is 409 and leaves its file unchanged; with the current one it saves', async () => {
      const loaded = await etagOf('/api/pipelines/etl_demo/blocks/block2');
      const saved = await call('PUT', '/api/pipelines/etl_demo/blocks/block2', { block: { content: 'z = 1\n' } }, { 'if-match': loaded });
      assert.equal(saved.status, 200, JSON.stringify(saved.body));
      const next = saved.headers.get('etag')!;
      assert.notEqual(next, loaded);

      const before = files();
      const stale = await call('PUT', '/api/pipelines/etl_demo/blocks/block2', { block: { content: 'z = 2\n', color: 'pink' } }, { 'if-match': loaded });
      assertError(stale, 409, /Block block2 of pipeline etl_demo was changed since it was loaded.*nothing was written/, 'version_conflict');
      assert.deepEqual(files(), before, 'neither the block file nor metadata.yaml changed');
      assert.equal(readFileSync(join(t.projectDir, 'transformers/block2.py'), 'utf8'), 'z = 1\n');

      const again = await call('PUT', '/api/pipelines/etl_demo/blocks/block2', { block: { content: 'z = 2\n' } }, { 'if-match': next });
      assert.equal(again.status, 200);
      assert.equal(readFileSync(join(t.projectDir, 'transformers/block2.py'), 'utf8'), 'z = 2\n');
    });
  });
}
