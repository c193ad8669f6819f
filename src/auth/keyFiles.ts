/**
 * Where a cluster server keeps its key material (the AES key for secrets at rest, `key`, and the JWT signing
 * secret, `jwt_secret`), and the move of keys that older versions kept inside the project.
 *
 * The folder is never one that an API serves:
 * - `BLOCKFLOW_KEYS_DIR` when set; a path inside the project folder is refused at start.
 * - Else `<data dir>/.secrets` when the data folder lies outside the project (Mage's default `~/.mage_data/<project>`,
 *   and every setup that puts the data folder on a shared volume, so replicas share one key).
 * - Else (a data folder inside the project, as `variables_dir: mage_data` in the demo)
 *   `~/.blockflow/keys/<project uuid>` (`$HOME` of the server's environment).
 * Keys that an earlier version wrote to `<data dir>/.secrets` are moved to the folder above on start; nothing is
 * lost, and when both places hold different keys the server refuses to start rather than pick one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, linkSync, openSync, readdirSync, readFileSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { isUnderRoot } from '../project/paths.js';

/** The key files a server keeps. */
export const KEY_FILES = ['key', 'jwt_secret'] as const;

/** The configured or derived key folder is unusable: inside the project, or in conflict with the old location. */
export class KeyLocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyLocationError';
  }
}

export interface KeyOwner {
  /** Realpath of the project folder. */
  root: string;
  /** The project's data folder (absolute). */
  dataDir: string;
  /** `project_uuid` from metadata.yaml, when it has one. */
  projectUuid: string | null;
  /** The project's folder name. */
  name: string;
}

/** `<data dir>/.secrets`: where keys lived before, and still live when the data folder is outside the project. */
export function legacyKeysDir(owner: KeyOwner): string {
  return join(owner.dataDir, '.secrets');
}

/** The key folder for `owner` under the rules in this module's header (no file is touched). */
export function resolveKeysDir(owner: KeyOwner, env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.BLOCKFLOW_KEYS_DIR?.trim();
  if (configured) {
    const dir = resolve(configured);
    if (isUnderRoot(owner.root, dir)) {
      throw new KeyLocationError(
        `BLOCKFLOW_KEYS_DIR (${dir}) lies inside the project folder ${owner.root}, where the file API could reach it; choose a folder outside the project.`,
      );
    }
    return dir;
  }
  if (!isUnderRoot(owner.root, owner.dataDir)) return legacyKeysDir(owner);
  // Without a uuid (a project no server has started yet) the folder is named after the project's path.
  const id = owner.projectUuid ?? `${owner.name}-${createHash('sha256').update(owner.root).digest('hex').slice(0, 12)}`;
  return join(env.HOME?.trim() || homedir(), '.blockflow', 'keys', id);
}

function readTrimmed(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

/**
 * Creates `path` (mode 0600) with `content`: written and synced under a temp name, then hard-linked into place,
 * so a crash leaves no half key and, unlike a rename, a file another process created first is never replaced
 * (EEXIST instead).
 */
function writeKeyFile(path: string, content: string): void {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
  } finally {
    unlinkSync(temp);
  }
}

/**
 * Moves key files from the legacy folder into `dir` (when they differ). Returns the names moved. Throws
 * KeyLocationError when both folders hold a file of the same name with different contents.
 */
export function moveLegacyKeys(legacyDir: string, dir: string): string[] {
  if (resolve(legacyDir) === resolve(dir) || !existsSync(legacyDir)) return [];
  const moved: string[] = [];
  for (const name of KEY_FILES) {
    // path-checked: `name` is one of KEY_FILES, our own constants.
    const from = join(legacyDir, name);
    if (!existsSync(from)) continue;
    const to = join(dir, name); // path-checked: one of KEY_FILES
    if (existsSync(to)) {
      if (readTrimmed(to) !== readTrimmed(from)) {
        throw new KeyLocationError(
          `Two different ${name} files exist: ${from} (old location) and ${to}. Secrets sealed with the other key would become unreadable; keep the right one and delete the other.`,
        );
      }
    } else {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      try {
        writeKeyFile(to, readFileSync(from, 'utf8'));
      } catch (err) {
        // A second server starting at the same moment may have moved it first; its copy is the same file.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || readTrimmed(to) !== readTrimmed(from)) throw err;
      }
      moved.push(name);
    }
    try {
      unlinkSync(from);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  try {
    if (readdirSync(legacyDir).length === 0) rmdirSync(legacyDir);
  } catch {
    // Left in place when something else lives there; the file APIs refuse it anyway.
  }
  return moved;
}

export interface PreparedKeysDir {
  dir: string;
  /** Key files moved from the old location on this start. */
  moved: string[];
  /** Where they came from. */
  movedFrom: string;
}

/** Resolves the key folder, moves old keys into it, and creates it (mode 0700). */
export function prepareKeysDir(owner: KeyOwner, env: NodeJS.ProcessEnv = process.env): PreparedKeysDir {
  const dir = resolveKeysDir(owner, env);
  const movedFrom = legacyKeysDir(owner);
  const moved = moveLegacyKeys(movedFrom, dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { dir, moved, movedFrom };
}

/**
 * The contents of `<dir>/<name>`, generating `create()` into it (mode 0600) the first time. Two processes
 * starting at once agree on one value: the second one's exclusive create fails and it reads the first's.
 */
export function readOrCreateKeyFile(dir: string, name: (typeof KEY_FILES)[number], create: () => string): string {
  const file = join(dir, name); // path-checked: one of KEY_FILES
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      writeKeyFile(file, create());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return readTrimmed(file);
}
