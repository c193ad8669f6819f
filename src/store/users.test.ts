import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { forEachDialect } from '../../test/helpers/pg.js';
import { DuplicateRecordError } from './errors.js';
import { fromDbTime } from './time.js';

const hash = () => createHash('sha256').update(randomBytes(32)).digest('hex');

forEachDialect('users repository', (open) => {
  it('creates, reads, updates, lists, counts and deletes users with normalised types', async () => {
    const store = await open();
    const before = await store.users.count();
    const u = await store.users.create({
      username: 'ada',
      email: 'ada@example.com',
      password_hash: 'scrypt$x',
      roles: 2,
      preferences: { theme: 'dark', nested: { n: 1 } },
    });
    assert.equal(typeof u.id, 'number');
    assert.equal(u.owner, false);
    assert.equal(u.password_salt, null);
    assert.deepEqual(u.preferences, { theme: 'dark', nested: { n: 1 } });
    assert.match(u.created_at, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/);

    assert.equal((await store.users.getByEmailOrUsername('ada@example.com'))?.id, u.id);
    assert.equal((await store.users.getByEmailOrUsername('ada'))?.id, u.id);
    assert.equal(await store.users.getByEmailOrUsername('nobody'), undefined);

    const updated = await store.users.update(u.id, { owner: true, first_name: 'Ada', preferences: null });
    assert.equal(updated?.owner, true);
    assert.equal(updated?.first_name, 'Ada');
    assert.equal(updated?.preferences, null);
    assert.equal(updated?.email, 'ada@example.com');
    assert.equal((await store.users.findOwner())?.id, u.id);

    const after = await store.users.count();
    assert.equal(typeof after, 'number');
    assert.equal(after, before + 1);
    const page = await store.users.list({ limit: 1, offset: after - 1 });
    assert.equal(page.count, after);
    assert.deepEqual(page.rows.map((r) => r.id), [u.id]);
    assert.equal((await store.users.list({ offset: after - 1 })).rows.length, 1);

    assert.equal(await store.users.delete(u.id), true);
    assert.equal(await store.users.delete(u.id), false);
    assert.equal(await store.users.getById(u.id), undefined);
  });

  it('rejects a taken username or email with DuplicateRecordError', async () => {
    const store = await open();
    await store.users.create({ username: 'dup', email: 'dup@example.com' });
    await assert.rejects(store.users.create({ username: 'dup' }), (e) => e instanceof DuplicateRecordError && e.table === 'user');
    await assert.rejects(store.users.create({ username: 'other', email: 'dup@example.com' }), DuplicateRecordError);
  });
});

forEachDialect('access tokens repository', (open) => {
  it('stores the hash, finds it, expires it and deletes expired and per-user tokens', async () => {
    const store = await open();
    const user = await store.users.create({ username: `tok-${randomBytes(3).toString('hex')}` });
    const h1 = hash();
    const future = new Date(Date.now() + 3600_000);
    const t1 = await store.accessTokens.create(user.id, h1, future);
    assert.equal(t1.token, h1);
    assert.equal(typeof t1.user_id, 'number');
    assert.equal(fromDbTime(t1.expires).getTime(), future.getTime());
    assert.equal((await store.accessTokens.findByHash(h1))?.id, t1.id);
    assert.equal(await store.accessTokens.findByHash(hash()), undefined);

    assert.equal(await store.accessTokens.expire(t1.id), true);
    assert.ok(fromDbTime((await store.accessTokens.findByHash(h1))!.expires).getTime() <= Date.now());

    const h2 = hash();
    await store.accessTokens.create(user.id, h2, future);
    assert.equal(await store.accessTokens.deleteExpired(), 1);
    assert.equal(await store.accessTokens.findByHash(h1), undefined);
    assert.ok(await store.accessTokens.findByHash(h2));

    assert.equal(await store.accessTokens.deleteForUser(user.id), 1);
    assert.equal(await store.accessTokens.findByHash(h2), undefined);
  });

  it('refuses a raw token in place of a hash', async () => {
    const store = await open();
    const user = await store.users.create({ username: `raw-${randomBytes(3).toString('hex')}` });
    await assert.rejects(store.accessTokens.create(user.id, 'not-a-hash', new Date()), /SHA-256/);
  });

  it('deletes a user\'s tokens with the user (cascade)', async () => {
    const store = await open();
    const user = await store.users.create({ username: `casc-${randomBytes(3).toString('hex')}` });
    const h = hash();
    await store.accessTokens.create(user.id, h, new Date(Date.now() + 60_000));
    await store.users.delete(user.id);
    assert.equal(await store.accessTokens.findByHash(h), undefined);
  });
});
