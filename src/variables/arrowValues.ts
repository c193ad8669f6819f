/**
 * Apache Arrow tables as block outputs: recognising them, turning them into row objects, and building them
 * from row objects (the `table()` helper of the `blockflow` authoring module).
 */
import {
  Bool,
  DataType,
  Float64,
  Int64,
  Table,
  TimestampMillisecond,
  Type,
  Utf8,
  vectorFromArray,
  type Vector,
} from 'apache-arrow';

/**
 * True for an apache-arrow `Table`, also one built by another copy of the library (a block may import its own
 * apache-arrow), which is why this checks the shape rather than `instanceof` alone.
 */
export function isArrowTable(value: unknown): value is Table {
  if (value instanceof Table) return true;
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.getChildAt === 'function' &&
    Array.isArray(v.batches) &&
    typeof v.numRows === 'number' &&
    v.schema !== null &&
    typeof v.schema === 'object' &&
    Array.isArray((v.schema as { fields?: unknown }).fields)
  );
}

/** A function turning the value Arrow's `get()` returns into the JS value a row object holds. */
type CellReader = (raw: unknown) => unknown;

function cellReader(type: DataType): CellReader {
  switch (type.typeId) {
    case Type.Timestamp:
    case Type.Date:
      // apache-arrow returns epoch milliseconds (a number) for both.
      return (raw) => (raw === null || raw === undefined ? null : new Date(Number(raw)));
    case Type.Struct:
    case Type.Map:
    case Type.List:
    case Type.FixedSizeList:
      return (raw) => {
        if (raw === null || raw === undefined) return null;
        const withJson = raw as { toJSON?: () => unknown };
        return typeof withJson.toJSON === 'function' ? withJson.toJSON() : raw;
      };
    default:
      return (raw) => (raw === undefined ? null : raw);
  }
}

/** The rows of a table as plain objects; timestamps and dates become `Date`, 64-bit integers stay `bigint`. */
export function tableToRows(table: Table, limit = Number.POSITIVE_INFINITY): Record<string, unknown>[] {
  const count = Math.min(table.numRows, limit);
  const fields = table.schema.fields;
  const columns = fields.map((field, i) => ({ name: field.name, vector: table.getChildAt(i) as Vector, read: cellReader(field.type) }));
  const rows: Record<string, unknown>[] = new Array(count);
  for (let r = 0; r < count; r++) {
    const row: Record<string, unknown> = {};
    for (const c of columns) row[c.name] = c.read(c.vector.get(r));
    rows[r] = row;
  }
  return rows;
}

/** Column types accepted by `tableFromRows` overrides. */
export type ColumnTypeName = 'int64' | 'float64' | 'string' | 'bool' | 'timestamp' | 'json';

function inferColumnType(values: unknown[]): ColumnTypeName {
  let kind: ColumnTypeName | null = null;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    let k: ColumnTypeName;
    if (typeof v === 'bigint') k = 'int64';
    else if (typeof v === 'number') k = Number.isSafeInteger(v) ? 'int64' : 'float64';
    else if (typeof v === 'string') k = 'string';
    else if (typeof v === 'boolean') k = 'bool';
    else if (v instanceof Date) k = 'timestamp';
    else k = 'json';
    if (kind === null) kind = k;
    else if (kind !== k) {
      const numeric = (x: ColumnTypeName): boolean => x === 'int64' || x === 'float64';
      if (numeric(kind) && numeric(k)) kind = 'float64';
      else return 'json';
    }
  }
  // An all-null column is a string column, as pandas' object dtype would be read back by most tools.
  return kind ?? 'string';
}

function buildVector(name: string, type: ColumnTypeName, values: unknown[]): Vector {
  switch (type) {
    case 'int64':
      return vectorFromArray(
        values.map((v) => {
          if (v === null || v === undefined) return null;
          if (typeof v === 'bigint') return v;
          if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
          throw new Error(`column ${JSON.stringify(name)} is int64 but holds ${String(v)}`);
        }),
        new Int64(),
      );
    case 'float64':
      return vectorFromArray(values.map((v) => (v === null || v === undefined ? null : Number(v))), new Float64());
    case 'string':
      return vectorFromArray(values.map((v) => (v === null || v === undefined ? null : String(v))), new Utf8());
    case 'bool':
      return vectorFromArray(values.map((v) => (v === null || v === undefined ? null : Boolean(v))), new Bool());
    case 'timestamp':
      return vectorFromArray(
        values.map((v) => {
          if (v === null || v === undefined) return null;
          const d = v instanceof Date ? v : new Date(v as string | number);
          if (Number.isNaN(d.getTime())) throw new Error(`column ${JSON.stringify(name)} is a timestamp but holds ${String(v)}`);
          return d;
        }),
        new TimestampMillisecond(),
      );
    case 'json':
      return vectorFromArray(values.map((v) => (v === null || v === undefined ? null : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)))), new Utf8());
  }
}

/**
 * An Arrow table from row objects. Column order is first appearance across rows; types are inferred per column:
 * integers -> int64, other numbers -> float64, strings -> string, booleans -> bool, Dates -> timestamp (ms, UTC),
 * anything else (objects, mixed kinds) -> a string column holding JSON. `types` overrides the inference by name.
 */
export function tableFromRows(rows: readonly Record<string, unknown>[], types: Readonly<Record<string, ColumnTypeName>> = {}): Table {
  if (!Array.isArray(rows)) throw new Error('table(rows): rows must be an array of objects');
  const names: string[] = [];
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      throw new Error(`table(rows): row ${i} is not an object`);
    }
    for (const key of Object.keys(row)) if (!seen.has(key)) (seen.add(key), names.push(key));
  });
  for (const key of Object.keys(types)) if (!seen.has(key)) (seen.add(key), names.push(key));
  const columns: Record<string, Vector> = {};
  for (const name of names) {
    const values = rows.map((row) => row[name]);
    columns[name] = buildVector(name, types[name] ?? inferColumnType(values), values);
  }
  return new Table(columns);
}
