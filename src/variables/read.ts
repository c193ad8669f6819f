/**
 * Reading a block's persisted outputs in Mage's layout: values for the next block, display items for the API.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import { toMageOutputJson } from './json.js';
import { parquetShape, readParquetTable } from './parquetRead.js';
import type { OutputValue } from './write.js';
import { pathExists as exists, readJsonFile } from './files.js';

export { toMageOutputJson } from './json.js';

/** Variable types (type.json) read as a table. */
const TABLE_TYPES = new Set(['dataframe', 'polars_dataframe', 'geo_dataframe', 'series_pandas']);

/**
 * Variable types whose value is a Python pickle (object.joblib, model.joblib) or a model file. Only Python can load
 * them; here their data.json is a rendering (a numpy array as nested lists, a datetime as ISO text, an object as
 * its type name), shown by the API as text, as Mage shows objects.
 */
const OBJECT_TYPES = new Set(['custom_object', 'model_sklearn', 'model_xgboost', 'matrix_sparse']);

/** Display items show at most this many columns, as Mage. */
const MAX_DISPLAY_COLUMNS = 100;

interface VariableEntry {
  uuid: string;
  index: number;
  /** Folder of the variable, or the legacy `<uuid>.json` file. */
  path: string;
  legacy: boolean;
}

