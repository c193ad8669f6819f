/**
 * Reading YAML the way PyYAML reads Mage's files, writing it the way PyYAML writes them, and replacing files
 * atomically so a failed write never leaves half a file behind.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { parse, type ScalarTag, type Tags } from 'yaml';
import { pyyamlDump, type PyYamlDumpOptions } from './pyyamlDump.js';

export { pyyamlDump, YamlTimestamp, PY_TIMESTAMP_RE } from './pyyamlDump.js';
export type { PyYamlDumpOptions } from './pyyamlDump.js';

/** A YAML file (or text) that does not parse; the message names the file and the parser's complaint. */
export class YamlParseError extends Error {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`Invalid YAML in ${source}: ${detail}`);
    this.name = 'YamlParseError';
  }
}

// PyYAML's YAML 1.1 booleans: `yes/no/on/off/true/false` in three casings, but not `y`/`n` (the `yaml`
// package's 1.1 schema takes those too).
const pyTrue: ScalarTag = {
  identify: (v) => v === true,
  default: true,
  tag: 'tag:yaml.org,2002:bool',
  test: /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/,
  resolve: () => true,
};
const pyFalse: ScalarTag = {
  identify: (v) => v === false,
  default: true,
  tag: 'tag:yaml.org,2002:bool',
  test: /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/,
  resolve: () => false,
};

/**
 * YAML 1.1 tags as PyYAML resolves them, except timestamps, which stay strings: Mage's files carry dates
 * (`start_time: 2023-01-01 00:00:00`) that callers want as text, and a JS Date would lose microseconds and
 * naive-versus-aware information.
 */
function pyTags(tags: Tags): Tags {
  return [
    ...tags.filter((t) => {
      const tag = typeof t === 'string' ? t : t.tag;
      return tag !== 'tag:yaml.org,2002:timestamp' && tag !== 'tag:yaml.org,2002:bool';
    }),
    pyTrue,
    pyFalse,
  ];
}

/** Parses YAML text as PyYAML's loader would (YAML 1.1, merge keys); `source` names it in errors. */
export function parseYaml(text: string, source = 'YAML text'): unknown {
  try {
    return parse(text, { version: '1.1', schema: 'yaml-1.1', customTags: pyTags, merge: true, uniqueKeys: false }) ?? null;
  } catch (err) {
    throw new YamlParseError(source, err instanceof Error ? err.message : String(err));
  }
}

/** Reads and parses a YAML file; an empty file gives null. Errors from the filesystem pass through. */
export function readYamlFile(path: string): unknown {
  return parseYaml(readFileSync(path, 'utf8'), path);
}

/**
 * Replaces `path` with `content`: writes a temp file in the same folder, fsyncs it, renames it over the
 * target, then fsyncs the folder. Readers see the old file or the new one, never a mix; on failure the temp
 * file is removed and the old file is untouched.
 */
export function writeFileAtomic(path: string, content: string | Uint8Array): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error matters more
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // the temp file may not exist
    }
    throw err;
  }
  try {
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself has already happened.
  }
}

/** Writes `value` as PyYAML's `yaml.dump` would (Mage's key order and quoting), atomically. */
export function writeYamlFileAtomic(path: string, value: unknown, options?: PyYamlDumpOptions): void {
  writeFileAtomic(path, pyyamlDump(value, options));
}
