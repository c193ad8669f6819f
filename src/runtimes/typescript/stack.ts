/**
 * Block error stacks: keep the frames of the block's own code only, pointing at the original .ts/.js file and
 * line. A frame is block code when its file is a transpiled module, recognised by the source map written beside
 * it (`<hash>.mjs.map`, carrying the original path under `x_blockflow_source`).
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Key in the written source maps holding the original source path. */
export const SOURCE_KEY = 'x_blockflow_source';

const FRAME = /^\s*at (?:(.*?) \()?((?:file:\/\/)?[^\s()]+?):(\d+):(\d+)\)?$/;

interface BlockMap {
  sourcePath: string;
  map: SourceMap;
}

const maps = new Map<string, BlockMap | null>();

function loadMap(modulePath: string): BlockMap | null {
  let found = maps.get(modulePath);
  if (found === undefined) {
    found = null;
    if (modulePath.endsWith('.mjs')) {
      try {
        const payload = JSON.parse(readFileSync(`${modulePath}.map`, 'utf8')) as Record<string, unknown>;
        if (typeof payload[SOURCE_KEY] === 'string') {
          found = { sourcePath: payload[SOURCE_KEY], map: new SourceMap(payload as never) };
        }
      } catch {
        // no map: not block code
      }
    }
    maps.set(modulePath, found);
  }
  return found;
}

/**
 * The frames of `stack` that belong to block code, as `  at fn (/path/block.ts:line:col)`. `sourcePaths` are the
 * block's source files: frames already mapped to them (when Node's own source-map support is on) are kept as is.
 */
export function blockFrames(stack: string | undefined, sourcePaths: readonly string[] = []): string[] {
  if (!stack) return [];
  const out: string[] = [];
  for (const line of stack.split('\n')) {
    const m = FRAME.exec(line);
    if (!m) continue;
    const [, fn, location, lineText, columnText] = m;
    let path = location.split('?')[0];
    if (path.startsWith('file://')) {
      try {
        path = fileURLToPath(path);
      } catch {
        continue;
      }
    }
    if (sourcePaths.includes(path)) {
      out.push(fn ? `  at ${fn} (${path}:${lineText}:${columnText})` : `  at ${path}:${lineText}:${columnText}`);
      continue;
    }
    const blockMap = loadMap(path);
    if (!blockMap) continue;
    let lineNo = Number(lineText);
    let column = Number(columnText);
    const entry = blockMap.map.findEntry(lineNo - 1, column - 1) as { originalLine?: number; originalColumn?: number };
    if (typeof entry.originalLine === 'number') {
      lineNo = entry.originalLine + 1;
      column = (entry.originalColumn ?? 0) + 1;
    }
    const where = `${blockMap.sourcePath}:${lineNo}:${column}`;
    out.push(fn ? `  at ${fn} (${where})` : `  at ${where}`);
  }
  return out;
}