async function listVariables(dir: string): Promise<VariableEntry[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const byIndex = new Map<number, VariableEntry>();
  for (const entry of entries) {
    const folder = /^output_(\d+)$/.exec(entry.name);
    const legacy = /^output_(\d+)\.json$/.exec(entry.name);
    if (folder && entry.isDirectory()) {
      const index = Number(folder[1]);
      // path-checked: a readdir entry of `dir`, one segment by construction.
      byIndex.set(index, { uuid: entry.name, index, path: join(dir, entry.name), legacy: false });
    } else if (legacy && entry.isFile()) {
      const index = Number(legacy[1]);
      // A folder wins over a legacy file of the same variable.
      // path-checked: a readdir entry of `dir`.
      if (!byIndex.has(index)) byIndex.set(index, { uuid: `output_${index}`, index, path: join(dir, entry.name), legacy: true });
    }
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}

async function variableType(varDir: string): Promise<string | null> {
  const typePath = join(varDir, 'type.json');
  if (!(await exists(typePath))) return null;
  const parsed = (await readJsonFile(typePath)) as { type?: unknown } | null;
  return parsed && typeof parsed.type === 'string' ? parsed.type : null;
}

/** Reads one variable folder (or legacy `.json` file): a table for DataFrames, the parsed value for JSON. */
export async function readOutputVariable(path: string): Promise<OutputValue> {
  if (path.endsWith('.json')) return readJsonFile(path);
  const type = await variableType(path);
  const parquet = join(path, 'data.parquet');
  if (type !== null && TABLE_TYPES.has(type)) {
    if (await exists(parquet)) return readParquetTable(parquet);
    throw new Error(`variable ${path} is a ${type} but has no data.parquet`);
  }
  // For the pickled types (OBJECT_TYPES, and Python's dictionary_complex/list_complex/iterable) data.json is the
  // JSON rendering of the value: the closest a TypeScript or SQL block can get to it.
  const json = join(path, 'data.json');
  if (await exists(json)) return readJsonFile(json);
  if (type === null && (await exists(parquet))) return readParquetTable(parquet);
  if (type !== null && OBJECT_TYPES.has(type)) {
    throw new Error(`variable ${path} is a Python ${type} with no JSON rendering: only Python blocks can read it`);
  }
  throw new Error(`variable ${path} has ${type === null ? 'no data file' : `type ${JSON.stringify(type)}, which this runtime cannot read`}`);
}

/**
 * Runs `read` over the block folder and repeats it when the folder was replaced meanwhile (writeOutputs swaps
 * whole folders), so the result never mixes two generations of outputs.
 */
async function consistentRead<T>(dir: string, read: () => Promise<T>): Promise<T> {
  const identity = async (): Promise<string> => {
    try {
      const s = await stat(dir);
      return `${s.dev}:${s.ino}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  let lastError: unknown = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = await identity();
    try {
      const value = await read();
      if ((await identity()) === before) return value;
    } catch (error) {
      lastError = error;
      if ((await identity()) === before) throw error;
    }
  }
  throw lastError ?? new Error(`outputs in ${dir} kept changing while being read`);
}

/** The outputs stored in a block folder, in order (output_0..N). A missing folder has no outputs. */
export async function readOutputs(dir: string): Promise<OutputValue[]> {
  return consistentRead(dir, async () => {
    const variables = await listVariables(dir);
    const values: OutputValue[] = [];
    for (const v of variables) values.push(await readOutputVariable(v.path));
    return values;
  });
}

/** Mage's output display item (mage-api.md §3.6 "Output display item"). */
export type OutputDisplayItem =
  | {
      type: 'table';
      variable_uuid: string;
      shape: [number, number];
      sample_data: { columns: string[]; rows: unknown[][] };
    }
  | { type: 'text'; variable_uuid: string; text_data: string };

function tableItem(uuid: string, table: Table, shape: [number, number], sampleCount: number): OutputDisplayItem {
  const fields = table.schema.fields.slice(0, MAX_DISPLAY_COLUMNS);
  const rows = toMageOutputJson(table) as Record<string, unknown>[];
  return {
    type: 'table',
    variable_uuid: uuid,
    shape,
    sample_data: {
      columns: fields.map((f) => f.name),
      rows: rows.slice(0, sampleCount).map((row) => fields.map((f) => row[f.name] ?? null)),
    },
  };
}

/** The display item for a JSON value: dicts as a 1-row table, lists as JSON text, primitives as text. */
export function jsonDisplayItem(uuid: string, value: unknown): OutputDisplayItem {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    const shown = entries.slice(0, MAX_DISPLAY_COLUMNS);
    return {
      type: 'table',
      variable_uuid: uuid,
      shape: [1, entries.length],
      sample_data: { columns: shown.map(([k]) => k), rows: [shown.map(([, v]) => v)] },
    };
  }
  return { type: 'text', variable_uuid: uuid, text_data: typeof value === 'string' ? value : JSON.stringify(value) };
}

async function summarise(v: VariableEntry, sampleCount: number): Promise<OutputDisplayItem> {
  if (v.legacy) return jsonDisplayItem(v.uuid, await readJsonFile(v.path));
  const type = await variableType(v.path);
  const data = join(v.path, 'data.parquet');
  const sample = join(v.path, 'sample_data.parquet');
  if ((type !== null && TABLE_TYPES.has(type)) || (type === null && !(await exists(join(v.path, 'data.json'))) && (await exists(data)))) {
    const hasData = await exists(data);
    const hasSample = await exists(sample);
    if (!hasData && !hasSample) throw new Error(`variable ${v.path} is a ${type ?? 'table'} but has no data.parquet`);
    const shape = await parquetShape(hasData ? data : sample);
    const table = await readParquetTable(hasSample ? sample : data, sampleCount);
    return tableItem(v.uuid, table, shape, sampleCount);
  }
  const sampleJsonPath = join(v.path, 'sample_data.json');
  const dataJsonPath = join(v.path, 'data.json');
  const jsonPath = (await exists(sampleJsonPath)) ? sampleJsonPath : (await exists(dataJsonPath)) ? dataJsonPath : null;
  if (type !== null && OBJECT_TYPES.has(type)) {
    // An object is shown as text, as Mage does; one written without a rendering (by Mage) by its type.
    const value = jsonPath === null ? `<${type}>` : await readJsonFile(jsonPath);
    return { type: 'text', variable_uuid: v.uuid, text_data: typeof value === 'string' ? value : JSON.stringify(value) };
  }
  if (jsonPath === null) throw new Error(`variable ${v.path} has ${type === null ? 'no data file' : `type ${JSON.stringify(type)} and no data file`}`);
  return jsonDisplayItem(v.uuid, await readJsonFile(jsonPath));
}

/**
 * Mage's display items for every output in a block folder, tables limited to `sampleCount` rows (read from the
 * sample files) and 100 columns, with the full shape.
 */
export async function readOutputSummaries(dir: string, sampleCount = 10): Promise<OutputDisplayItem[]> {
  return consistentRead(dir, async () => {
    const items: OutputDisplayItem[] = [];
    for (const v of await listVariables(dir)) items.push(await summarise(v, sampleCount));
    return items;
  });
}
