/**
 * Persisting a block's outputs in Mage's layout. The whole block folder is built beside the target and then
 * swapped in with renames, so a reader sees the old outputs or the new ones, never half of either
 * (read.ts checks the folder's identity around a read to never mix the two).
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Table } from 'apache-arrow';
import { isArrowTable } from './arrowValues.js';
import { sampleJson, toMageOutputJson } from './json.js';
import { outputVariableDir } from './layout.js';
import { pandasColumnTypes, writeTableParquet } from './parquetWrite.js';

/** One block output: an Arrow table (stored as a DataFrame) or any JSON-able value. */
export type OutputValue = Table | unknown;

/** Rows kept in `sample_data.parquet`, as Mage. */
export const DATAFRAME_SAMPLE_ROWS = 1000;

function describeBadValue(value: unknown): string | null {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  return null;
}

/** Writes one output variable folder (`output_<N>/`) at `varDir`, which must not exist yet. */
export async function writeOutputVariable(varDir: string, value: OutputValue): Promise<void> {
  await mkdir(varDir, { recursive: true });
  if (isArrowTable(value)) {
    await writeTableParquet(value, join(varDir, 'data.parquet'), join(varDir, 'sample_data.parquet'), DATAFRAME_SAMPLE_ROWS);
    await writeFile(join(varDir, 'data_column_types.json'), JSON.stringify(pandasColumnTypes(value)));
    await writeFile(join(varDir, 'type.json'), JSON.stringify({ type: 'dataframe' }));
    return;
  }
  const json = toMageOutputJson(value);
  await writeFile(join(varDir, 'data.json'), JSON.stringify(json));
  await writeFile(join(varDir, 'sample_data.json'), JSON.stringify(sampleJson(json)));
}

/**
 * Replaces the block folder `dir` with `outputs` as `output_0/`, `output_1/`... Missing parents are created.
 * On failure nothing at `dir` changes and the temp folder is removed.
 */
export async function writeOutputs(dir: string, outputs: readonly OutputValue[]): Promise<void> {
  outputs.forEach((value, i) => {
    const bad = describeBadValue(value);
    if (bad) throw new Error(`output_${i} is ${bad}: a block output must be a JSON value or an Arrow Table`);
  });
  const parent = dirname(dir);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = join(parent, `.${basename(dir)}.tmp-${tag}`);
  const old = join(parent, `.${basename(dir)}.old-${tag}`);
  await mkdir(temp, { recursive: true });
  try {
    for (let i = 0; i < outputs.length; i++) await writeOutputVariable(outputVariableDir(temp, i), outputs[i]);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  let movedOld = false;
  try {
    await rename(dir, old);
    movedOld = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
  }
  try {
    await rename(temp, dir);
  } catch (error) {
    if (movedOld) await rename(old, dir).catch(() => undefined);
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  if (movedOld) await rm(old, { recursive: true, force: true });
}
