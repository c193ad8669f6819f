/**
 * `file_contents` over real HTTP on SQLite and PostgreSQL (mage-api.md §3.12): read, replace and delete a
 * project file by its relative path, and every way of reaching outside the project refused with a 400 that
 * says why: `..` raw and encoded once or twice, backslashes, absolute paths, NUL bytes, and symlinks inside the
 * project that lead out of it (files, folders, dangling links). Paths are sent verbatim (see rawCall).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIALECTS, type TestServer } from '../helpers/server.js';
import { MAGE_FIXTURE, assertError, makeUser, rawCall, startApiServer, type TestUser } from './support.js';

/** Each path must be refused (400) on GET, PUT and DELETE, with a message matching the pattern. */
const REFUSED_PATHS: Array<[string, RegExp]> = [
  ['../metadata.yaml', /path traversal|"\.\." segment/],
  ['..%2Fmetadata.yaml', /path traversal|"\.\." segment/],
  ['%2e%2e%2fmetadata.yaml', /path traversal|"\.\." segment/],
  ['%2E%2E/%2E%2E/etc/passwd', /path traversal|"\.\." segment/],
  ['%252e%252e%252fmetadata.yaml', /path traversal|"\.\." segment/],
  ['data_loaders%2F..%2F..%2Fmetadata.yaml', /path traversal|"\.\." segment/],
  ['..%5Cmetadata.yaml', /path traversal|"\.\." segment/],
  ['%E0%A4%A..%2F..%2Fmetadata.yaml', /not valid percent-encoding/],
  ['%2Fetc%2Fpasswd', /is absolute/],
  ['/etc/passwd', /is absolute/],
  ['C:%5CWindows%5Cwin.ini', /is absolute/],
  ['data_loaders%2Fblock1.py%00.txt', /NUL byte/],
];

