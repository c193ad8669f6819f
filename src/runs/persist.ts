/**
 * What a synchronous run keeps on disk when `store_variables` is true, in Mage's layout under the run's
 * partition (`.variables/<partition>/`): the block outputs (written by the runtime), the passed variables
 * (`variables.json`), the block logs (`.logs/<partition>/<block>.log`), and, for upstream blocks, a copy of their
 * outputs published as the block's latest outputs (the unpartitioned folder Mage's notebook runs use), which
 * `incomplete_only` reuses.
 */
import { cp, mkdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { blockVariablesDir, partitionVariablesDir } from '../variables/layout.js';
import { formatLogLine, LogFile, blockLogPath, type LogTags } from '../engine/logs.js';
import type { LogLine } from '../runtimes/types.js';

/** `.variables/<partition>/`: the folder of one synchronous run (the partition checked segment by segment). */
export { partitionVariablesDir };

/** Writes the passed variables as `.variables/<partition>/variables.json` (temp file, then rename). */
export async function writeRunVariables(dataDir: string, pipelineUuid: string, partition: string, variables: Record<string, unknown>): Promise<void> {
  const dir = partitionVariablesDir(dataDir, pipelineUuid, partition);
  await mkdir(dir, { recursive: true });
  const target = join(dir, 'variables.json');
  const temp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(temp, JSON.stringify(variables));
  await rename(temp, target);
}

/** The unpartitioned folder holding a block's latest outputs (Mage's notebook location). */
export function latestOutputsDir(dataDir: string, pipelineUuid: string, blockUuid: string): string {
  return blockVariablesDir(dataDir, pipelineUuid, '', blockUuid);
}

/** True when the block's last successful run left outputs in its latest-outputs folder. */
export function hasLatestOutputs(dataDir: string, pipelineUuid: string, blockUuid: string): boolean {
  return existsSync(latestOutputsDir(dataDir, pipelineUuid, blockUuid));
}

/**
 * Replaces `dest` with a copy of `source`: the copy is built beside `dest` and swapped in with renames, so a
 * reader sees the old outputs or the new ones, never a mix.
 */
export async function publishCopy(source: string, dest: string): Promise<void> {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = join(dirname(dest), `.${basename(dest)}.tmp-${tag}`);
  const old = join(dirname(dest), `.${basename(dest)}.old-${tag}`);
  await mkdir(dirname(dest), { recursive: true });
  try {
    await cp(source, temp, { recursive: true });
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
  let movedOld = false;
  try {
    await rename(dest, old);
    movedOld = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      await rm(temp, { recursive: true, force: true });
      throw err;
    }
  }
  try {
    await rename(temp, dest);
  } catch (err) {
    if (movedOld) await rename(old, dest).catch(() => undefined);
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
  if (movedOld) await rm(old, { recursive: true, force: true });
}

/**
 * Removes a run's partition folder (upstream outputs passed through disk when nothing is to be kept), and its
 * `<date>` parent when that is left empty.
 */
export async function removePartition(dataDir: string, pipelineUuid: string, partition: string): Promise<void> {
  const dir = partitionVariablesDir(dataDir, pipelineUuid, partition);
  await rm(dir, { recursive: true, force: true });
  await rmdir(dirname(dir)).catch(() => undefined);
}

/** A block's log file, created at the first line so a silent block writes nothing. */
export class LazyBlockLog {
  private file: LogFile | null = null;

  constructor(
    private readonly path: string,
    private readonly tags: LogTags,
  ) {}

  static at(dataDir: string, pipelineUuid: string, partition: string, blockUuid: string, tags: LogTags): LazyBlockLog {
    return new LazyBlockLog(blockLogPath(dataDir, pipelineUuid, partition, blockUuid), tags);
  }

  write(line: LogLine): void {
    this.file ??= new LogFile(this.path);
    this.file.write(formatLogLine(line, this.tags));
  }

  async close(): Promise<void> {
    await this.file?.close();
  }
}
