/**
 * `users` over real HTTP on SQLite and PostgreSQL (mage-api.md §2.4): admins list, a user reads and edits
 * themself, the owner creates and deletes; roles are granted only by admins and never to or above the owner;
 * a password change needs the current password unless the owner resets someone else's; bad input is 400 naming
 * the field.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, OWNER, type TestServer } from '../helpers/server.js';
import { assertError, makeUser, startApiServer, type TestUser } from './support.js';

for (const dialect of DIALECTS) {
  describe(`users resource (${dialect})`, () => {
    let t: TestServer;
    let admin: TestUser;
    let editor: TestUser;
    let viewer: TestUser;
    const call = (method: string, path: string, body?: unknown, token?: string | null) =>
      t.call(method, path, body, token === undefined ? t.ownerToken : token);
    const ownerId = async () => (await call('GET', '/api/users?_limit=100')).body.users.find((u: any) => u.owner).id as number;

    before(async () => {
      t = await startApiServer(dialect);
      admin = await makeUser(t, 'admin', 'ua');
      editor = await makeUser(t, 'editor', 'ue');
      viewer = await makeUser(t, 'viewer', 'uv');
    });
    after(async () => {
      await t?.close();
    });

    test('list: admins and the owner see every user, paged, without password hashes; others get 403', async () => {
      const res = await call('GET', '/api/users', undefined, admin.token);
      assert.equal(res.status, 200);
      assert.ok(res.body.users.length >= 4);
      assert.deepEqual(res.body.metadata, { count: res.body.users.length, next: false });
      for (const u of res.body.users) {
        assert.equal(u.password_hash, undefined);
        assert.equal(u.password, undefined);
      }
      const page = await call('GET', '/api/users?_limit=2&_offset=1');
      assert.equal(page.body.users.length, 2);
      assert.equal(page.body.metadata.next, true);
      assertError(await call('GET', '/api/users', undefined, editor.token), 403, /list action on users needs the admin role or higher; you are editor/);
      assertError(await call('GET', '/api/users', undefined, viewer.token), 403, /you are viewer/);
      assertError(await call('GET', '/api/users', undefined, null), 401, /Authentication required/);
    });

    test('detail: a user reads themself, an admin reads anyone, a viewer cannot read others', async () => {
      const self = await call('GET', `/api/users/${viewer.id}`, undefined, viewer.token);
      assert.equal(self.status, 200);
      assert.equal(self.body.user.email, viewer.email);
      assert.equal(self.body.user.role, 'viewer');
      assert.equal((await call('GET', `/api/users/${viewer.id}`, undefined, admin.token)).status, 200);
      assertError(await call('GET', `/api/users/${editor.id}`, undefined, viewer.token), 403, /Only the user themself or an admin/);
      assertError(await call('GET', '/api/users/abc'), 400, /params\.id must match pattern/);
      assertError(await call('GET', '/api/users/99999'), 404, /User 99999 not found/, 'record_not_found');
    });

    test('create: owner only; role by name or Mage\'s bitmask; the new user can log in', async () => {
      const res = await call('POST', '/api/users', { user: { email: 'made@example.com', password: 'password-123', password_confirmation: 'password-123', roles: 2, first_name: 'Made' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual([res.body.user.role, res.body.user.roles, res.body.user.username, res.body.user.first_name, res.body.user.owner], ['editor', 2, 'made', 'Made', false]);
      assert.equal(res.body.user.password_hash, undefined);
      assert.ok(await t.login('made@example.com', 'password-123'));
      const plain = await call('POST', '/api/users', { user: { email: 'plain@example.com', password: 'password-123' } });
      assert.equal(plain.body.user.role, 'viewer');
      assertError(await call('POST', '/api/users', { user: { email: 'x1@example.com', password: 'password-123' } }, admin.token), 403, /create action on users needs the owner role/);
      assertError(await call('POST', '/api/users', { user: { email: 'x2@example.com', password: 'password-123' } }, editor.token), 403, /needs the owner role/);
    });

    test('create errors: missing or short password, bad email, mismatched confirmation, unknown role, duplicates', async () => {
      const post = (user: unknown) => call('POST', '/api/users', { user });
      assertError(await post({ email: 'np@example.com' }), 400, /user\.password is required/);
      assertError(await post({ password: 'password-123' }), 400, /user\.email is required/);
      assertError(await post({ email: 'np@example.com', password: 'short' }), 400, /body\.user\.password must NOT have fewer than 8 characters/);
      assertError(await post({ email: 'not-an-email', password: 'password-123' }), 400, /body\.user\.email must match pattern/);
      assertError(await post({ email: 'np@example.com', password: 'password-123', password_confirmation: 'password-124' }), 400, /password_confirmation does not match/);
      assertError(await post({ email: 'np@example.com', password: 'password-123', role: 'owner' }), 400, /body\.user\.role must be one of "admin", "editor", "viewer"/);
      assertError(await post({ email: 'np@example.com', password: 'password-123', roles: 3 }), 400, /body\.user\.roles must be one of 1, 2, 4/);
      assertError(await post({ email: 'np@example.com', password: 'password-123', owner: true }), 400, /body\.user\.owner is not a known field/);
      assertError(await post({ email: admin.email, password: 'password-123' }), 409, /A user with email ua@example\.com already exists/);
      assertError(await post({ email: 'other@example.com', username: 'ue', password: 'password-123' }), 409, /A user with username ue already exists/);
      assertError(await call('POST', '/api/users', '{"user": {"email": '), 400, /not valid JSON/);
      const list = await call('GET', '/api/users?_limit=100');
      assert.equal(list.body.users.some((u: any) => u.email === 'np@example.com'), false);
    });

    test('update of one\'s own profile works for any role; editing someone else needs admin', async () => {
      const res = await call('PUT', `/api/users/${viewer.id}`, { user: { first_name: 'Vera', last_name: 'Viewer' } }, viewer.token);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual([res.body.user.first_name, res.body.user.last_name], ['Vera', 'Viewer']);
      assertError(await call('PUT', `/api/users/${editor.id}`, { user: { first_name: 'X' } }, viewer.token), 403, /Only the user themself or an admin/);
      const byAdmin = await call('PUT', `/api/users/${editor.id}`, { user: { last_name: 'Edited' } }, admin.token);
      assert.equal(byAdmin.body.user.last_name, 'Edited');
    });

    test('roles: nobody changes their own role; an admin grants up to admin; the owner\'s account is out of an admin\'s reach', async () => {
      assertError(await call('PUT', `/api/users/${viewer.id}`, { user: { role: 'admin' } }, viewer.token), 403, /Only an admin may change the role of another user/);
      assertError(await call('PUT', `/api/users/${admin.id}`, { user: { role: 'editor' } }, admin.token), 403, /Only an admin may change the role/);
      assertError(await call('PUT', `/api/users/${viewer.id}`, { user: { role: 'editor' } }, editor.token), 403, /Only the user themself or an admin/);
      const target = await makeUser(t, 'viewer', 'promoted');
      const promoted = await call('PUT', `/api/users/${target.id}`, { user: { role: 'admin' } }, admin.token);
      assert.equal(promoted.status, 200);
      assert.equal(promoted.body.user.role, 'admin');
      assertError(await call('PUT', `/api/users/${target.id}`, { user: { role: 'owner' } }, admin.token), 400, /must be one of "admin", "editor", "viewer"/);
      const owner = await ownerId();
      assertError(await call('PUT', `/api/users/${owner}`, { user: { role: 'viewer' } }, admin.token), 403, /only the owner themself can edit a user with the owner role/);
      assertError(await call('PUT', `/api/users/${owner}`, { user: { email: 'taken-over@example.com' } }, admin.token), 403, /you are admin/i);
      const ownerNow = await call('GET', `/api/users/${owner}`);
      assert.equal(ownerNow.body.user.email, OWNER.email);
      assert.equal(ownerNow.body.user.role, 'owner');
      assertError(await call('PUT', `/api/users/${owner}`, { user: { roles: 4 } }), 403, /The owner's role cannot be changed|Only an admin may change the role/);
    });

    test('password change needs password_current; the new password works and the old one does not', async () => {
      const u = await makeUser(t, 'editor', 'pwchange');
      assertError(await call('PUT', `/api/users/${u.id}`, { user: { password: 'new-password-1' } }, u.token), 400, /password_current is missing or wrong/);
      assertError(await call('PUT', `/api/users/${u.id}`, { user: { password: 'new-password-1', password_current: 'wrong-one' } }, u.token), 400, /password_current is missing or wrong/);
      assertError(await call('PUT', `/api/users/${u.id}`, { user: { password: 'new-password-1', password_current: 'password-123', password_confirmation: 'other' } }, u.token), 400, /password_confirmation does not match/);
      assertError(await call('PUT', `/api/users/${u.id}`, { user: { password: 'short', password_current: 'password-123' } }, u.token), 400, /password must NOT have fewer than 8 characters/);
      const ok = await call('PUT', `/api/users/${u.id}`, { user: { password: 'new-password-1', password_current: 'password-123' } }, u.token);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.ok(await t.login(u.email, 'new-password-1'));
      assert.equal((await t.call('POST', '/api/sessions', { session: { email: u.email, password: 'password-123' } })).status, 401);
      assertError(await call('PUT', `/api/users/${u.id}`, { user: { password: 'admin-set-pw1' } }, admin.token), 400, /password_current is missing or wrong/);
    });

    test('the owner resets another user\'s password without the current one, which signs that user out', async () => {
      const u = await makeUser(t, 'viewer', 'pwreset');
      assert.equal((await call('GET', `/api/users/${u.id}`, undefined, u.token)).status, 200);
      const res = await call('PUT', `/api/users/${u.id}`, { user: { password: 'reset-password-1' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assertError(await call('GET', `/api/users/${u.id}`, undefined, u.token), 401, /Invalid token/);
      assert.ok(await t.login(u.email, 'reset-password-1'));
    });

    test('update errors: taken email or username 409, bad email 400, unknown field 400', async () => {
      assertError(await call('PUT', `/api/users/${editor.id}`, { user: { email: admin.email } }, editor.token), 409, /A user with email ua@example\.com already exists/);
      assertError(await call('PUT', `/api/users/${editor.id}`, { user: { username: 'ua' } }, editor.token), 409, /A user with username ua already exists/);
      assertError(await call('PUT', `/api/users/${editor.id}`, { user: { email: 'nope' } }, editor.token), 400, /body\.user\.email must match pattern/);
      assertError(await call('PUT', `/api/users/${editor.id}`, { user: { owner: true } }, editor.token), 400, /body\.user\.owner is not a known field/);
      assertError(await call('PUT', `/api/users/${editor.id}`, { user: { first_name: 7 } }, editor.token), 400, /body\.user\.first_name must be string or null/);
      assertError(await call('PUT', '/api/users/99999', { user: { first_name: 'x' } }), 404, /User 99999 not found/);
      const now = await call('GET', `/api/users/${editor.id}`, undefined, editor.token);
      assert.equal(now.body.user.email, editor.email);
      assert.equal(now.body.user.owner, false);
    });

    test('delete: owner only; nobody deletes themself; the owner cannot be deleted', async () => {
      const victim = await makeUser(t, 'viewer', 'victim');
      assertError(await call('DELETE', `/api/users/${victim.id}`, undefined, admin.token), 403, /delete action on users needs the owner role/);
      assertError(await call('DELETE', `/api/users/${victim.id}`, undefined, victim.token), 403, /needs the owner role/);
      assertError(await call('DELETE', `/api/users/${await ownerId()}`), 403, /You cannot delete yourself/);
      const res = await call('DELETE', `/api/users/${victim.id}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.user.email, victim.email);
      assertError(await call('GET', `/api/users/${victim.id}`), 404, /not found/);
      assertError(await call('DELETE', `/api/users/${victim.id}`), 404, /not found/);
      assertError(await call('DELETE', `/api/users/${admin.id}`, undefined, null), 401, /Authentication required/);
    });
  });
}
