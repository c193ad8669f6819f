/**
 * Authentication and roles over real HTTP, on SQLite and on PostgreSQL: sessions, the three ways to present a
 * token, logout, Mage's api_key not being a credential, role denials, and user deletion revoking tokens.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, OWNER, startTestServer, type TestServer } from '../helpers/server.js';

for (const dialect of DIALECTS) {
  describe(`authentication (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ dialect });
    });
    after(async () => {
      await t?.close();
    });

    test('status needs no authentication and reports the project', async () => {
      const res = await t.call('GET', '/api/status');
      assert.equal(res.status, 200);
      assert.equal(res.body.statuses.length, 1);
      assert.equal(res.body.statuses[0].require_user_authentication, true);
      assert.deepEqual(res.body.metadata, {});
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
    });

    test('OPTIONS answers 204 with Mage CORS headers', async () => {
      const res = await t.call('OPTIONS', '/api/pipelines');
      assert.equal(res.status, 204);
      assert.match(res.headers.get('access-control-allow-methods') ?? '', /PUT/);
    });

    test('a resource without a token is 401 with a message saying how to authenticate', async () => {
      const res = await t.call('GET', '/api/pipelines');
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 401);
      assert.match(res.body.error.message, /Authorization: Bearer/);
    });

    test("Mage's X-API-KEY alone is not a credential", async () => {
      const res = await t.call('GET', '/api/pipelines', undefined, null, { 'x-api-key': 'zkWlN0PkIKSN0C11CfUHUj84OT5XOJ6tDZ6bDRO2' });
      assert.equal(res.status, 401);
    });

    test('login with username works, a wrong password is 401 with Mage\'s message', async () => {
      const ok = await t.call('POST', '/api/sessions', { session: { username: 'owner', password: OWNER.password }, api_key: 'x' });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.metadata, null);
      assert.equal(ok.body.session.user.owner, true);
      assert.match(ok.headers.get('set-cookie') ?? '', /oauth_token=.*HttpOnly/);
      const bad = await t.call('POST', '/api/sessions', { session: { email: OWNER.email, password: 'wrong' } });
      assert.equal(bad.status, 401);
      assert.equal(bad.body.error.message, 'Email/username and/or password invalid.');
      const unknown = await t.call('POST', '/api/sessions', { session: { email: 'nobody@example.com', password: 'x' } });
      assert.equal(unknown.status, 401);
    });

    test('the token works as Bearer, as OAUTH-TOKEN and as the oauth_token cookie (JWT)', async () => {
      const login = await t.call('POST', '/api/sessions', { session: { email: OWNER.email, password: OWNER.password } });
      const jwt: string = login.body.session.token;
      const raw = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()).token;
      assert.equal((await t.call('GET', '/api/pipelines', undefined, raw)).status, 200);
      assert.equal((await t.call('GET', '/api/pipelines', undefined, null, { 'oauth-token': raw })).status, 200);
      assert.equal((await t.call('GET', '/api/pipelines', undefined, null, { cookie: `oauth_token=${jwt}` })).status, 200);
      const forged = jwt.slice(0, -4) + 'AAAA';
      assert.equal((await t.call('GET', '/api/pipelines', undefined, null, { cookie: `oauth_token=${forged}` })).status, 401);
      assert.equal((await t.call('GET', '/api/pipelines', undefined, 'not-a-token')).status, 401);
    });

    test('logout expires only the token used', async () => {
      const a = await t.login(OWNER.email, OWNER.password);
      const b = await t.login(OWNER.email, OWNER.password);
      const out = await t.call('PUT', '/api/sessions/1', { session: {} }, a);
      assert.equal(out.status, 200);
      const after = await t.call('GET', '/api/pipelines', undefined, a);
      assert.equal(after.status, 401);
      assert.equal(after.body.error.type, 'expired_oauth_token');
      assert.equal((await t.call('GET', '/api/pipelines', undefined, b)).status, 200);
    });

    test('roles: a viewer reads but cannot write; an editor writes; only the owner creates users', async () => {
      const mk = async (email: string, role: string) => {
        const res = await t.call('POST', '/api/users', { user: { email, password: 'password-123', role } }, t.ownerToken);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.user.role, role);
        assert.equal(res.body.user.password_hash, undefined);
      };
      await mk(`viewer-${dialect}@example.com`, 'viewer');
      await mk(`editor-${dialect}@example.com`, 'editor');
      const viewer = await t.login(`viewer-${dialect}@example.com`, 'password-123');
      const editor = await t.login(`editor-${dialect}@example.com`, 'password-123');
      assert.equal((await t.call('GET', '/api/pipelines', undefined, viewer)).status, 200);
      const denied = await t.call('POST', '/api/pipelines', { pipeline: { name: `v-${dialect}` } }, viewer);
      assert.equal(denied.status, 403);
      assert.match(denied.body.error.message, /editor role/);
      assert.equal((await t.call('POST', '/api/pipelines', { pipeline: { name: `e-${dialect}` } }, editor)).status, 200);
      assert.equal((await t.call('POST', '/api/users', { user: { email: 'x@example.com', password: 'password-123' } }, editor)).status, 403);
      assert.equal((await t.call('GET', '/api/users', undefined, editor)).status, 403);
      assert.equal((await t.call('GET', '/api/users', undefined, t.ownerToken)).status, 200);
    });

    test('deleting a user revokes all of their tokens', async () => {
      const created = await t.call('POST', '/api/users', { user: { email: `gone-${dialect}@example.com`, password: 'password-123', role: 'editor' } }, t.ownerToken);
      const token = await t.login(`gone-${dialect}@example.com`, 'password-123');
      assert.equal((await t.call('GET', '/api/pipelines', undefined, token)).status, 200);
      const del = await t.call('DELETE', `/api/users/${created.body.user.id}`, undefined, t.ownerToken);
      assert.equal(del.status, 200);
      assert.equal((await t.call('GET', '/api/pipelines', undefined, token)).status, 401);
    });

    test('malformed JSON and wrong types are 400 with a message naming the problem', async () => {
      const bad = await t.call('POST', '/api/pipelines', '{"pipeline": {"name": ', t.ownerToken);
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /not valid JSON/);
      const wrong = await t.call('POST', '/api/pipelines', { pipeline: { name: 42 } }, t.ownerToken);
      assert.equal(wrong.status, 400);
      assert.match(wrong.body.error.message, /pipeline\.name/);
      const unknown = await t.call('POST', '/api/pipelines', { pipeline: { name: 'x', colour: 'red' } }, t.ownerToken);
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.error.message, /colour is not a known field/);
      const login = await t.call('POST', '/api/sessions', { session: { email: OWNER.email } });
      assert.equal(login.status, 400);
      assert.match(login.body.error.message, /password is required/);
    });

    test('path traversal in the URL is refused before routing', async () => {
      for (const path of ['/api/file_contents/..%2Fmetadata.yaml', '/api/file_contents/%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/api/pipelines?x=../../etc']) {
        const res = await t.call('GET', path, undefined, t.ownerToken);
        assert.equal(res.status, 400, path);
        assert.match(res.body.error.message, /traversal/);
      }
    });

    test('unknown routes are 404 in the error envelope, and the OpenAPI document is served', async () => {
      const res = await t.call('GET', '/api/nope', undefined, t.ownerToken);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.type, 'route_not_found');
      const doc = await t.call('GET', '/api/openapi.json');
      assert.equal(doc.status, 200);
      assert.ok(doc.body.paths['/api/pipelines']);
      assert.ok(doc.body.paths['/api/sessions'].post.requestBody);
    });
  });
}
