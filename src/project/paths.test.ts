import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertUnderRoot, PathRefusedError, resolveUnderRoot } from './paths.js';
import { tempDir } from './testSupport.js';

function refused(root: string, p: string, reason: string): void {
  assert.throws(
    () => resolveUnderRoot(root, p),
    (err: unknown) => err instanceof PathRefusedError && err.reason === reason && err.message.length > 0,
    `expected ${JSON.stringify(p)} to be refused with ${reason}`,
  );
}

test('resolveUnderRoot gives an absolute path under the real root for plain names', () => {
  const t = tempDir();
  try {
    const real = realpathSync(t.root);
    assert.equal(resolveUnderRoot(t.root, 'data_loaders/load.py'), join(real, 'data_loaders', 'load.py'));
    assert.equal(resolveUnderRoot(t.root, './a//b/./c.sql'), join(real, 'a', 'b', 'c.sql'));
    // Percent sequences are kept literally when they decode to something harmless.
    assert.equal(resolveUnderRoot(t.root, 'files/100%25.txt'), join(real, 'files', '100%25.txt'));
  } finally {
    t.cleanup();
  }
});

test('resolveUnderRoot refuses .. segments, also percent-encoded once or several times', () => {
  const t = tempDir();
  try {
    for (const p of ['..', '../etc/passwd', 'a/../../b', 'a/..', '%2e%2e%2fetc', '..%2Fetc', '%2E%2E/x', '%252e%252e%252fetc', 'a/%25252e%25252e/b', '. ./x/..']) {
      refused(t.root, p, 'traversal');
    }
  } finally {
    t.cleanup();
  }
});

test('resolveUnderRoot refuses backslash traversal', () => {
  const t = tempDir();
  try {
    refused(t.root, '..\\..\\etc\\passwd', 'traversal');
    refused(t.root, 'a\\..\\..\\b', 'traversal');
    refused(t.root, 'a%5c..%5c..%5cetc', 'traversal');
  } finally {
    t.cleanup();
  }
});

test('resolveUnderRoot refuses absolute paths', () => {
  const t = tempDir();
  try {
    refused(t.root, '/etc/passwd', 'absolute');
    refused(t.root, '%2Fetc%2Fpasswd', 'absolute');
    refused(t.root, '\\\\server\\share', 'absolute');
    refused(t.root, 'C:\\Windows', 'absolute');
  } finally {
    t.cleanup();
  }
});

test('resolveUnderRoot refuses NUL bytes, raw or encoded', () => {
  const t = tempDir();
  try {
    refused(t.root, 'a\0b', 'nul_byte');
    refused(t.root, 'a%00.py', 'nul_byte');
    refused(t.root, 'a%2500.py', 'nul_byte');
  } finally {
    t.cleanup();
  }
});

test('resolveUnderRoot refuses empty names', () => {
  const t = tempDir();
  try {
    refused(t.root, '', 'empty');
    refused(t.root, './', 'empty');
  } finally {
    t.cleanup();
  }
});

test('resolveUnderRoot refuses symlinks that leave the root, and allows ones that stay inside', () => {
  const outside = tempDir();
  const t = tempDir();
  try {
    writeFileSync(join(outside.root, 'secret.txt'), 'x');
    symlinkSync(outside.root, join(t.root, 'escape'));
    symlinkSync(join(outside.root, 'secret.txt'), join(t.root, 'secret_link.txt'));
    symlinkSync(join(outside.root, 'nothing_yet'), join(t.root, 'dangling'));
    refused(t.root, 'escape/secret.txt', 'outside_root');
    refused(t.root, 'escape/new/file.py', 'outside_root');
    refused(t.root, 'secret_link.txt', 'outside_root');
    refused(t.root, 'dangling/x', 'outside_root');

    mkdirSync(join(t.root, 'real_dir'));
    symlinkSync(join(t.root, 'real_dir'), join(t.root, 'inside_link'));
    assert.equal(resolveUnderRoot(t.root, 'inside_link/a.py'), join(realpathSync(t.root), 'inside_link', 'a.py'));
  } finally {
    t.cleanup();
    outside.cleanup();
  }
});

test('resolveUnderRoot works when the root itself is reached through a symlink', () => {
  const t = tempDir();
  try {
    mkdirSync(join(t.root, 'project'));
    symlinkSync(join(t.root, 'project'), join(t.root, 'alias'));
    const resolved = resolveUnderRoot(join(t.root, 'alias'), 'pipelines/x/metadata.yaml');
    assert.equal(resolved, join(realpathSync(join(t.root, 'project')), 'pipelines', 'x', 'metadata.yaml'));
  } finally {
    t.cleanup();
  }
});

test('assertUnderRoot accepts paths inside and refuses paths outside or relative', () => {
  const outside = tempDir();
  const t = tempDir();
  try {
    assertUnderRoot(t.root, join(t.root, 'a', 'b'));
    assert.throws(() => assertUnderRoot(t.root, outside.root), PathRefusedError);
    assert.throws(() => assertUnderRoot(t.root, join(t.root, '..')), PathRefusedError);
    assert.throws(() => assertUnderRoot(t.root, 'relative/path'), PathRefusedError);
    symlinkSync(outside.root, join(t.root, 'out'));
    assert.throws(() => assertUnderRoot(t.root, join(t.root, 'out', 'f')), PathRefusedError);
  } finally {
    t.cleanup();
    outside.cleanup();
  }
});
