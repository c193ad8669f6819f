import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadMasterKey, SecretBox } from './secretBox.js';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
// Made under KEY by the cloud SecretBox before it used src/auth's cipher core: stored cluster configs hold these.
const OLD_SEALED = 'enc:v1:sQqXAFmh8K5revAt:cHnZhRLliFSQFjN9VKgc1Q:qeusH_6jRmlAVhUDQrh1_KALoQ';
const OLD_DIGEST = '3f452a7d50d08623';

test('the master key comes from the env value, else from a generated 0600 key file that is reused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bf-key-'));
  try {
    const file = join(dir, 'sub', 'master.key');
    const generated = loadMasterKey(undefined, file);
    assert.equal(generated.length, 32);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(loadMasterKey(undefined, file), generated);
    const hex = randomBytes(32).toString('hex');
    assert.equal(loadMasterKey(hex, file).toString('hex'), hex);
    assert.deepEqual(loadMasterKey(KEY.toString('base64'), file), KEY);
    assert.throws(() => loadMasterKey('c2hvcnQ=', file), /32 bytes/);
    assert.ok(readFileSync(file, 'utf8').trim().length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('values sealed and digests made by the old cloud code still open and match', () => {
  const box = new SecretBox(KEY);
  assert.equal(box.open(OLD_SEALED, 'cluster-42'), 'postgres://u:p@h/db');
  assert.throws(() => box.open(OLD_SEALED, 'cluster-43'), /authenticate/);
  assert.equal(box.digest('pod template text'), OLD_DIGEST);
});

test('sealed values are AES-256-GCM: random IV per seal, tampering is detected', () => {
  const box = new SecretBox(randomBytes(32));
  const a = box.seal('value', 'ctx');
  assert.match(a, /^enc:v1:[\w-]{16}:[\w-]{22}:[\w-]+$/);
  assert.notEqual(a, box.seal('value', 'ctx'));
  assert.equal(box.open(a, 'ctx'), 'value');
  const tampered = a.slice(0, -2) + (a.endsWith('A') ? 'BB' : 'AA');
  assert.throws(() => box.open(tampered, 'ctx'));
  assert.throws(() => new SecretBox(randomBytes(31).subarray(0)).seal('x', 'y'));
});

test('the context is authenticated, and non-sealed or malformed values are refused', () => {
  const box = new SecretBox(KEY);
  const sealed = box.seal('value', 'cluster-1');
  assert.throws(() => box.open(sealed, 'cluster-2'), /authenticate/);
  assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'cluster-1'), /authenticate/);
  assert.throws(() => box.open('plain text', 'cluster-1'), /not an encrypted value/);
  assert.throws(() => box.open('enc:v1:abc', 'cluster-1'), /malformed encrypted value/);
  assert.equal(SecretBox.isSealed(sealed), true);
  assert.equal(SecretBox.isSealed('plain'), false);
  assert.equal(SecretBox.isSealed(42), false);
});

test('template digests are keyed: another master key gives another digest', () => {
  assert.notEqual(new SecretBox(randomBytes(32)).digest('same'), new SecretBox(randomBytes(32)).digest('same'));
  assert.match(new SecretBox(KEY).digest('x'), /^[0-9a-f]{16}$/);
});
