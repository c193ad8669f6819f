/**
 * A scan of the source: every `join(...)` / `resolve(...)` from node:path whose arguments carry a value that may
 * come from a request, a project file or a database row (a uuid, a name, a partition, a file path, a variable)
 * must either go through the checked helpers (joinUnderRoot / resolveUnderRoot / the layout functions) or carry
 * a `path-checked:` comment on that line or the line above, saying why the value is safe there. A new module
 * that joins such a value into a path without either makes this test fail and names the line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));
/** The checked resolver itself, and support files of tests (they join names the test itself chose). */
const EXEMPT = (rel: string) => rel === 'project/paths.ts' || /(?:test-fixtures|testSupport|testPython)\.ts$/.test(rel);
/**
 * Identifiers that hold a value someone else may control: uuids, partitions, names, file paths, variables,
 * triggers, and request parts. Whole words, so a derived folder (`variablesDir`) or `dirname` is not one.
 */
const TAINTED = /\b\w*(?:[uU]uid|[pP]artition)s?\b|\bname\b|\.name\b|\b[a-z]\w*Name\b|\bfile_?[pP]ath\b|\b(?:variables?|trigger\w*|params|query|body|row)\b/;
const CALL = /(?<![\w.])(?:path\.|posix\.)?(join|resolve)\(/g;

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) sourceFiles(full, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

/** The text between the call's parentheses (balanced), or null when the file ends first. */
function argumentsOf(text: string, open: number): string | null {
  let depth = 0;
  for (let i = open; i < text.length; i += 1) {
    if (text[i] === '(') depth += 1;
    else if (text[i] === ')') {
      depth -= 1;
      if (depth === 0) return text.slice(open + 1, i);
    }
  }
  return null;
}

function importsNodePath(text: string): boolean {
  return /from 'node:path'/.test(text);
}

/** `file:line: code` for each join/resolve in `text` that takes an outside value without the checked helpers. */
function uncheckedJoins(text: string, rel: string): string[] {
  if (!importsNodePath(text)) return [];
  const offenders: string[] = [];
  const lines = text.split('\n');
  const lineStarts: number[] = [];
  let pos = 0;
  for (const l of lines) {
    lineStarts.push(pos);
    pos += l.length + 1;
  }
  const importsPathResolve = /import \{[^}]*\bresolve\b[^}]*\} from 'node:path'/.test(text);
  for (const m of text.matchAll(CALL)) {
    // A Promise's resolve(...) callback, not node:path's.
    if (m[1] === 'resolve' && !importsPathResolve) continue;
    const open = (m.index ?? 0) + m[0].length - 1;
    const args = argumentsOf(text, open);
    // Quoted literals are our own folder and file names, not values from outside.
    if (args === null || !TAINTED.test(args.replace(/'[^'\n]*'/g, "''"))) continue;
    const lineNo = lineStarts.findIndex((start, i) => start <= (m.index ?? 0) && (lineStarts[i + 1] ?? Infinity) > (m.index ?? 0));
    const here = lines[lineNo] ?? '';
    if (/path-checked:/.test(here) || /path-checked:/.test(lines[lineNo - 1] ?? '')) continue;
    offenders.push(`src/${rel}:${lineNo + 1}: ${here.trim()}`);
  }
  return offenders;
}

test('the scan flags a log path joined from a block uuid, as the engine once did, and accepts a justified one', () => {
  const bad = "import { join } from 'node:path';\nexport const p = (d: string, blockUuid: string) => join(d, '.logs', `${blockUuid}.log`);\n";
  assert.equal(uncheckedJoins(bad, 'x.ts').length, 1);
  const justified = "import { join } from 'node:path';\n// path-checked: a readdir entry\nexport const p = (d: string, e: { name: string }) => join(d, e.name);\n";
  assert.deepEqual(uncheckedJoins(justified, 'x.ts'), []);
  const literal = "import { join } from 'node:path';\nexport const p = (dir: string) => join(dir, 'variables.json');\n";
  assert.deepEqual(uncheckedJoins(literal, 'x.ts'), []);
});

test('every path joined from an outside value goes through the checked resolver or says why it is safe', () => {
  const offenders: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const rel = relative(SRC, file).split('\\').join('/');
    if (EXEMPT(rel)) continue;
    offenders.push(...uncheckedJoins(readFileSync(file, 'utf8'), rel));
  }
  assert.deepEqual(offenders, [], `paths joined from outside values without joinUnderRoot/resolveUnderRoot:\n${offenders.join('\n')}`);
});
