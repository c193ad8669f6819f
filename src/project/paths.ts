/**
 * The one place where a user-given name (API path parameter, block file_path, pipeline uuid...) becomes a
 * filesystem path. Everything that touches the project folder with a name it did not invent goes through
 * resolveUnderRoot, so traversal rules live in one function.
 */
import { existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** A user-given path was refused; `reason` is a short machine-readable cause. */
export class PathRefusedError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'PathRefusedError';
    this.reason = reason;
  }
}

/** How many nested percent-encodings are unwrapped when looking for hidden `..`, NUL or absolute paths. */
const MAX_DECODE_ROUNDS = 8;

/**
 * Every form the name takes when percent-decoded again and again (`%252e` -> `%2e` -> `.`), the name itself
 * first. Decoding stops at the first malformed sequence, since such a sequence cannot decode any further.
 */
function decodingStages(input: string): string[] {
  const stages = [input];
  let current = input;
  for (let i = 0; i < MAX_DECODE_ROUNDS; i += 1) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      // A lone `%` is not an encoding; decode the well-formed sequences around it.
      next = current.replace(/%[0-9a-fA-F]{2}/g, (m) => String.fromCharCode(parseInt(m.slice(1), 16)));
    }
    if (next === current) break;
    stages.push(next);
    current = next;
  }
  return stages;
}

function refuseForm(form: string, userPath: string): void {
  const shown = JSON.stringify(userPath);
  if (form.includes('\0')) {
    throw new PathRefusedError('nul_byte', `Path ${shown} contains a NUL byte.`);
  }
  const slashed = form.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed) || isAbsolute(form)) {
    throw new PathRefusedError('absolute', `Path ${shown} is absolute; give a path relative to the project.`);
  }
  if (slashed.split('/').some((segment) => segment.trim() === '..')) {
    const how = form.includes('\\') ? ' (backslashes count as separators)' : '';
    throw new PathRefusedError('traversal', `Path ${shown} contains a ".." segment${how}.`);
  }
}

function isInside(parent: string, child: string): boolean {
  if (child === parent) return true;
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}

/** How many dangling symlinks are followed before giving up (a loop of links). */
const MAX_LINK_HOPS = 40;

function realRoot(root: string): string {
  if (!existsSync(root)) {
    throw new PathRefusedError('root_missing', `Project root ${root} does not exist.`);
  }
  return realpathSync(root);
}

/**
 * Throws PathRefusedError unless `absPath`, once symlinks are followed (through its deepest existing
 * ancestor when it does not exist yet), lies inside realpath(root).
 */
export function assertUnderRoot(root: string, absPath: string): void {
  if (!isAbsolute(absPath)) {
    throw new PathRefusedError('not_absolute', `Path ${JSON.stringify(absPath)} is not absolute.`);
  }
  if (absPath.includes('\0')) {
    throw new PathRefusedError('nul_byte', `Path ${JSON.stringify(absPath)} contains a NUL byte.`);
  }
  const rootReal = realRoot(root);
  const real = realpathLoose(absPath);
  if (!isInside(rootReal, real)) {
    throw new PathRefusedError(
      'outside_root',
      `Path ${JSON.stringify(absPath)} resolves to ${real}, outside the project folder.`,
    );
  }
}

/**
 * Turns a user-given relative name into an absolute path under realpath(root).
 *
 * The name is used as given (callers decode URL encoding once, as the HTTP layer does); percent sequences
 * left in it are kept literally in the result, but the name is refused when any repeated percent-decoding of
 * it contains a `..` segment, a NUL byte, or an absolute path. Backslashes count as separators. Symlinks may
 * not lead out of the root. Refusals throw PathRefusedError.
 */
export function resolveUnderRoot(root: string, userPath: string): string {
  if (typeof userPath !== 'string' || userPath.trim() === '') {
    throw new PathRefusedError('empty', 'Path is empty.');
  }
  for (const form of decodingStages(userPath)) refuseForm(form, userPath);
  const segments = userPath
    .replace(/\\/g, '/')
    .split('/')
    .filter((s) => s !== '' && s !== '.');
  if (segments.length === 0) {
    throw new PathRefusedError('empty', `Path ${JSON.stringify(userPath)} names the project folder itself.`);
  }
  const rootReal = realRoot(root);
  const target = join(rootReal, ...segments);
  if (!isInside(rootReal, target)) {
    throw new PathRefusedError('outside_root', `Path ${JSON.stringify(userPath)} leaves the project folder.`);
  }
  assertUnderRoot(rootReal, target);
  return target;
}

