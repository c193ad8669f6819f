/** Folder listings for tests that prove a refused request wrote nothing. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every file and folder under `dir`, relative and sorted ([] when `dir` does not exist). */
export function fileTree(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    out.push(rel);
    if (entry.isDirectory()) out.push(...fileTree(join(dir, entry.name), rel));
  }
  return out.sort();
}
