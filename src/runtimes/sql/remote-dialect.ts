/** The interface the PostgreSQL and MySQL drivers implement for the remote engine. */
import type { DuckDBType } from '@duckdb/node-api';

export interface RemoteColumn {
  name: string;
  /** The DuckDB type the column is stored as in the block's Parquet output. */
  duckdbType: string;
}

export interface RemoteQueryResult {
  /** Columns when the statement returned rows (a query), else null. */
  columns: RemoteColumn[] | null;
  /** Rows with driver values normalised to JSON (dates and big numbers as strings, bytes as text). */
  rows: Record<string, unknown>[];
}

/** One checked-out connection. All statements of a run use the same session. */
export interface RemoteSession {
  query(sql: string): Promise<RemoteQueryResult>;
  tableExists(schema: string, table: string): Promise<boolean>;
  /** Creates the schema (PostgreSQL) when missing; MySQL databases are not created. */
  ensureSchema(schema: string): Promise<void>;
  /** Drops `schema.table` if present and creates it with these columns (DuckDB types mapped to the dialect). */
  recreateTable(schema: string, table: string, columns: { name: string; type: DuckDBType }[]): Promise<void>;
  /** Inserts JSON rows (as produced by the DuckDB JSON converter) into `schema.table`. */
  insertRows(schema: string, table: string, columns: { name: string; type: DuckDBType }[], rows: Record<string, unknown>[]): Promise<void>;
  /** Asks the server to cancel the statement running on this session (from another connection). */
  cancel(): Promise<void>;
  /** Returns the connection to the pool; `broken` discards it. */
  release(broken: boolean): void;
}

export interface RemoteDialect {
  /** `postgres` or `mysql`: the configuration.data_provider value. */
  readonly provider: string;
  /** The exception name of driver errors (`PostgresError`, `MySQLError`). */
  readonly exceptionName: string;
  /** Split options for this dialect's scripts. */
  readonly split: { backslashEscapes?: boolean; backtickIdentifiers?: boolean };
  quoteIdent(name: string): string;
  /** The schema (PostgreSQL) or database (MySQL) tables are written to. */
  schemaFor(settings: Record<string, unknown>, configuration: Record<string, unknown>): string;
  /** Checks out a session from the pool for these profile settings (pools are created once per settings). */
  connect(settings: Record<string, unknown>): Promise<RemoteSession>;
  close(): Promise<void>;
}