/**
 * Longest single path segment in bytes. Linux filesystems allow 255; atomic writes and output folders add a
 * `.<name>.tmp-<12 hex>` style prefix and suffix of up to 28 bytes, so names are held to what still fits then.
 */
export const MAX_SEGMENT_BYTES = 255 - 28;

/**
 * Throws PathRefusedError unless `value` is a name made of plain path segments: not empty, no `.` or `..`
 * segment, no backslash, no NUL, not absolute, each segment at most MAX_SEGMENT_BYTES. With `single`, a `/` is
 * refused too. `kind` names the value in the message (e.g. "block uuid").
 */
export function checkPathName(kind: string, value: unknown, options: { single?: boolean } = {}): string {
  const shown = JSON.stringify(value);
  if (typeof value !== 'string' || value === '') {
    throw new PathRefusedError('empty', `The ${kind} ${shown} is empty or not a string.`);
  }
  if (value.includes('\0')) throw new PathRefusedError('nul_byte', `The ${kind} ${shown} contains a NUL byte.`);
  if (value.includes('\\')) throw new PathRefusedError('backslash', `The ${kind} ${shown} contains a backslash.`);
  if (value.startsWith('/') || isAbsolute(value)) throw new PathRefusedError('absolute', `The ${kind} ${shown} is an absolute path.`);
  const segments = value.split('/');
  if (options.single && segments.length > 1) {
    throw new PathRefusedError('separator', `The ${kind} ${shown} contains a "/"; it must be a single name.`);
  }
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new PathRefusedError('traversal', `The ${kind} ${shown} has an empty, "." or ".." path segment.`);
    }
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      throw new PathRefusedError('too_long', `The ${kind} ${shown} is longer than ${MAX_SEGMENT_BYTES} bytes (UTF-8) in one path segment.`);
    }
  }
  return value;
}

/** One untrusted part of a path for joinUnderRoot: its kind (for messages), its value, and whether `/` is allowed. */
export interface PathPart {
  kind: string;
  value: string;
  /** A `/` in the value makes sub-folders (partitions, Mage's nested block uuids); default false. */
  nested?: boolean;
}

/**
 * The checked join for names that come from requests, files or database rows: `root` followed by literal
 * folder names (plain strings, written in our code) and untrusted parts (PathPart, each checked by
 * checkPathName). The result is proven lexically inside `root`. This is the hot-path form (no realpath):
 * it guards the data folder, where only our own code creates entries; user-given paths into the project
 * folder, where symlinks may exist, use resolveUnderRoot.
 */
export function joinUnderRoot(root: string, ...parts: Array<string | PathPart>): string {
  const segments: string[] = [];
  for (const part of parts) {
    if (typeof part === 'string') segments.push(part);
    else segments.push(...checkPathName(part.kind, part.value, { single: !part.nested }).split('/'));
  }
  const base = resolve(root);
  const target = join(base, ...segments);
  if (!isInside(base, target)) {
    throw new PathRefusedError('outside_root', `Path ${JSON.stringify(target)} leaves ${base}.`);
  }
  return target;
}

/**
 * `absPath` with every symlink on the way followed, dangling ones included (judged by where they point, since
 * creating the file would create it there); the part below the deepest existing folder is kept as written. Used
 * to see where a path really lands. A loop of links throws PathRefusedError.
 */
export function realpathLoose(absPath: string): string {
  let current = resolve(absPath);
  const rest: string[] = [];
  let hops = 0;
  for (;;) {
    let isLink = false;
    let exists = true;
    try {
      isLink = lstatSync(current).isSymbolicLink();
    } catch {
      exists = false;
    }
    if (exists) {
      try {
        return join(realpathSync(current), ...rest);
      } catch {
        if (isLink && hops < MAX_LINK_HOPS) {
          hops += 1;
          current = resolve(dirname(current), readlinkSync(current));
          continue;
        }
        throw new PathRefusedError('unresolvable', `Path ${JSON.stringify(absPath)} cannot be resolved (symlink loop?).`);
      }
    }
    const parent = dirname(current);
    if (parent === current) return join(current, ...rest);
    rest.unshift(basename(current));
    current = parent;
  }
}

/**
 * True when `absPath` (once symlinks are followed, through its deepest existing ancestor) lies inside
 * realpath(`root`); false when `root` does not exist.
 */
export function isUnderRoot(root: string, absPath: string): boolean {
  if (!existsSync(root)) return false;
  return isInside(realpathSync(root), realpathLoose(absPath));
}
