/**
 * How `blockflow start` serves the web UI (src/server/webApp.ts), over real HTTP: hashed assets immutable and
 * precompressed by Accept-Encoding, the SPA fallback only for extension-less GETs outside /api and /assets,
 * unknown /api paths still Mage's JSON 404, and a clear page (not a crash) when the UI was not built.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { request } from 'undici';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { registerWebApp } from '../../src/server/webApp.js';
import { ensureUiBuilt } from './browser.js';

const DIST = fileURLToPath(new URL('../../ui/dist/', import.meta.url));

describe('web UI serving', () => {
  let t: TestServer;
  let editorChunk: string;

  before(async () => {
    ensureUiBuilt();
    editorChunk = readdirSync(join(DIST, 'assets')).find((f) => /^EditorPage-.*\.js$/.test(f))!;
    assert.ok(editorChunk, 'the build has a lazy editor chunk');
    t = await startTestServer();
  });
  after(async () => {
    await t?.close();
  });

  const get = async (path: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') => {
    const res = await request(t.url + path, { method, headers });
    const body = method === 'HEAD' ? '' : await res.body.text();
    if (method === 'HEAD') await res.body.dump();
    return { status: res.statusCode, headers: res.headers, body };
  };

  test('pages are the app shell, revalidated; no session needed to load it', async () => {
    for (const path of ['/', '/sign-in', '/pipelines', '/pipelines/demo_pipeline/edit', '/pipelines?q=x']) {
      const res = await get(path);
      assert.equal(res.status, 200, path);
      assert.match(String(res.headers['content-type']), /text\/html/, path);
      assert.equal(res.headers['cache-control'], 'no-cache', path);
      assert.match(res.body, /<div id="root"><\/div>/, path);
      assert.match(String(res.headers['content-security-policy']), /default-src 'self'/, path);
    }
    const head = await get('/pipelines', {}, 'HEAD');
    assert.equal(head.status, 200);
  });

  test('hashed assets are immutable and sent brotli or gzip by Accept-Encoding, identity otherwise', async () => {
    const path = `/assets/${editorChunk}`;
    const br = await get(path, { 'accept-encoding': 'br, gzip' });
    assert.equal(br.status, 200);
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.match(String(br.headers['content-type']), /javascript/);
    const gz = await get(path, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    const plain = await get(path, { 'accept-encoding': 'identity' });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.ok(Number(plain.headers['content-length']) > Number(br.headers['content-length']) * 3, 'brotli is much smaller');
    const icon = await get('/favicon.svg');
    assert.equal(icon.status, 200);
    assert.equal(icon.headers['cache-control'], 'no-cache');
  });

  test('a missing asset or file is a 404, never the HTML shell', async () => {
    for (const path of ['/assets/missing-abc123.js', '/assets/nested/x.css', '/missing.png', '/pipelines/x/file.json']) {
      const res = await get(path);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(res.body, /<div id="root">/, path);
    }
    const dot = await get('/.env');
    assert.notEqual(dot.status, 200);
  });

  test('unknown /api paths keep the JSON 404 envelope; the API is unchanged', async () => {
    for (const path of ['/api', '/api/nope', '/api/pipelines/demo_pipeline/nope/deeper']) {
      const res = await get(path);
      assert.equal(res.status, 404, path);
      const body = JSON.parse(res.body);
      assert.equal(body.error.type, 'route_not_found', path);
    }
    const status = await get('/api/status');
    assert.equal(status.status, 200);
    assert.ok(JSON.parse(status.body).statuses);
    const noSession = await get('/api/pipelines');
    assert.equal(noSession.status, 401);
  });

  test('without a built UI, pages say how to build it (503) and assets are 404', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'blockflow-ui-'));
    const app = Fastify();
    app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: { code: 404, type: 'route_not_found', message: 'No route.' } }));
    try {
      await registerWebApp(app, { root: join(empty, 'dist') });
      const page = await app.inject({ method: 'GET', url: '/pipelines' });
      assert.equal(page.statusCode, 503);
      assert.match(page.body, /npm run build:ui/);
      assert.match(String(page.headers['content-type']), /text\/html/);
      assert.equal((await app.inject({ method: 'GET', url: '/' })).statusCode, 503);
      assert.equal((await app.inject({ method: 'GET', url: '/assets/index-abc.js' })).statusCode, 404);
      assert.equal((await app.inject({ method: 'GET', url: '/api/nope' })).statusCode, 404);
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
