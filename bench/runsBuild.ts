/**
 * A throw-away JavaScript build of src/ for the /api/runs benchmark, so the server is measured as it runs in
 * production (compiled, no tsx loader hooks: under tsx every dynamic import in a TypeScript block worker
 * goes through the hooks thread). Each file is transpiled on its own with TypeScript's transpileModule (no
 * type check, so other modules' in-progress type errors do not stop it), into `<dir>/dist` with the same layout
 * as `npm run build`; `python/` and `node_modules/` are linked beside it.
 */
import { mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const REPO = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) sources(full, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Builds and returns the folder whose `dist/` mirrors `src/`. */
export function buildForBench(): string {
  const root = mkdtempSync(join(tmpdir(), 'blockflow-bench-build-'));
  const src = join(REPO, 'src');
  for (const file of sources(src)) {
    const output = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false, verbatimModuleSyntax: false, isolatedModules: true },
    });
    const target = join(root, 'dist', relative(src, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, output.outputText);
  }
  writeFileSync(join(root, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  symlinkSync(join(REPO, 'python'), join(root, 'python'));
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'));
  return root;
}
