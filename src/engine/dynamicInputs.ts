/**
 * The I/O half of dynamic blocks (the decisions are in plan.ts): reading a dynamic block run's items from its
 * outputs, and handing a dynamic child its inputs. Python and TypeScript runtimes read each upstream from a folder
 * in Mage's layout, so the one item of a dynamic upstream, and the gathered outputs of a reduce, are put in a
 * scratch folder of that layout for the duration of the block run: upstream outputs that stay as they are
 * (any type, pickled objects too) are linked there, never copied through JSON. Item lists and reduced outputs of a
 * type only Python reads as returned (pickles, Series, polars) go to a Python block as a folder plus an item index
 * or a list of folders (UpstreamInput item/gather), which its runtime picks from or gathers itself.
 */
import { mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isArrowTable, tableToRows } from '../variables/arrowValues.js';
import { blockVariablesDir, outputVariableDir } from '../variables/layout.js';
import { readOutputVariable, readOutputs } from '../variables/read.js';
import { writeOutputVariable, type OutputValue } from '../variables/write.js';
import type { UpstreamInput } from '../runtimes/types.js';
import type { UpstreamSource } from './plan.js';

/**
 * A dynamic block's items, as Mage reads them (dynamic_block_values_and_metadata): when output_0 is a list (the
 * block returned `[items]` or `[items, metadata]`), its entries, with output_1 as per-item metadata; when output_0
 * is a DataFrame (a SQL block), its rows. Otherwise the block returned a flat list, which Mage's output split
 * turned into output_0..N: each output is one item.
 */
export type DynamicItems =
  | { form: 'list'; items: unknown[]; metadata: Array<Record<string, unknown> | undefined> }
  | { form: 'outputs'; count: number };

export async function readDynamicItems(runDir: string): Promise<DynamicItems> {
  const names = await outputNames(runDir);
  if (names.length === 0) return { form: 'list', items: [], metadata: [] };
  const first = await readOutputVariable(join(runDir, names[0])); // path-checked: a readdir entry of runDir
  if (!Array.isArray(first) && !isArrowTable(first)) return { form: 'outputs', count: names.length };
  const items = Array.isArray(first) ? first : tableToRows(first);
  let metadata: Array<Record<string, unknown> | undefined> = [];
  if (names.length >= 2) {
    const second = await readOutputVariable(join(runDir, names[1])); // path-checked: a readdir entry of runDir
    if (Array.isArray(second)) metadata = second.map((m) => (m && typeof m === 'object' && !Array.isArray(m) ? (m as Record<string, unknown>) : undefined));
  }
  return { form: 'list', items, metadata };
}

/**
 * Whether this module can read a variable and write it again unchanged: JSON (no type.json) and pandas
 * DataFrames. Any other type (joblib-pickled objects, Series, polars) would reach the next block as its JSON
 * rendering or as another type, so a Python block gets it through the runtime instead (UpstreamInput item/gather),
 * and other languages get the JSON rendering they read for any such upstream.
 */
async function isRewritable(varPath: string): Promise<boolean> {
  if (varPath.endsWith('.json')) return true;
  let type: unknown = null;
  try {
    type = (JSON.parse(await readFile(join(varPath, 'type.json'), 'utf8')) as { type?: unknown } | null)?.type ?? null;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
  return type === null || type === 'dataframe';
}

/** `output_<N>` variables of a block folder (folders or Mage's legacy `.json` files), in numeric order. */
async function outputNames(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const byIndex = new Map<number, string>();
  for (const name of entries) {
    const m = /^output_(\d+)(\.json)?$/.exec(name);
    if (m && (!m[2] || !byIndex.has(Number(m[1])))) byIndex.set(Number(m[1]), name);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, name]) => name);
}

export interface ResolvedInputs {
  upstream: UpstreamInput[];
  /** Keyword arguments from a dynamic upstream's item metadata (Mage merges them into the block's kwargs). */
  kwargs: Record<string, unknown>;
  /** Removes the scratch folders. */
  cleanup(): Promise<void>;
}

/**
 * Folders for a block run's upstream inputs. `sources` come from plan.ts's upstreamSources; a run of a block with
 * no dynamic upstream gets only `outputs` sources, which are the upstream blocks' own folders as before.
 */
