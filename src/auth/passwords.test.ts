import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertScryptCost, burnPasswordCheck, generatePassword, hashPassword, PasswordHasher, verifyPassword } from './passwords.js';

// Made by the code before server and cloud hashing were merged (src/auth/passwords.ts hashPassword and
// src/cloud/passwords.ts PasswordHasher); stored users' hashes look like these and must keep verifying.
const OLD_SERVER_HASH = 'scrypt$1024$8$1$I12azZYSCGKCJf3fGfIvlw$kbVbFuLW6C0SIcAKy6DtERng2_Sds1OfX-G0MOENw2M';
const OLD_CLOUD_HASH = 'scrypt$1024$8$1$zF7l3k1ymbpLqW3YR0TcYg$lfYeqs3nPGoNTkI83kD7ynj3r9nGe-iC_fWLgoCs9Dc';
const OLD_DEFAULT_COST_HASH = 'scrypt$32768$8$1$nwCzsNQan5esvSPOsaliIg$cZvIIF__Ot39hUgyXW3Nqo1C96oim_Xp_YkzD3uXyd4';

test('hashes made by the old server and cloud code still verify through both entry points', async () => {
  assert.equal(await verifyPassword('correct horse battery staple', OLD_SERVER_HASH, 1024), true);
  assert.equal(await verifyPassword('correct horse battery stapler', OLD_SERVER_HASH, 1024), false);
  assert.equal(await new PasswordHasher(1024).verify('pa55wörd', OLD_CLOUD_HASH), true);
  assert.equal(await new PasswordHasher(1024).verify('pa55word', OLD_CLOUD_HASH), false);
  assert.equal(await verifyPassword('pa55wörd', OLD_CLOUD_HASH, 1024), true);
  assert.equal(await new PasswordHasher(1024).verify('default cost', OLD_DEFAULT_COST_HASH), true);
});

test('scrypt hashes verify, carry their parameters, and reject wrong passwords and unknown users', async () => {
  const hasher = new PasswordHasher(1024);
  const stored = await hasher.hash('pa55word');
  assert.match(stored, /^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
  assert.notEqual(stored, await hasher.hash('pa55word'), 'a fresh salt per hash');
  assert.equal(await hasher.verify('pa55word', stored), true);
  assert.equal(await hasher.verify('wrong', stored), false);
  assert.equal(await hasher.verify('pa55word', undefined), false);
  assert.equal(await hasher.verify('pa55word', null), false);
  assert.equal(await hasher.verify('pa55word', 'bcrypt$junk'), false);
  // A hash made with another cost still verifies (the cost is read from the hash).
  assert.equal(await new PasswordHasher(2048).verify('pa55word', stored), true);
  assert.equal(await verifyPassword('pa55word', stored), true);
});

test('the function API and the class produce the same format', async () => {
  const stored = await hashPassword('s3cret', 2048);
  assert.match(stored, /^scrypt\$2048\$8\$1\$/);
  assert.equal(await new PasswordHasher(1024).verify('s3cret', stored), true);
  assert.equal(await verifyPassword('nope', stored, 1024), false);
});

test('stored hashes with unusable parameters are rejected, not run', async () => {
  for (const bad of [
    'scrypt$1000$8$1$I12azZYSCGKCJf3fGfIvlw$kbVbFuLW6C0SIcAKy6DtERng2_Sds1OfX-G0MOENw2M',
    'scrypt$1024$0$1$I12azZYSCGKCJf3fGfIvlw$kbVbFuLW6C0SIcAKy6DtERng2_Sds1OfX-G0MOENw2M',
    'scrypt$1024$8$x$I12azZYSCGKCJf3fGfIvlw$kbVbFuLW6C0SIcAKy6DtERng2_Sds1OfX-G0MOENw2M',
    'scrypt$1024$8$1$I12azZYSCGKCJf3fGfIvlw',
    '',
  ]) {
    assert.equal(await verifyPassword('correct horse battery staple', bad, 1024), false, bad);
  }
});

test('scrypt memory is sized for any parameters, including p > N - 2', async () => {
  // 256·N·r (the old sizing) is below what scrypt needs here.
  const { scryptSync } = await import('node:crypto');
  const salt = Buffer.alloc(16, 7);
  const key = scryptSync('pw', salt, 32, { N: 4, r: 8, p: 16, maxmem: 128 * 8 * (4 + 16 + 2) });
  const stored = `scrypt$4$8$16$${salt.toString('base64url')}$${key.toString('base64url')}`;
  assert.equal(await verifyPassword('pw', stored, 1024), true);
});

test('the cost must be a power of two', async () => {
  assert.throws(() => new PasswordHasher(1000), /power of two, got 1000/);
  assert.throws(() => new PasswordHasher(1), /power of two/);
  assert.throws(() => assertScryptCost(1.5), /power of two/);
  assert.equal(assertScryptCost(1024), 1024);
  await assert.rejects(hashPassword('x', 3000), /power of two, got 3000/);
});

test('the default cost works despite Node’s 32 MiB scrypt memory default', async () => {
  const hasher = new PasswordHasher();
  assert.equal(hasher.cost, 2 ** 15);
  const stored = await hasher.hash('x');
  assert.match(stored, /^scrypt\$32768\$/);
  assert.equal(await hasher.verify('x', stored), true);
});

test('the functions take their default cost from BLOCKFLOW_SCRYPT_N', async () => {
  const saved = process.env.BLOCKFLOW_SCRYPT_N;
  try {
    process.env.BLOCKFLOW_SCRYPT_N = '2048';
    assert.match(await hashPassword('x'), /^scrypt\$2048\$/);
    await burnPasswordCheck('x');
  } finally {
    if (saved === undefined) delete process.env.BLOCKFLOW_SCRYPT_N;
    else process.env.BLOCKFLOW_SCRYPT_N = saved;
  }
});

test('generated passwords are 16 base64url characters and differ', () => {
  const a = generatePassword();
  assert.match(a, /^[\w-]{16}$/);
  assert.notEqual(a, generatePassword());
});
