/**
 * Writes a SQL result (a DuckDB table) as a Mage DataFrame output folder and reads it back as JSON rows.
 * Layout (docs/architecture.md, "Block outputs on disk"): `<outputDir>/output_0/` with `type.json`,
 * `data.parquet`, `sample_data.parquet` (first 1000 rows) and `data_column_types.json`. The folder is built
 * beside the target and renamed into place, so readers never see half an output.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { pandasDtype, toJsonValue } from './duckdb-values.js';
import { quoteIdent, quoteString } from './sql-quote.js';

/** Rows kept in sample_data.parquet, as Mage. */
export const SAMPLE_ROWS = 1000;

export interface TableColumn {
  name: string;
  type: DuckDBType;
}

/** Column names and DuckDB types of `table` (a temp table or view name, unquoted). */
export async function describeTable(conn: DuckDBConnection, table: string): Promise<TableColumn[]> {
  const result = await conn.run(`SELECT * FROM ${quoteIdent(table)} LIMIT 0`);
  return result.columnNames().map((name, i) => ({ name, type: result.columnType(i) }));
}

/** All rows of `table` as JSON-safe row objects (Mage's records orient). */
export async function readTableRows(conn: DuckDBConnection, table: string): Promise<Record<string, unknown>[]> {
  const reader = await conn.runAndReadAll(`SELECT * FROM ${quoteIdent(table)}`);
  const names = reader.deduplicatedColumnNames();
  const types = reader.columnTypes();
  return reader.getRows().map((row) => {
    const obj: Record<string, unknown> = {};
    row.forEach((value, i) => {
      obj[names[i]] = toJsonValue(value, types[i]);
    });
    return obj;
  });
}

/** The pandas dtype of each column, as written to data_column_types.json. */
export async function columnDtypes(conn: DuckDBConnection, table: string): Promise<Record<string, string>> {
  const columns = await describeTable(conn, table);
  if (columns.length === 0) return {};
  const nullCounts = columns.map((c) => `count(*) - count(${quoteIdent(c.name)})`).join(', ');
  const row = (await conn.runAndReadAll(`SELECT ${nullCounts} FROM ${quoteIdent(table)}`)).getRows()[0] ?? [];
  const out: Record<string, string> = {};
  columns.forEach((c, i) => {
    out[c.name] = pandasDtype(c.type, Number(row[i] ?? 0) > 0);
  });
  return out;
}

/** A sibling path of `target` for temporary use (same parent, so a rename is atomic). */
function siblingPath(target: string, label: string): string {
  return join(dirname(target), `.${basename(target)}.${label}-${randomBytes(6).toString('hex')}`);
}

/**
 * Writes `table` as the block's only output (`output_0`, a DataFrame) into `outputDir`, replacing what is
 * there. `extraFiles` are written into `output_0/` as well (JSON-encoded).
 */
export async function writeTableOutput(
  conn: DuckDBConnection,
  table: string,
  outputDir: string,
  extraFiles: Record<string, unknown> = {},
  beforeCommit?: () => void,
): Promise<void> {
  const staging = siblingPath(outputDir, 'tmp');
  const variableDir = join(staging, 'output_0');
  try {
    await mkdir(variableDir, { recursive: true });
    const source = quoteIdent(table);
    await conn.run(`COPY ${source} TO ${quoteString(join(variableDir, 'data.parquet'))} (FORMAT parquet)`);
    await conn.run(
      `COPY (SELECT * FROM ${source} LIMIT ${SAMPLE_ROWS}) TO ${quoteString(join(variableDir, 'sample_data.parquet'))} (FORMAT parquet)`,
    );
    await writeFile(join(variableDir, 'type.json'), JSON.stringify({ type: 'dataframe' }));
    await writeFile(join(variableDir, 'data_column_types.json'), JSON.stringify(await columnDtypes(conn, table)));
    for (const [name, value] of Object.entries(extraFiles)) {
      await writeFile(join(variableDir, name), JSON.stringify(value)); // path-checked: extraFiles names are the runtime's own
    }
    beforeCommit?.();
    await commitDirectory(staging, outputDir);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

/** Replaces `outputDir` with an empty folder: the block ran and produced no output. */
export async function writeEmptyOutput(outputDir: string): Promise<void> {
  const staging = siblingPath(outputDir, 'tmp');
  await mkdir(staging, { recursive: true });
  await commitDirectory(staging, outputDir);
}

/** Moves `staging` to `target`, replacing any existing folder with two renames. */
async function commitDirectory(staging: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const old = siblingPath(target, 'old');
  let moved = false;
  try {
    await rename(target, old);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  try {
    await rename(staging, target);
  } catch (err) {
    if (moved) await rename(old, target).catch(() => undefined);
    throw err;
  }
  if (moved) await rm(old, { recursive: true, force: true });
}
