import assert from 'node:assert/strict';
import { it } from 'node:test';
import { forEachDialect } from '../../test/helpers/pg.js';
import { DuplicateRecordError } from './errors.js';

forEachDialect('secrets repository', (open) => {
  it('stores ciphertext, lists names only, gets and deletes by name within a repo', async () => {
    const store = await open();
    const s = await store.secrets.create({ name: 'db_password', value: 'gAAAA-cipher', repo_name: '/proj', key_uuid: 'k1' });
    assert.equal(typeof s.id, 'number');
    await store.secrets.create({ name: 'api_key', value: 'gAAAA-2', repo_name: '/proj' });
    await store.secrets.create({ name: 'db_password', value: 'gAAAA-other', repo_name: '/other' });
    assert.deepEqual(await store.secrets.listNames('/proj'), [
      { id: (await store.secrets.get('api_key', '/proj'))!.id, name: 'api_key' },
      { id: s.id, name: 'db_password' },
    ]);
    assert.equal((await store.secrets.get('db_password', '/proj'))?.value, 'gAAAA-cipher');
    assert.equal((await store.secrets.get('db_password', '/other'))?.value, 'gAAAA-other');
    await assert.rejects(store.secrets.create({ name: 'db_password', value: 'x', repo_name: '/proj' }), DuplicateRecordError);
    assert.equal(await store.secrets.deleteByName('db_password', '/proj'), true);
    assert.equal(await store.secrets.deleteByName('db_password', '/proj'), false);
    assert.ok(await store.secrets.get('db_password', '/other'));
  });

  it('upserts: a second write of a name replaces its value and key', async () => {
    const store = await open();
    const first = await store.secrets.upsert({ name: 'token', value: 'v1', key_uuid: 'k1' });
    const second = await store.secrets.upsert({ name: 'token', value: 'v2', key_uuid: 'k2' });
    assert.equal(second.id, first.id);
    assert.equal(second.value, 'v2');
    assert.equal(second.key_uuid, 'k2');
    assert.equal(second.repo_name, '');
    assert.equal((await store.secrets.listNames()).filter((r) => r.name === 'token').length, 1);
  });

  it('treats secrets without a repo as one namespace (no duplicate names)', async () => {
    const store = await open();
    await store.secrets.create({ name: 'shared', value: 'a' });
    await assert.rejects(store.secrets.create({ name: 'shared', value: 'b' }), DuplicateRecordError);
    await assert.rejects(store.secrets.create({ name: ' ', value: 'b' }), /must not be empty/);
  });
});
