/**
 * Finds an upstream block's stored output (`output_0`) and loads JSON values and row sets into DuckDB
 * tables. Upstream Parquet files are used in place through views.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteIdent, quoteString } from './sql-quote.js';
import { pathExists as exists, readJsonFile as readJson } from '../../variables/files.js';

/**
 * Written into `output_0/` next to the rows read back from a table a SQL block materialised in PostgreSQL or
 * MySQL. A downstream SQL block on the same provider and profile reads that table directly instead of
 * re-exporting the (row-limited) stored output over it, as Mage does for SQL upstreams.
 */
export const SQL_TABLE_MARKER = 'sql_table.json';

export interface SqlTableMarker {
  data_provider: string;
  data_provider_profile: string;
  /** Schema (PostgreSQL) or database (MySQL). */
  schema: string;
  table: string;
}

export type UpstreamData =
  | { kind: 'parquet'; path: string; sqlTable?: SqlTableMarker }
  | { kind: 'json'; value: unknown };

/**
 * The stored `output_0` of an upstream block, or null when it has none. Accepts `output_0/data.parquet`,
 * `output_0/data.json` and Mage's legacy `output_0.json` beside the folder.
 */
export async function findUpstreamOutput(variablesDir: string): Promise<UpstreamData | null> {
  const dir = join(variablesDir, 'output_0');
  const parquet = join(dir, 'data.parquet');
  if (await exists(parquet)) {
    const markerPath = join(dir, SQL_TABLE_MARKER);
    const sqlTable = (await exists(markerPath)) ? ((await readJson(markerPath)) as SqlTableMarker) : undefined;
    return { kind: 'parquet', path: parquet, sqlTable };
  }
  for (const candidate of [join(dir, 'data.json'), join(variablesDir, 'output_0.json')]) {
    if (await exists(candidate)) return { kind: 'json', value: await readJson(candidate) };
  }
  return null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * A JSON value as table rows, following pandas' DataFrame constructor: a list of objects is one row per
 * object, an object is one row, a list of lists has columns "0", "1"..., a list of scalars or a scalar has
 * column "0".
 */
export function jsonValueToRows(value: unknown): Record<string, unknown>[] {
  if (isPlainObject(value)) return [value];
  if (!Array.isArray(value)) return [{ '0': value }];
  return value.map((item) => {
    if (isPlainObject(item)) return item;
    if (Array.isArray(item)) return Object.fromEntries(item.map((v, i) => [String(i), v]));
    return { '0': item };
  });
}

/**
 * Creates temp table `table` holding `rows`. With `columnTypes` (name -> DuckDB type) the columns are typed
 * exactly; otherwise DuckDB infers them from all rows. An empty row set with no known columns becomes a
 * table with one VARCHAR column "0" and no rows.
 */
export async function createTableFromRows(
  conn: DuckDBConnection,
  table: string,
  rows: Record<string, unknown>[],
  scratchDir: string,
  columnTypes?: [string, string][],
): Promise<void> {
  const target = quoteIdent(table);
  if (rows.length === 0 && (!columnTypes || columnTypes.length === 0)) {
    await conn.run(`CREATE OR REPLACE TEMP TABLE ${target} AS SELECT NULL::VARCHAR AS "0" WHERE false`);
    return;
  }
  const file = join(scratchDir, `rows-${randomBytes(6).toString('hex')}.ndjson`);
  await writeFile(file, rows.map((r) => JSON.stringify(r, jsonReplacer)).join('\n'));
  let options = `format = 'newline_delimited', sample_size = -1`;
  if (columnTypes && columnTypes.length > 0) {
    const struct = columnTypes.map(([name, type]) => `${quoteString(name)}: ${quoteString(type)}`).join(', ');
    options += `, columns = {${struct}}`;
  }
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${target} AS SELECT * FROM read_json(${quoteString(file)}, ${options})`);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return value;
}
