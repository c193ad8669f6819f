/** What the engines share: the per-request context and the shape of their result. */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { BlockRunRequest, LogLevel } from '../types.js';
import type { BlockInput } from './inputs.js';
import type { RunControl } from './run-control.js';
import type { SqlTableMarker } from './upstream.js';

/** The DuckDB temp table an engine leaves the block's result in. */
export const RESULT_TABLE = '__blockflow_sql_result';

export interface EngineContext {
  request: BlockRunRequest;
  /** This request's own DuckDB connection (temp views and tables are private to it). */
  conn: DuckDBConnection;
  /** A private temp folder, removed after the run. */
  scratchDir: string;
  control: RunControl;
  inputs: BlockInput[];
  /** Environment for env_var(): request.env over process.env. */
  env: Readonly<Record<string, string | undefined>>;
  log(level: LogLevel, message: string): void;
  /**
   * Secret values resolved for this request (templates and io_config.yaml), redacted from the error and log
   * lines the runtime reports: a failing statement or driver message may quote the rendered SQL.
   */
  secrets: Set<string>;
}

export interface EngineResult {
  /** Whether {@link RESULT_TABLE} holds a result; false means the block produced no output. */
  hasResult: boolean;
  /** Set when the result was read back from a table materialised in PostgreSQL or MySQL. */
  sqlTable?: SqlTableMarker;
}