for (const dialect of DIALECTS) {
  describe(`file_contents resource (${dialect})`, () => {
    let t: TestServer;
    let viewer: TestUser;
    let outside: string;
    const call = (method: string, path: string, body?: unknown, token?: string | null) =>
      t.call(method, path, body, token === undefined ? t.ownerToken : token);
    const projectFile = (...parts: string[]) => join(t.projectDir, ...parts);

    before(async () => {
      t = await startApiServer(dialect, { fixture: MAGE_FIXTURE });
      viewer = await makeUser(t, 'viewer', `fv_${dialect}`);
      outside = mkdtempSync(join(tmpdir(), 'blockflow-outside-'));
      writeFileSync(join(outside, 'secret.txt'), 'outside secret\n');
      symlinkSync(outside, projectFile('link_to_outside_dir'));
      symlinkSync(join(outside, 'secret.txt'), projectFile('link_to_outside_file'));
      symlinkSync(join(outside, 'not_yet.txt'), projectFile('dangling_outside'));
      symlinkSync(projectFile('data_loaders', 'block1.py'), projectFile('link_inside'));
    });
    after(async () => {
      await t?.close();
      if (outside) rmSync(outside, { recursive: true, force: true });
    });

    test('GET by URL-encoded relative path answers content, name, path and size', async () => {
      const res = await call('GET', '/api/file_contents/data_loaders%2Fblock1.py');
      assert.equal(res.status, 200);
      assert.equal(res.body.metadata, null);
      const f = res.body.file_content;
      const onDisk = readFileSync(projectFile('data_loaders', 'block1.py'), 'utf8');
      assert.deepEqual([f.name, f.path, f.content, f.size], ['block1.py', 'data_loaders/block1.py', onDisk, Buffer.byteLength(onDisk)]);
      assert.equal(typeof f.modified_timestamp, 'number');
      const plain = await call('GET', '/api/file_contents/data_loaders/block1.py');
      assert.equal(plain.body.file_content.content, onDisk);
    });

    test('PUT replaces the content atomically (no temp file left); GET then answers the new content', async () => {
      const before = readdirSync(projectFile('transformers')).sort();
      const res = await call('PUT', '/api/file_contents/transformers%2Fblock3.py', { file_content: { content: 'print("edited")\n' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.file_content.content, 'print("edited")\n');
      assert.equal(readFileSync(projectFile('transformers', 'block3.py'), 'utf8'), 'print("edited")\n');
      assert.deepEqual(readdirSync(projectFile('transformers')).sort(), before);
      assert.equal((await call('GET', '/api/file_contents/transformers%2Fblock3.py')).body.file_content.content, 'print("edited")\n');
    });

    test('PUT errors: a missing file 404, wrong types and missing fields 400, malformed JSON 400; the file is unchanged', async () => {
      const original = readFileSync(projectFile('transformers', 'block2.py'), 'utf8');
      assertError(await call('PUT', '/api/file_contents/transformers%2Fnew_file.py', { file_content: { content: 'x' } }), 404, /File transformers\/new_file\.py does not exist/);
      assert.equal(existsSync(projectFile('transformers', 'new_file.py')), false);
      const put = (body: unknown) => call('PUT', '/api/file_contents/transformers%2Fblock2.py', body);
      assertError(await put({ file_content: { content: 42 } }), 400, /body\.file_content\.content must be string/);
      assertError(await put({ file_content: {} }), 400, /body\.file_content\.content is required/);
      assertError(await put({ content: 'x' }), 400, /body\.content is not a known field/);
      assertError(await put({ file_content: { content: 'x', mode: '777' } }), 400, /body\.file_content\.mode is not a known field/);
      assertError(await put('{"file_content": {"content": "x"'), 400, /not valid JSON/);
      assert.equal(readFileSync(projectFile('transformers', 'block2.py'), 'utf8'), original);
    });

    test('GET of a missing file is 404, of a folder 400, of a file over 5 MiB 413', async () => {
      assertError(await call('GET', '/api/file_contents/nope%2Fnothing.py'), 404, /File nope\/nothing\.py does not exist/, 'record_not_found');
      assertError(await call('GET', '/api/file_contents/data_loaders'), 400, /data_loaders is a folder, not a file/, 'not_a_file');
      writeFileSync(projectFile('big.txt'), Buffer.alloc(5 * 1024 * 1024 + 1, 'a'));
      assertError(await call('GET', '/api/file_contents/big.txt'), 413, /File is 5242881 bytes; the limit is 5242880/, 'file_too_large');
    });

    test('DELETE removes the file and answers its last content; a second DELETE is 404', async () => {
      mkdirSync(projectFile('scratch'), { recursive: true });
      writeFileSync(projectFile('scratch', 'tmp.py'), 'bye\n');
      const res = await call('DELETE', '/api/file_contents/scratch%2Ftmp.py');
      assert.equal(res.status, 200);
      assert.equal(res.body.file_content.content, 'bye\n');
      assert.equal(existsSync(projectFile('scratch', 'tmp.py')), false);
      assertError(await call('DELETE', '/api/file_contents/scratch%2Ftmp.py'), 404, /does not exist/);
    });

    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      test(`${method}: traversal, absolute paths and NUL bytes are 400 naming the problem`, async () => {
        const body = method === 'PUT' ? { file_content: { content: 'pwned' } } : undefined;
        const projectMetadata = readFileSync(projectFile('metadata.yaml'), 'utf8');
        for (const [path, message] of REFUSED_PATHS) {
          const res = await rawCall(t, method, `/api/file_contents/${path}`, body, t.ownerToken);
          assertError(res, 400, message);
        }
        assert.equal(readFileSync(projectFile('metadata.yaml'), 'utf8'), projectMetadata);
        assert.ok(existsSync(projectFile('data_loaders', 'block1.py')));
      });
    }

    test('symlinks leading out of the project are refused on GET, PUT and DELETE; the outside file is untouched', async () => {
      const targets = ['link_to_outside_file', 'link_to_outside_dir%2Fsecret.txt', 'link_to_outside_dir/secret.txt'];
      for (const path of targets) {
        assertError(await call('GET', `/api/file_contents/${path}`), 400, /outside the project folder/, 'invalid_path');
        assertError(await call('PUT', `/api/file_contents/${path}`, { file_content: { content: 'pwned' } }), 400, /outside the project folder/);
        assertError(await call('DELETE', `/api/file_contents/${path}`), 400, /outside the project folder/);
      }
      assertError(await call('PUT', '/api/file_contents/dangling_outside', { file_content: { content: 'pwned' } }), 400, /outside the project folder/);
      assert.equal(readFileSync(join(outside, 'secret.txt'), 'utf8'), 'outside secret\n');
      assert.equal(existsSync(join(outside, 'not_yet.txt')), false);
    });

    test('a symlink that stays inside the project is followed', async () => {
      const res = await call('GET', '/api/file_contents/link_inside');
      assert.equal(res.status, 200);
      assert.equal(res.body.file_content.content, readFileSync(projectFile('data_loaders', 'block1.py'), 'utf8'));
    });

    test('without a token 401; a viewer reads but PUT and DELETE are 403 and change nothing', async () => {
      assertError(await call('GET', '/api/file_contents/data_loaders%2Fblock1.py', undefined, null), 401, /Authentication required/);
      assertError(await call('PUT', '/api/file_contents/data_loaders%2Fblock1.py', { file_content: { content: 'x' } }, null), 401, /Authentication required/);
      assert.equal((await call('GET', '/api/file_contents/data_loaders%2Fblock1.py', undefined, viewer.token)).status, 200);
      const original = readFileSync(projectFile('data_loaders', 'block1.py'), 'utf8');
      assertError(await call('PUT', '/api/file_contents/data_loaders%2Fblock1.py', { file_content: { content: 'x' } }, viewer.token), 403, /update action on file_contents needs the editor role/);
      assertError(await call('DELETE', '/api/file_contents/data_loaders%2Fblock1.py', undefined, viewer.token), 403, /needs the editor role/);
      assert.equal(readFileSync(projectFile('data_loaders', 'block1.py'), 'utf8'), original);
    });
  });
}
