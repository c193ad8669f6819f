/**
 * A block's persisted outputs (Mage's layout, `output_<N>/` in the block's variables folder) as the `output`
 * events of an execution, bounded for a browser:
 * - a table (DataFrame, Series, polars, SQL result): `{type: 'table', columns, rows, shape: [n, m]}` with the
 *   first `rows` rows (default 100, BLOCKFLOW_EXECUTION_SAMPLE_ROWS) and `columns` columns (default 50,
 *   BLOCKFLOW_EXECUTION_SAMPLE_COLUMNS) read from the sample file; `shape` is the whole output's;
 * - a string holding an HTML document or fragment (it starts with a tag such as `<div`, `<table`, `<html`):
 *   `{type: 'text/html', data}`;
 * - a string holding a PNG as a `data:image/png;base64,...` URI or as bare base64: `{type: 'image/png', data}`
 *   (base64, without the URI prefix);
 * - any other string, and objects only Python can load (shown by their JSON rendering): `{type: 'text', data}`;
 * - any other JSON value: `{type: 'json', data}`, lists cut to `rows` items per level.
 * Every item has `variable_uuid` (`output_0`...) and `truncated` (rows, columns or items left out).
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetShape, readParquetTable } from '../variables/parquetRead.js';
import { toMageOutputJson } from '../variables/json.js';
import { sampleJson } from '../variables/json.js';
import { pathExists as exists, readJsonFile as readJson } from '../variables/files.js';

export interface SampleLimits {
  rows: number;
  columns: number;
  /** A data.json larger than this is read from sample_data.json instead. */
  maxJsonBytes: number;
}

export type OutputItem =
  | { variable_uuid: string; type: 'table'; columns: string[]; rows: unknown[][]; shape: [number, number]; truncated: boolean }
  | { variable_uuid: string; type: 'json'; data: unknown; truncated: boolean }
  | { variable_uuid: string; type: 'text' | 'text/html' | 'image/png'; data: string; truncated: boolean };

const TABLE_TYPES = new Set(['dataframe', 'polars_dataframe', 'geo_dataframe', 'series_pandas']);
/** Python-only values (pickles); their data.json is a rendering, shown as text. */
const OBJECT_TYPES = new Set(['custom_object', 'model_sklearn', 'model_xgboost', 'matrix_sparse']);

const HTML_START = /^<(?:!doctype\s+html|html|head|body|div|span|p|table|thead|tbody|tr|svg|img|h[1-6]|ul|ol|pre|section|article|style|iframe|a|b|i|strong|em|br|hr|details|figure)[\s>/]/i;
const PNG_DATA_URI = /^data:image\/png;base64,/i;
/** The base64 form of PNG's 8-byte signature. */
const PNG_BASE64 = /^iVBORw0KGgo[A-Za-z0-9+/=\r\n]*$/;

/** The `output_<N>` folders of a block folder, in order; a missing folder has none. */
async function outputFolders(dir: string): Promise<Array<{ uuid: string; path: string }>> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .map((e) => ({ e, m: /^output_(\d+)$/.exec(e.name) }))
    .filter(({ e, m }) => m !== null && e.isDirectory())
    .sort((a, b) => Number(a.m![1]) - Number(b.m![1]))
    // path-checked: a readdir entry of `dir` matching output_<N>.
    .map(({ e }) => ({ uuid: e.name, path: join(dir, e.name) }));
}

/** A string output as text, HTML or PNG. */
export function classifyString(uuid: string, value: string): OutputItem {
  const trimmed = value.trimStart();
  if (PNG_DATA_URI.test(trimmed)) return { variable_uuid: uuid, type: 'image/png', data: trimmed.replace(PNG_DATA_URI, '').trim(), truncated: false };
  if (PNG_BASE64.test(trimmed)) return { variable_uuid: uuid, type: 'image/png', data: trimmed.trim(), truncated: false };
  if (HTML_START.test(trimmed)) return { variable_uuid: uuid, type: 'text/html', data: value, truncated: false };
  return { variable_uuid: uuid, type: 'text', data: value, truncated: false };
}

async function tableItem(uuid: string, folder: string, limits: SampleLimits): Promise<OutputItem> {
  const data = join(folder, 'data.parquet');
  const sample = join(folder, 'sample_data.parquet');
  const hasData = await exists(data);
  const source = (await exists(sample)) ? sample : data;
  const shape = await parquetShape(hasData ? data : source);
  const table = await readParquetTable(source, limits.rows);
  const fields = table.schema.fields.slice(0, limits.columns).map((f) => f.name);
  const rows = (toMageOutputJson(table) as Record<string, unknown>[]).slice(0, limits.rows).map((row) => fields.map((f) => row[f] ?? null));
  return { variable_uuid: uuid, type: 'table', columns: fields, rows, shape, truncated: shape[0] > rows.length || shape[1] > fields.length };
}

async function outputItem(uuid: string, folder: string, limits: SampleLimits): Promise<OutputItem> {
  const typePath = join(folder, 'type.json');
  const declared = (await exists(typePath)) ? ((await readJson(typePath)) as { type?: unknown } | null)?.type : undefined;
  const type = typeof declared === 'string' ? declared : null;
  const dataJson = join(folder, 'data.json');
  const sampleJsonPath = join(folder, 'sample_data.json');
  const hasDataJson = await exists(dataJson);
  if ((type !== null && TABLE_TYPES.has(type)) || (type === null && !hasDataJson && (await exists(join(folder, 'data.parquet'))))) {
    return tableItem(uuid, folder, limits);
  }
  let path: string | null = null;
  let truncated = false;
  if (hasDataJson && (await stat(dataJson)).size <= limits.maxJsonBytes) path = dataJson;
  else if (await exists(sampleJsonPath)) {
    path = sampleJsonPath;
    truncated = hasDataJson;
  } else if (hasDataJson) path = dataJson;
  if (path === null) return { variable_uuid: uuid, type: 'text', data: type ? `<${type}>` : '', truncated: false };
  const value = await readJson(path);
  if (type !== null && OBJECT_TYPES.has(type)) {
    return { variable_uuid: uuid, type: 'text', data: typeof value === 'string' ? value : JSON.stringify(value), truncated };
  }
  if (typeof value === 'string') return { ...classifyString(uuid, value), truncated };
  const sampled = sampleJson(value, limits.rows);
  return { variable_uuid: uuid, type: 'json', data: sampled, truncated: truncated || JSON.stringify(sampled).length !== JSON.stringify(value).length };
}

/** The output items of the block folder `dir`, in output order. */
export async function readOutputItems(dir: string, limits: SampleLimits): Promise<OutputItem[]> {
  const items: OutputItem[] = [];
  for (const { uuid, path } of await outputFolders(dir)) items.push(await outputItem(uuid, path, limits));
  return items;
}
