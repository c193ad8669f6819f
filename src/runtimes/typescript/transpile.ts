/**
 * Turning a TypeScript or JavaScript block file into an ES module the worker threads can import: oxc-transform
 * strips the types once per content, and import specifiers are rewritten to absolute file URLs so the module
 * works from the cache folder: `blockflow` -> this runtime's implementation, relative imports -> the original
 * files (relative TypeScript imports are transpiled the same way), bare packages -> the project's copy when it has
 * one, else ours. Output goes to `<dataDir>/.cache/ts/<hash>.mjs` with a source map beside it.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, extname, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transformSync } from 'oxc-transform';
import { SOURCE_KEY } from './stack.js';

/** Bumped when the transpiled output format changes, so old cache files are not reused. */
const OUTPUT_VERSION = '1';

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);

export interface TranspiledModule {
  /** URL the worker imports (the cache file, with the hash as a cache-busting query). */
  url: string;
  /** The cache file path. */
  cachePath: string;
  /** The original source file. */
  sourcePath: string;
  /** Files whose change makes this entry stale (the source and its transpiled relative imports), with mtimes. */
  dependencies: { path: string; mtimeMs: number; size: number }[];
}

export class TranspileError extends Error {
  override name = 'TranspileError';
}

/** Transpiles block files and remembers the result per file until the file (or a transpiled import) changes. */
export class BlockTranspiler {
  private readonly entries = new Map<string, TranspiledModule>();
  private readonly ownRequire = createRequire(import.meta.url);

  /**
   * @param cacheDir folder for transpiled files (`<dataDir>/.cache/ts`), created on first use.
   * @param blockflowUrl URL of the module that `import ... from 'blockflow'` resolves to.
   */
  constructor(
    private readonly cacheDir: string,
    private readonly blockflowUrl: string,
  ) {}

  /** The module for `filePath`: from memory when no dependency changed (one stat each), else transpiled again. */
  get(filePath: string): TranspiledModule {
    const cached = this.entries.get(filePath);
    if (cached && cached.dependencies.every((d) => sameFile(d.path, d.mtimeMs, d.size))) return cached;
    return this.build(filePath, new Set());
  }

  private build(filePath: string, visiting: Set<string>): TranspiledModule {
    visiting.add(filePath);
    let source: string;
    let stats;
    try {
      stats = statSync(filePath);
      source = readFileSync(filePath, 'utf8');
    } catch (error) {
      throw new TranspileError(`cannot read block file ${filePath}: ${(error as Error).message}`);
    }
    const ext = extname(filePath).toLowerCase();
    const lang = ext === '.tsx' ? 'tsx' : TS_EXTENSIONS.has(ext) ? 'ts' : ext === '.jsx' ? 'jsx' : 'js';
    const result = transformSync(filePath, source, { lang, sourceType: 'module', sourcemap: true, target: 'es2022' });
    const errors = result.errors.filter((e) => e.severity === 'Error');
    if (errors.length > 0) {
      throw new TranspileError(
        `${filePath}: ${errors.map((e) => e.codeframe ?? e.message).join('\n')}`,
      );
    }
    const dependencies: TranspiledModule['dependencies'] = [{ path: filePath, mtimeMs: stats.mtimeMs, size: stats.size }];
    const code = this.rewriteSpecifiers(result.code, filePath, (tsPath) => {
      if (visiting.has(tsPath)) {
        throw new TranspileError(`circular import between TypeScript files ${filePath} and ${tsPath} is not supported in blocks`);
      }
      const child = this.build(tsPath, visiting);
      dependencies.push(...child.dependencies);
      return child.url;
    });
    visiting.delete(filePath);
    const hash = createHash('sha256').update(OUTPUT_VERSION).update('\0').update(filePath).update('\0').update(code).digest('hex').slice(0, 24);
    const cachePath = join(this.cacheDir, `${hash}.mjs`);
    const mapPath = `${cachePath}.map`;
    if (!existsSync(cachePath)) {
      mkdirSync(this.cacheDir, { recursive: true });
      const map = result.map ? { ...result.map, sources: [filePath], file: `${hash}.mjs`, [SOURCE_KEY]: filePath } : null;
      if (map) writeAtomic(mapPath, JSON.stringify(map));
      writeAtomic(cachePath, `${code}\n//# sourceMappingURL=${hash}.mjs.map\n`);
    }
    const url = `${pathToFileURL(cachePath).href}?v=${hash}`;
    const entry: TranspiledModule = { url, cachePath, sourcePath: filePath, dependencies };
    this.entries.set(filePath, entry);
    return entry;
  }

  private rewriteSpecifiers(code: string, filePath: string, transpileImport: (tsPath: string) => string): string {
    const rewrite = (specifier: string): string => this.resolveSpecifier(specifier, filePath, transpileImport);
    return code
      .replace(STATIC_IMPORT, (_m, lead: string, head: string, quote: string, spec: string) => `${lead}${head}${quote}${rewrite(spec)}${quote}`)
      .replace(DYNAMIC_IMPORT, (_m, head: string, quote: string, spec: string) => `${head}${quote}${rewrite(spec)}${quote}`);
  }

  private resolveSpecifier(specifier: string, filePath: string, transpileImport: (tsPath: string) => string): string {
    if (specifier === 'blockflow') return this.blockflowUrl;
    if (specifier.startsWith('node:') || specifier.startsWith('data:') || specifier.startsWith('file:') || isBuiltin(specifier)) return specifier;
    if (specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/')) {
      const target = resolveRelative(resolvePath(dirname(filePath), specifier));
      if (target === null) return pathToFileURL(resolvePath(dirname(filePath), specifier)).href;
      return TS_EXTENSIONS.has(extname(target).toLowerCase()) ? transpileImport(target) : pathToFileURL(target).href;
    }
    try {
      return pathToFileURL(createRequire(filePath).resolve(specifier)).href;
    } catch {
      // Not installed in the project: offer the runtime's own copy (apache-arrow, for instance).
    }
    try {
      return import.meta.resolve(specifier);
    } catch {
      try {
        return pathToFileURL(this.ownRequire.resolve(specifier)).href;
      } catch {
        return specifier;
      }
    }
  }
}

/** `import x from '...'`, `import '...'`, `export ... from '...'` at the start of a statement. */
const STATIC_IMPORT = /(^|[;\n}]\s*)((?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?)(["'])([^"'\n]+)\3/gm;
/** `import('...')` with a literal specifier. */
const DYNAMIC_IMPORT = /(\bimport\s*\(\s*)(["'])([^"'\n]+)\2(?=\s*[,)])/g;

function resolveRelative(base: string): string | null {
  const candidates = [base];
  const ext = extname(base);
  if (ext === '.js' || ext === '.mjs' || ext === '.cjs') {
    const stem = base.slice(0, -ext.length);
    candidates.push(`${stem}${ext === '.js' ? '.ts' : ext === '.mjs' ? '.mts' : '.cts'}`, `${stem}.tsx`);
  } else if (ext === '') {
    candidates.push(`${base}.ts`, `${base}.tsx`, `${base}.js`, `${base}.mjs`, join(base, 'index.ts'), join(base, 'index.js'));
  }
  for (const candidate of candidates) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // try the next candidate
    }
  }
  return null;
}

function sameFile(path: string, mtimeMs: number, size: number): boolean {
  try {
    const s = statSync(path);
    return s.mtimeMs === mtimeMs && s.size === size;
  } catch {
    return false;
  }
}

function writeAtomic(path: string, content: string): void {
  const temp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(temp, content);
  renameSync(temp, path);
}
