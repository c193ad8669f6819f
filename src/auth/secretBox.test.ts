import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openAesGcm, SecretBox, sealAesGcm } from './secretBox.js';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
// Sealed under KEY by the server's SecretBox before the cipher core was shared.
const OLD_SEALED = 'v1:630dcd2966c4:7HGB-4fkhLnintgM:MjVHN4BKS9GQmn42D0BoiQ:QUyPFwJ9RPy-Du1z7g';

test('values sealed by the old server code still open', () => {
  const box = new SecretBox(KEY);
  assert.equal(box.keyId, '630dcd2966c4');
  assert.equal(box.open(OLD_SEALED), 's3cret välue');
});

test('the server format is v1:<key id>:<iv>:<tag>:<data> with a random IV per seal', () => {
  const box = new SecretBox(KEY);
  const a = box.seal('value');
  assert.match(a, /^v1:630dcd2966c4:[\w-]{16}:[\w-]{22}:[\w-]+$/);
  assert.notEqual(a, box.seal('value'));
  assert.equal(box.open(a), 'value');
  assert.equal(box.open(box.seal('')), '');
});

test('the server box rejects other formats, other keys and tampering', () => {
  const box = new SecretBox(KEY);
  assert.throws(() => box.open('enc:v1:a:b:c'), /Not a sealed secret value/);
  assert.throws(() => new SecretBox(randomBytes(32)).open(OLD_SEALED), /sealed with key 630dcd2966c4/);
  const parts = OLD_SEALED.split(':');
  parts[4] = parts[4].startsWith('A') ? 'B' + parts[4].slice(1) : 'A' + parts[4].slice(1);
  assert.throws(() => box.open(parts.join(':')), /authenticate/);
  assert.throws(() => new SecretBox(randomBytes(16)), /32 bytes/);
});

test('SecretBox.load uses BLOCKFLOW_SECRET_KEY, else a 0600 key file in the key folder that is reused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bf-secretbox-'));
  try {
    assert.equal(SecretBox.load(dir, { BLOCKFLOW_SECRET_KEY: KEY.toString('base64') }).open(OLD_SEALED), 's3cret välue');
    const first = SecretBox.load(dir, {});
    const file = join(dir, 'key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(file, 'utf8'), 'base64').length, 32);
    assert.equal(SecretBox.load(dir, {}).open(first.seal('kept')), 'kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the AES-256-GCM core authenticates the additional data', () => {
  const sealed = sealAesGcm(KEY, 'plain', 'ctx-a');
  assert.equal(Buffer.from(sealed.iv, 'base64url').length, 12);
  assert.equal(Buffer.from(sealed.tag, 'base64url').length, 16);
  assert.equal(openAesGcm(KEY, sealed, 'ctx-a'), 'plain');
  assert.throws(() => openAesGcm(KEY, sealed, 'ctx-b'), /authenticate/);
  assert.throws(() => openAesGcm(KEY, sealed), /authenticate/);
  assert.equal(openAesGcm(KEY, sealAesGcm(KEY, 'no aad')), 'no aad');
  assert.throws(() => openAesGcm(randomBytes(32), sealed, 'ctx-a'), /authenticate/);
});

test('the core rejects bad keys and truncated tags or IVs with a clear error', () => {
  const sealed = sealAesGcm(KEY, 'plain');
  assert.throws(() => sealAesGcm(randomBytes(31), 'x'), /must be 32 bytes, got 31/);
  assert.throws(() => openAesGcm(KEY, { ...sealed, tag: sealed.tag.slice(0, 6) }), /16-byte tag/);
  assert.throws(() => openAesGcm(KEY, { ...sealed, iv: '' }), /12-byte IV/);
});
