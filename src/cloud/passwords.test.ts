import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PasswordHasher } from './passwords.js';

test('scrypt hashes verify, carry their parameters, and reject wrong passwords and unknown users', async () => {
  const hasher = new PasswordHasher(1024);
  const stored = await hasher.hash('pa55word');
  assert.match(stored, /^scrypt\$1024\$8\$1\$[\w-]+\$[\w-]+$/);
  assert.equal(await hasher.verify('pa55word', stored), true);
  assert.equal(await hasher.verify('wrong', stored), false);
  assert.equal(await hasher.verify('pa55word', undefined), false);
  assert.equal(await hasher.verify('pa55word', 'bcrypt$junk'), false);
  // A hash made with another cost still verifies (the cost is read from the hash).
  assert.equal(await new PasswordHasher(2048).verify('pa55word', stored), true);
  assert.throws(() => new PasswordHasher(1000), /power of two/);
});

test('the default cost works despite Node’s 32 MiB scrypt memory default', async () => {
  const hasher = new PasswordHasher();
  assert.equal(await hasher.verify('x', await hasher.hash('x')), true);
});