export async function resolveUpstreamInputs(
  dataDir: string,
  pipelineUuid: string,
  partition: string,
  sources: readonly UpstreamSource[],
  /** The block is run by the Python runtime, which reads pickled variables itself (see isRewritable). */
  pythonReader: boolean,
): Promise<ResolvedInputs> {
  const scratch: string[] = [];
  const kwargs: Record<string, unknown> = {};
  const runDir = (runUuid: string) => blockVariablesDir(dataDir, pipelineUuid, partition, runUuid);
  const newScratch = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'blockflow-dynamic-'));
    scratch.push(dir);
    return dir;
  };
  const cleanup = async () => {
    await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
  };
  try {
    const upstream: UpstreamInput[] = [];
    for (const source of sources) {
      if (source.kind === 'outputs') {
        upstream.push({ blockUuid: source.blockUuid, variablesDir: runDir(source.runUuid) });
      } else if (source.kind === 'item') {
        upstream.push(await itemInput(runDir(source.runUuid), source, newScratch, kwargs, pythonReader));
      } else {
        const dirs = source.runUuids.map(runDir);
        if (pythonReader && !(await allRewritable(dirs))) {
          upstream.push({ blockUuid: source.blockUuid, variablesDir: dirs[0] ?? runDir(source.blockUuid), gather: dirs });
        } else {
          const dir = await newScratch();
          await writeGathered(dirs, source.blockUuid, dir);
          upstream.push({ blockUuid: source.blockUuid, variablesDir: dir });
        }
      }
    }
    return { upstream, kwargs, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

async function allRewritable(dirs: readonly string[]): Promise<boolean> {
  for (const dir of dirs) {
    for (const name of await outputNames(dir)) if (!(await isRewritable(join(dir, name)))) return false; // path-checked: readdir entries
  }
  return true;
}

async function itemInput(
  from: string,
  source: Extract<UpstreamSource, { kind: 'item' }>,
  newScratch: () => Promise<string>,
  kwargs: Record<string, unknown>,
  pythonReader: boolean,
): Promise<UpstreamInput> {
  const items = await readDynamicItems(from);
  const count = items.form === 'list' ? items.items.length : items.count;
  if (source.index < 0 || source.index >= count) {
    throw new Error(`Dynamic block run ${source.runUuid} has ${count} item(s); item ${source.index} is not among them.`);
  }
  const names = await outputNames(from);
  if (items.form === 'outputs') {
    const to = await newScratch();
    // Each output is one item: linked as is, whatever its type.
    await symlink(join(from, names[source.index]), join(to, names[source.index].endsWith('.json') ? 'output_0.json' : 'output_0')); // path-checked: readdir entries
    return { blockUuid: source.blockUuid, variablesDir: to };
  }
  const meta = items.metadata[source.index];
  if (meta) Object.assign(kwargs, meta);
  if (pythonReader && !(await isRewritable(join(from, names[0])))) { // path-checked: a readdir entry
    return { blockUuid: source.blockUuid, variablesDir: from, item: source.index };
  }
  const to = await newScratch();
  await writeOutputVariable(outputVariableDir(to, 0), items.items[source.index] as OutputValue);
  return { blockUuid: source.blockUuid, variablesDir: to };
}

/**
 * Mage's reduce (fetch_input_variables with reduce_output): every output of every run, in order, a list output
 * contributing its entries; DataFrames only are concatenated into one. One list input for the next block.
 */
async function writeGathered(runDirs: readonly string[], blockUuid: string, to: string): Promise<void> {
  const values: OutputValue[] = [];
  for (const dir of runDirs) {
    for (const value of await readOutputs(dir)) {
      if (Array.isArray(value)) values.push(...value);
      else values.push(value);
    }
  }
  const tables = values.filter(isArrowTable);
  if (values.length > 0 && tables.length === values.length) {
    let combined;
    try {
      combined = tables[0].concat(...tables.slice(1));
    } catch (error) {
      throw new Error(`reduce_output of ${blockUuid}: its DataFrames cannot be concatenated (${(error as Error).message}).`);
    }
    await writeOutputVariable(outputVariableDir(to, 0), combined);
    return;
  }
  if (tables.length > 0) throw new Error(`reduce_output of ${blockUuid}: its block runs returned DataFrames mixed with other values, which cannot be gathered into one list.`);
  await writeOutputVariable(outputVariableDir(to, 0), values);
}
