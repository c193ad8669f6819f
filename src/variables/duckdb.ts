/**
 * One in-memory DuckDB per thread, used to write and read Parquet. Only DuckDB's built-in extensions
 * (parquet, json) are used: nothing is ever installed, so this works offline.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

let instance: Promise<DuckDBInstance> | null = null;

/** Runs `fn` on a fresh connection to the thread's DuckDB instance and closes the connection after. */
export async function withConnection<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  if (instance === null) {
    instance = DuckDBInstance.create(':memory:', { threads: '2', autoinstall_known_extensions: 'false', autoload_known_extensions: 'true' });
    instance.catch(() => (instance = null));
  }
  const connection = await (await instance).connect();
  try {
    return await fn(connection);
  } finally {
    connection.closeSync();
  }
}

/** A SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A SQL identifier. */
export function sqlIdent(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}
