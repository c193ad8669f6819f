import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePattern, matchDenyPattern } from './fileAccess.js';

const compile = (...lines: string[]) => lines.map(compilePattern).filter((p) => p !== null);
const hit = (patterns: ReturnType<typeof compile>, path: string, isDir = false) => matchDenyPattern(patterns, path, isDir)?.source ?? null;

test('gitignore patterns: a name without "/" matches at any depth, a leading "/" anchors, a trailing "/" names folders', () => {
  const p = compile('.env', '/top.txt', 'build/', 'docs/*.secret', '**/private/**', 'key?.pem', 'data[0-9].csv');
  assert.equal(hit(p, '.env'), '.env');
  assert.equal(hit(p, 'deep/down/.env'), '.env');
  assert.equal(hit(p, '.envrc'), null);
  assert.equal(hit(p, 'top.txt'), '/top.txt');
  assert.equal(hit(p, 'sub/top.txt'), null);
  assert.equal(hit(p, 'build/out.js'), 'build/');
  assert.equal(hit(p, 'x/build/out.js'), 'build/');
  assert.equal(hit(p, 'build'), null, 'a file named build is not the folder build/');
  assert.equal(hit(p, 'build', true), 'build/');
  assert.equal(hit(p, 'docs/a.secret'), 'docs/*.secret');
  assert.equal(hit(p, 'docs/x/a.secret'), null);
  assert.equal(hit(p, 'a/private/b/c.txt'), '**/private/**');
  assert.equal(hit(p, 'key1.pem'), 'key?.pem');
  assert.equal(hit(p, 'data7.csv'), 'data[0-9].csv');
  assert.equal(hit(p, 'datax.csv'), null);
});

test('comments, blanks and negations add nothing; matching ignores case', () => {
  assert.equal(compilePattern('# a comment'), null);
  assert.equal(compilePattern('   '), null);
  assert.equal(compilePattern('!keep.txt'), null);
  assert.equal(hit(compile('.git/'), '.GIT/config'), '.git/');
  assert.equal(hit(compile('*.db'), 'mage_data/MAGE-AI.DB'), '*.db');
});
