#!/usr/bin/env node
// Post-build step of `npm run build:ui`: writes `<file>.br` (brotli) and `<file>.gz` (gzip 9) beside every
// text asset of ui/dist, which @fastify/static serves by Accept-Encoding (`preCompressed: true`).
// Vite writes none itself (ui.md §6.3 trap 7). Prints the sizes of the largest files.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const dist = new URL('../dist/', import.meta.url).pathname;
const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|map|ttf|wasm)$/;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full);
    else if (COMPRESSIBLE.test(name)) files.push(full);
  }
})(dist);

let raw = 0, br = 0, gz = 0;
const rows = [];
for (const file of files) {
  const data = readFileSync(file);
  if (data.length < 1024) continue;
  // Quality 11 costs ~20 s on the multi-MB Monaco and ELK files (2 cores); 9 with a 16 MB window is ~10x faster
  // for a few percent more bytes there.
  const big = data.length > 512 * 1024;
  const b = brotliCompressSync(data, {
    params: { [constants.BROTLI_PARAM_QUALITY]: big ? 9 : 11, [constants.BROTLI_PARAM_LGWIN]: big ? 24 : 22, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  });
  const g = gzipSync(data, { level: 9 });
  writeFileSync(`${file}.br`, b);
  writeFileSync(`${file}.gz`, g);
  raw += data.length; br += b.length; gz += g.length;
  rows.push([relative(dist, file), data.length, g.length, b.length]);
}
const kb = (n) => `${(n / 1024).toFixed(0)} KB`.padStart(9);
rows.sort((a, b) => b[1] - a[1]);
console.log(`ui/dist: ${rows.length} files compressed`);
for (const [name, r, g, b] of rows.slice(0, 8)) console.log(`  ${name.padEnd(46)} ${kb(r)} raw ${kb(g)} gz ${kb(b)} br`);
console.log(`  ${'total'.padEnd(46)} ${kb(raw)} raw ${kb(gz)} gz ${kb(br)} br`);
