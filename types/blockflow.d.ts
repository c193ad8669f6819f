/**
 * Authoring types for Blockflow TypeScript/JavaScript blocks: `import { ... } from 'blockflow'` in a block file.
 * At run time the runtime resolves 'blockflow' to its own implementation; this file gives an editor the types
 * (add it to the project's tsconfig `files`, or reference it with `/// <reference path="..." />`).
 *
 * A block file default-exports its function. It receives the context first, then one argument per upstream
 * block in `upstream_blocks` order (an upstream with one output gives that value, one with several gives the list):
 *
 * ```ts
 * import { table, type BlockContext } from 'blockflow';
 * import type { Table } from 'apache-arrow';
 *
 * export default async function transform(ctx: BlockContext, orders: Table): Promise<Table> {
 *   ctx.logger.info(`running for ${ctx.kwargs.ds}`);
 *   const rows = orders.toArray().filter((r) => r.amount > 0);
 *   return table(rows.map((r) => ({ id: r.id, amount: r.amount })));
 * }
 *
 * export function testNotEmpty(output: Table) {
 *   if (output.numRows === 0) throw new Error('no rows');
 * }
 * ```
 *
 * Return values follow Mage: an Arrow `Table` is one DataFrame output; an array is split into outputs
 * (`output_0`, `output_1`, ...), so a bare array of row objects is *many* outputs, not a table: wrap rows with
 * `table(rows)`; `undefined`/`null` is no output; anything else (object, string, number...) is one JSON output.
 *
 * Other named exports:
 * - `test*` functions run after the block with its outputs as arguments; a throw marks the run `test_failed`.
 * - `condition` (a function or a list of them): `(ctx, ...inputs) => boolean`, the block runs when all are truthy.
 * - `onSuccess` / `onFailure`: callbacks `(ctx, ...inputs) => void`.
 */
declare module 'blockflow' {
  import type { Table } from 'apache-arrow';
  export { Table, tableFromArrays, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';

  /** Column types `table()` can be told to use instead of inferring them. */
  export type ColumnTypeName = 'int64' | 'float64' | 'string' | 'bool' | 'timestamp' | 'json';

  /**
   * An Arrow table from row objects, stored as a DataFrame (Parquet). Types are inferred per column: integers ->
   * int64, other numbers -> float64, strings -> string, booleans -> bool, `Date` -> timestamp (ms, UTC), objects or
   * mixed kinds -> a string column of JSON. `types` overrides the inference by column name.
   */
  export function table(rows: readonly Record<string, unknown>[], types?: Readonly<Record<string, ColumnTypeName>>): Table;

  /** Python logging's levels; lines go to the block run's log. */
  export interface Logger {
    debug(...args: unknown[]): void;
    info(...args: unknown[]): void;
    warning(...args: unknown[]): void;
    /** Same as `warning`. */
    warn(...args: unknown[]): void;
    error(...args: unknown[]): void;
    /** Same as `error` (Python's `logger.exception`). */
    exception(...args: unknown[]): void;
  }

  /**
   * Mage's keyword arguments: global, trigger and run variables plus the values below. Datetimes are `Date`s.
   * Extend it for your own variables: `BlockContext<Kwargs & { country: string }>`.
   */
  export interface Kwargs {
    execution_date: Date;
    /** `YYYY-MM-DD` of the execution date. */
    ds: string;
    /** Hour of the execution date, `HH`. */
    hr: string;
    /** `prod` in triggered runs, `dev` otherwise (or the ENV environment variable). */
    env: string;
    pipeline_uuid: string;
    block_uuid: string;
    /** The block's `configuration` from the pipeline's metadata.yaml. */
    configuration: Record<string, unknown>;
    /** Project root. */
    repo_path: string;
    execution_partition?: string;
    pipeline_run_id?: number;
    trigger_name?: string;
    /** Payload of the event that triggered the run (API or event triggers). */
    event?: Record<string, unknown>;
    interval_start_datetime?: Date;
    interval_end_datetime?: Date;
    interval_seconds?: number;
    interval_start_datetime_previous?: Date;
    [variable: string]: unknown;
  }

  export interface BlockContext<K extends Kwargs = Kwargs> {
    kwargs: K;
    logger: Logger;
    /** A pipeline variable by name (from `kwargs`), as Mage's `variables('name')`. */
    variables<T = unknown>(name: string): T | undefined;
    /** A secret's value; rejects when the secret does not exist. */
    secret(name: string): Promise<string>;
    /** Aborted when the run is cancelled or times out; the thread is stopped shortly after regardless. */
    signal: AbortSignal;
  }

  /** The shape of a block's default export. */
  export type BlockFunction<Inputs extends unknown[] = unknown[], Output = unknown, K extends Kwargs = Kwargs> = (
    ctx: BlockContext<K>,
    ...inputs: Inputs
  ) => Output | Promise<Output>;

  /** The shape of a `condition` export. */
  export type ConditionFunction<Inputs extends unknown[] = unknown[]> = (ctx: BlockContext, ...inputs: Inputs) => boolean | Promise<boolean>;

  /** The shape of `onSuccess` / `onFailure` exports. */
  export type CallbackFunction<Inputs extends unknown[] = unknown[]> = (ctx: BlockContext, ...inputs: Inputs) => void | Promise<void>;
}
