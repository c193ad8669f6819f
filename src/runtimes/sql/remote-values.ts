/** Value and type helpers shared by the PostgreSQL and MySQL dialects. */
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';

/** An integer given as text: a number when it fits in a double exactly, else the text. */
export function integerText(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

/** A decimal given as text as a number; non-finite values become null (JSON has no NaN). */
export function decimalText(text: string): number | null {
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

/** Whether values of this DuckDB type are lists/objects that are stored as JSON text in a remote database. */
export function isNestedType(type: DuckDBType): boolean {
  return [DuckDBTypeId.LIST, DuckDBTypeId.STRUCT, DuckDBTypeId.MAP, DuckDBTypeId.ARRAY, DuckDBTypeId.UNION, DuckDBTypeId.VARIANT].includes(
    type.typeId,
  );
}

/** Whether values of this DuckDB type are timestamps (given as ISO strings by the JSON converter). */
export function isTimestampType(type: DuckDBType): boolean {
  return [
    DuckDBTypeId.TIMESTAMP,
    DuckDBTypeId.TIMESTAMP_S,
    DuckDBTypeId.TIMESTAMP_MS,
    DuckDBTypeId.TIMESTAMP_NS,
    DuckDBTypeId.TIMESTAMP_TZ,
  ].includes(type.typeId);
}

/** The `DECIMAL(p,s)` text of a DuckDB decimal type. */
export function decimalSpec(type: DuckDBType): string {
  const m = /DECIMAL\((\d+),\s*(\d+)\)/i.exec(type.toString());
  return m ? `(${m[1]},${m[2]})` : '(38,10)';
}
