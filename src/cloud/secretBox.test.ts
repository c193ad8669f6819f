import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadMasterKey, SecretBox } from './secretBox.js';

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
    assert.throws(() => loadMasterKey('c2hvcnQ=', file), /32 bytes/);
    assert.ok(readFileSync(file, 'utf8').trim().length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sealed values are AES-256-GCM: random IV per seal, tampering is detected', () => {
  const box = new SecretBox(randomBytes(32));
  const a = box.seal('value', 'ctx');
  assert.notEqual(a, box.seal('value', 'ctx'));
  assert.equal(box.open(a, 'ctx'), 'value');
  const tampered = a.slice(0, -2) + (a.endsWith('A') ? 'BB' : 'AA');
  assert.throws(() => box.open(tampered, 'ctx'));
  assert.throws(() => new SecretBox(randomBytes(31).subarray(0)).seal('x', 'y'));
});

test('template digests are keyed: another master key gives another digest', () => {
  assert.notEqual(new SecretBox(randomBytes(32)).digest('same'), new SecretBox(randomBytes(32)).digest('same'));
});
