import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, PYTHON } from './testSupport.js';
import { parseYaml, pyyamlDump, readYamlFile, writeFileAtomic, writeYamlFileAtomic, YamlParseError, YamlTimestamp } from './yamlFiles.js';

/** PyYAML's own output for each JSON document, through real Python. */
function pythonDump(values: unknown[]): string[] {
  const script = 'import sys, json, yaml\nprint(json.dumps([yaml.dump(v) for v in json.load(sys.stdin)]))';
  const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(values), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

const SAMPLES: unknown[] = [
  { b: 1, a: [1, 2, { z: null, y: true }], c: {} , d: [] },
  { quoted: ['yes', 'No', 'null', '~', '', '1.0', '12', '0x1F', '2024-01-01', '2024-09-27 23:18:10.554952+00:00', '=', '<<', '.inf', '1_000', '07', '09'] },
  { specials: ['- x', 'x: y', '#c', 'a #b', '@at', '%p', '? q', '---x', '...y', 'a,b', '[x]', '{y}', '!t', '&a', '*b', '|', '>', "it's", '"q"'] },
  { unicode: ['café', '😀', 'Loads → out', 'tab\there', 'line1\nline2', 'trail ', ' lead'] },
  { long: 'word '.repeat(40), longer: Array.from({ length: 15 }, (_, i) => `verylongword${i}`).join(' '), esc: `${'é'.repeat(30)} ${'a b'.repeat(30)}` },
  { ['k'.repeat(130)]: 1, '': 'empty key', 'multi\nline': 2 },
  { floats: [0.5, 1.5e-7, 3.14159, -2.5, 123456.789, 1e-5, 0.0001], ints: [0, -1, 10 ** 12], nested: [[['deep']]] },
  [{ a: 1 }, 'x', [], {}],
  'plain root',
  {},
];

test('pyyamlDump writes exactly what PyYAML yaml.dump writes', () => {
  const expected = pythonDump(SAMPLES);
  SAMPLES.forEach((v, i) => assert.equal(pyyamlDump(v), expected[i], `sample ${i}`));
});

test('pyyamlDump writes Dates and YamlTimestamps as plain YAML timestamps', () => {
  assert.equal(pyyamlDump({ t: new YamlTimestamp('2023-01-01 00:00:00') }), 't: 2023-01-01 00:00:00\n');
  assert.equal(pyyamlDump({ t: new Date(Date.UTC(2023, 0, 2, 3, 4, 5, 6)) }), 't: 2023-01-02 03:04:05.006000+00:00\n');
  assert.equal(pyyamlDump({ t: '2023-01-01 00:00:00' }), "t: '2023-01-01 00:00:00'\n");
});

test('parseYaml reads YAML 1.1 as PyYAML does and keeps timestamps as text', () => {
  const v = parseYaml('a: yes\nb: off\nc: y\nd: 2023-01-01 00:00:00\ne: ~\nf: 010\nbase: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n') as Record<string, unknown>;
  assert.equal(v.a, true);
  assert.equal(v.b, false);
  assert.equal(v.c, 'y');
  assert.equal(v.d, '2023-01-01 00:00:00');
  assert.equal(v.e, null);
  assert.equal(v.f, 8);
  assert.deepEqual(v.m, { x: 1, y: 2 });
  assert.equal(parseYaml(''), null);
  assert.throws(() => parseYaml('a: [1, 2', 'broken.yaml'), (e: unknown) => e instanceof YamlParseError && /broken\.yaml/.test((e as Error).message));
});

test('writeFileAtomic replaces the file and leaves no temp files', () => {
  const t = tempDir();
  try {
    const path = join(t.root, 'metadata.yaml');
    writeFileSync(path, 'old: 1\n');
    for (let i = 0; i < 5; i += 1) writeFileAtomic(path, `n: ${i}\n`);
    assert.equal(readFileSync(path, 'utf8'), 'n: 4\n');
    writeYamlFileAtomic(path, { b: [1], a: 'x' });
    assert.equal(readFileSync(path, 'utf8'), 'a: x\nb:\n- 1\n');
    assert.deepEqual(readYamlFile(path), { a: 'x', b: [1] });
    assert.deepEqual(readdirSync(t.root), ['metadata.yaml']);
  } finally {
    t.cleanup();
  }
});

test('writeFileAtomic leaves the old file and no temp file when the write fails', () => {
  const t = tempDir();
  try {
    const path = join(t.root, 'a.yaml');
    writeFileSync(path, 'keep: me\n');
    assert.throws(() => writeFileAtomic(join(t.root, 'missing_dir', 'b.yaml'), 'x'));
    assert.throws(() => writeYamlFileAtomic(path, { f: () => 1 }), TypeError);
    assert.equal(readFileSync(path, 'utf8'), 'keep: me\n');
    assert.deepEqual(readdirSync(t.root), ['a.yaml']);
    assert.equal(existsSync(join(t.root, 'missing_dir')), false);
  } finally {
    t.cleanup();
  }
});
