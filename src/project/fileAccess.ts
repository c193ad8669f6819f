/**
 * What the file APIs (file_contents, and a block's file read or written through the blocks API) may touch
 * inside the project folder. resolveUnderRoot keeps requests inside the project; this module keeps them out of
 * what lives there but is not project code:
 * - the data folder, when it lies inside the project (outputs, logs, the SQLite database, the managed venv, and
 *   keys of older versions; the variables and logs APIs serve what of it is meant to be seen), and any other
 *   folder or file the server registers as protected (`Project.protectedPaths`: the database file, the venv);
 * - anything a gitignore-style pattern names: the built-in DEFAULT_DENY list, the project's `.blockflowignore`
 *   file, and `BLOCKFLOW_FILE_DENY` (patterns separated by commas or newlines).
 * Patterns follow .gitignore: `*`, `?`, `**`, `[...]`, a leading `/` anchors to the project folder, a
 * trailing `/` names folders; a pattern without `/` matches a name at any depth. Matching ignores case, so a
 * case-insensitive filesystem cannot be used to slip past a pattern. Negation (`!pattern`) is not supported:
 * the lists only add, so a project file can never re-open what the defaults close.
 * Both the path as asked for and the path its symlinks lead to are checked.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { realpathLoose } from './paths.js';
import type { Project } from './projectConfig.js';

/** The project file holding extra deny patterns. It can be read but not written through the file APIs. */
export const DENY_FILE = '.blockflowignore';

/** Denied everywhere in the project, whatever the project says. */
export const DEFAULT_DENY: readonly string[] = [
  '.git/',
  '.secrets/',
  '.venv/',
  '.variables/',
  '.logs/',
  '*.db',
  '*.db-wal',
  '*.db-shm',
  '*.db-journal',
  '*.sqlite',
  '*.sqlite3',
  '*.sqlite-wal',
  '*.sqlite-shm',
  '.env',
  '.env.*',
  '.ssh/',
  '.netrc',
  '.pgpass',
  '.git-credentials',
  '*.pem',
  '*.key',
  'id_rsa*',
  'id_ecdsa*',
  'id_ed25519*',
];

/** A path the file APIs refuse; `relPath` is the project-relative path asked for. */
export class FileAccessDeniedError extends Error {
  constructor(
    readonly relPath: string,
    message: string,
  ) {
    super(message);
    this.name = 'FileAccessDeniedError';
  }
}

interface CompiledPattern {
  source: string;
  regex: RegExp;
  dirOnly: boolean;
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` any folders (also none), `/**` everything below, a lone `**` anything.
        if (glob[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) {
        out += '\\[';
      } else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        out += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else {
      out += c.replace(/[.+^${}()|\\]/g, '\\$&');
    }
  }
  return out;
}

/** Compiles one gitignore line; null for blanks, comments and (unsupported) negations. */
export function compilePattern(line: string): CompiledPattern | null {
  let p = line.replace(/\r$/, '').replace(/(?<!\\)\s+$/, '');
  if (p === '' || p.startsWith('#') || p.startsWith('!')) return null;
  const dirOnly = p.endsWith('/');
  if (dirOnly) p = p.replace(/\/+$/, '');
  if (p === '') return null;
  const anchored = p.includes('/');
  p = p.replace(/^\/+/, '');
  const body = globToRegex(p);
  return { source: line.trim(), regex: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`, 'i'), dirOnly };
}

/**
 * The first pattern that names `relPath` (project-relative, `/`-separated) or one of its parent folders;
 * `isDir` tells whether relPath itself is a folder (for patterns ending in `/`).
 */
export function matchDenyPattern(patterns: readonly CompiledPattern[], relPath: string, isDir: boolean): CompiledPattern | null {
  const parts = relPath.split('/').filter((s) => s !== '');
  for (let n = parts.length; n >= 1; n -= 1) {
    const candidate = parts.slice(0, n).join('/');
    const candidateIsDir = n < parts.length || isDir;
    for (const p of patterns) {
      if (p.dirOnly && !candidateIsDir) continue;
      if (p.regex.test(candidate)) return p;
    }
  }
  return null;
}

const compiledDefaults = DEFAULT_DENY.map(compilePattern).filter((p): p is CompiledPattern => p !== null);

/** `.blockflowignore` compiled once per version of the file (mtime and size). */
const denyFileCache = new Map<string, { stamp: string; patterns: CompiledPattern[] }>();

function projectPatterns(root: string): CompiledPattern[] {
  const file = join(root, DENY_FILE);
  let stamp: string;
  try {
    const info = statSync(file);
    stamp = `${info.mtimeMs}:${info.size}`;
  } catch {
    denyFileCache.delete(root);
    return [];
  }
  const cached = denyFileCache.get(root);
  if (cached && cached.stamp === stamp) return cached.patterns;
  const patterns = readFileSync(file, 'utf8').split('\n').map(compilePattern).filter((p): p is CompiledPattern => p !== null);
  denyFileCache.set(root, { stamp, patterns });
  return patterns;
}

function envPatterns(env: NodeJS.ProcessEnv): CompiledPattern[] {
  const raw = env.BLOCKFLOW_FILE_DENY;
  if (!raw) return [];
  return raw.split(/[,\n]/).map(compilePattern).filter((p): p is CompiledPattern => p !== null);
}

function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/** Folders and files inside the project that the file APIs never serve (the data folder and registered paths). */
function protectedRoots(project: Project): string[] {
  return [project.dataDir, ...(project.protectedPaths ?? [])].map(realpathLoose);
}

export type FileAccessMode = 'read' | 'write';

/**
 * Throws FileAccessDeniedError when `absPath` (already resolved under the project root by resolveUnderRoot)
 * is one the file APIs must not `mode`. `env` supplies BLOCKFLOW_FILE_DENY (default process.env).
 */
export function assertFileAccess(project: Project, absPath: string, mode: FileAccessMode, env: NodeJS.ProcessEnv = process.env): void {
  const asked = relative(project.root, absPath).split(sep).join('/');
  const real = realpathLoose(absPath);
  for (const root of protectedRoots(project)) {
    if (isInside(root, absPath) || isInside(root, real)) {
      const what = root === realpathLoose(project.dataDir) ? 'the data folder (outputs, logs, database, venv)' : 'a folder the server keeps for itself';
      throw new FileAccessDeniedError(asked, `${asked} is inside ${what}; the file API does not serve it. Use the variables, logs or secrets APIs.`);
    }
  }
  const patterns = [...compiledDefaults, ...envPatterns(env), ...projectPatterns(project.root)];
  const isDir = existsSync(real) && statSync(real).isDirectory();
  for (const rel of new Set([asked, isInside(project.root, real) ? relative(project.root, real).split(sep).join('/') : asked])) {
    const hit = matchDenyPattern(patterns, rel, isDir);
    if (hit) {
      throw new FileAccessDeniedError(asked, `${asked} is refused by the file API's deny list (pattern ${JSON.stringify(hit.source)}).`);
    }
  }
  if (mode === 'write' && asked.toLowerCase() === DENY_FILE) {
    throw new FileAccessDeniedError(asked, `${DENY_FILE} holds the file API's deny list; change it on disk or through git, not through the API.`);
  }
}
