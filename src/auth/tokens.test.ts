import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashToken, newRawToken, sameDigest, signJwt, verifyJwt } from './tokens.js';

test('raw tokens are 256 random bits in base64url', () => {
  const a = newRawToken();
  assert.match(a, /^[\w-]{43}$/);
  assert.equal(Buffer.from(a, 'base64url').length, 32);
  assert.notEqual(a, newRawToken());
});

test('stored token hashes are SHA-256 hex, as the server and the old cloud code both stored them', () => {
  // Value produced before the merge by src/auth hashToken and src/cloud/tokens.ts sha256Hex alike.
  assert.equal(hashToken('raw-token-value'), '43a2860580227e27192a056eec8cceabf9c499d5c20c755f4b75434330253de4');
});

test('sameDigest compares hex digests and rejects empty or different ones', () => {
  const d = hashToken('x');
  assert.equal(sameDigest(d, hashToken('x')), true);
  assert.equal(sameDigest(d, hashToken('y')), false);
  assert.equal(sameDigest('', ''), false);
  assert.equal(sameDigest(d, d.slice(0, 10)), false);
});

test('JWTs verify with their secret only', () => {
  const jwt = signJwt({ token: 'abc', expires: 1 }, 'secret');
  assert.deepEqual(verifyJwt(jwt, 'secret'), { token: 'abc', expires: 1 });
  assert.equal(verifyJwt(jwt, 'other'), null);
  assert.equal(verifyJwt('a.b', 'secret'), null);
});
