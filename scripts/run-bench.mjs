#!/usr/bin/env node
// `npm run bench`: runs every `bench:<name>` script of package.json in turn (or only those named as
// arguments: `npm run bench -- runs engine`). Each prints its own table with in-run baselines.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const scripts = Object.keys(JSON.parse(readFileSync(`${root}package.json`, 'utf8')).scripts ?? {}).filter((s) => s.startsWith('bench:'));
const wanted = process.argv.slice(2);
const selected = scripts.filter((s) => wanted.length === 0 || wanted.includes(s.slice('bench:'.length)));
if (selected.length === 0) {
  console.error(`no benchmark matched; available: ${scripts.map((s) => s.slice(6)).join(', ') || '(none)'}`);
  process.exit(1);
}
let failed = 0;
for (const script of selected) {
  console.log(`\n=== ${script} ===`);
  const result = spawnSync('npm', ['run', '--silent', script], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
