/**
 * Writing an Apache Arrow table to Parquet through DuckDB: column buffers are copied straight into DuckDB data
 * chunks (no per-value conversion for numbers, timestamps and dates), appended to a scratch table, then
 * `COPY ... (FORMAT parquet)` writes the file. Types are kept: int8..int64, uint8..uint64, float32/64, bool,
 * string, date, timestamp (s/ms/us/ns; with a time zone as TIMESTAMPTZ in UTC). Other Arrow types (lists,
 * structs, decimals, dictionaries of non-strings...) are stored as strings (JSON for nested values).
 */
import duckdb from '@duckdb/node-bindings';
import { DuckDBDataChunk, DuckDBTypeId, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import {
  BIGINT,
  BOOLEAN,
  DATE,
  DOUBLE,
  FLOAT,
  INTEGER,
  SMALLINT,
  TIMESTAMP,
  TIMESTAMPTZ,
  TIMESTAMP_MS,
  TIMESTAMP_NS,
  TIMESTAMP_S,
  TINYINT,
  UBIGINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
} from '@duckdb/node-api';
import { DataType, TimeUnit, Type, makeVector, type Data, type Table, type Vector } from 'apache-arrow';
import { sqlIdent, sqlString, withConnection } from './duckdb.js';

/** Rows per DuckDB data chunk (DuckDB's standard vector size). */
const CHUNK_ROWS = 2048;

type Filler = (vector: duckdb.Vector, data: Data, start: number, count: number) => void;

interface ColumnPlan {
  name: string;
  duckType: DuckDBType;
  fill: Filler;
  /** pandas dtype name for data_column_types.json. */
  pandasType: string;
}

function copyFixed(bytesPerValue: number): Filler {
  return (vector, data, start, count) => {
    const values = data.values as unknown as ArrayBufferView;
    duckdb.copy_data_to_vector(
      vector,
      0,
      values.buffer as ArrayBuffer,
      values.byteOffset + (data.offset + start) * bytesPerValue,
      count * bytesPerValue,
    );
  };
}

const fillBool: Filler = (vector, data, start, count) => {
  const bits = data.values as Uint8Array;
  const bytes = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const bit = data.offset + start + i;
    bytes[i] = (bits[bit >> 3] >> (bit & 7)) & 1;
  }
  duckdb.copy_data_to_vector(vector, 0, bytes.buffer, 0, count);
};

function isValid(data: Data, index: number): boolean {
  const bitmap = data.nullBitmap;
  if (!bitmap || bitmap.length === 0 || data.nullCount === 0) return true;
  const bit = data.offset + index;
  return ((bitmap[bit >> 3] >> (bit & 7)) & 1) === 1;
}

const fillUtf8: Filler = (vector, data, start, count) => {
  const offsets = data.valueOffsets as Int32Array | BigInt64Array;
  const bytes = data.values as Uint8Array;
  const base = data.offset + start;
  for (let i = 0; i < count; i++) {
    if (!isValid(data, start + i)) continue;
    const from = Number(offsets[base + i]);
    const to = Number(offsets[base + i + 1]);
    duckdb.vector_assign_string_element_len(vector, i, bytes.subarray(from, to));
  }
};

/** Any type without a direct mapping: the value's string form (JSON for objects). */
function fillAsString(vectorOf: (data: Data) => Vector): Filler {
  let cachedData: Data | null = null;
  let cachedColumn: Vector | null = null;
  return (vector, data, start, count) => {
    if (cachedData !== data) (cachedData = data), (cachedColumn = vectorOf(data));
    const column = cachedColumn as Vector;
    for (let i = 0; i < count; i++) {
      const value: unknown = column.get(start + i);
      if (value === null || value === undefined) continue;
      const text =
        typeof value === 'string'
          ? value
          : typeof value === 'object'
            ? JSON.stringify(value, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))
            : String(value);
      duckdb.vector_assign_string_element(vector, i, text);
    }
  };
}

/** Timestamps with a time zone: DuckDB's TIMESTAMPTZ is microseconds since the epoch (UTC). */
function fillTimestampAsMicros(unit: TimeUnit): Filler {
  return (vector, data, start, count) => {
    const values = data.values as unknown as BigInt64Array;
    const out = new BigInt64Array(count);
    const base = data.offset + start;
    for (let i = 0; i < count; i++) {
      const v = values[base + i];
      out[i] = unit === TimeUnit.SECOND ? v * 1_000_000n : unit === TimeUnit.MILLISECOND ? v * 1000n : unit === TimeUnit.NANOSECOND ? v / 1000n : v;
    }
    duckdb.copy_data_to_vector(vector, 0, out.buffer, 0, count * 8);
  };
}

const fillDateMillis: Filler = (vector, data, start, count) => {
  const values = data.values as unknown as BigInt64Array;
  const out = new Int32Array(count);
  const base = data.offset + start;
  for (let i = 0; i < count; i++) out[i] = Math.floor(Number(values[base + i]) / 86_400_000);
  duckdb.copy_data_to_vector(vector, 0, out.buffer, 0, count * 4);
};

function planColumn(name: string, type: DataType, columnVector: (data: Data) => Vector): ColumnPlan {
  const t = type as DataType & { bitWidth?: number; isSigned?: boolean; precision?: number; unit?: TimeUnit; timezone?: string | null };
  switch (type.typeId) {
    case Type.Int: {
      const bits = t.bitWidth ?? 32;
      const signed = t.isSigned !== false;
      const duckType = signed
        ? ({ 8: TINYINT, 16: SMALLINT, 32: INTEGER, 64: BIGINT } as Record<number, DuckDBType>)[bits]
        : ({ 8: UTINYINT, 16: USMALLINT, 32: UINTEGER, 64: UBIGINT } as Record<number, DuckDBType>)[bits];
      return { name, duckType: duckType ?? BIGINT, fill: copyFixed(bits / 8), pandasType: `${signed ? 'int' : 'uint'}${bits}` };
    }
    case Type.Float: {
      // Precision.HALF has no DuckDB counterpart; it goes through the string path below.
      if (t.precision === 1) return { name, duckType: FLOAT, fill: copyFixed(4), pandasType: 'float32' };
      if (t.precision === 2) return { name, duckType: DOUBLE, fill: copyFixed(8), pandasType: 'float64' };
      break;
    }
    case Type.Bool:
      return { name, duckType: BOOLEAN, fill: fillBool, pandasType: 'bool' };
    case Type.Utf8:
    case Type.LargeUtf8:
      return { name, duckType: VARCHAR, fill: fillUtf8, pandasType: 'object' };
    case Type.Date:
      return t.unit === 0 /* DateUnit.DAY */
        ? { name, duckType: DATE, fill: copyFixed(4), pandasType: 'object' }
        : { name, duckType: DATE, fill: fillDateMillis, pandasType: 'object' };
    case Type.Timestamp: {
      const unit = t.unit ?? TimeUnit.MILLISECOND;
      if (t.timezone) return { name, duckType: TIMESTAMPTZ, fill: fillTimestampAsMicros(unit), pandasType: `datetime64[ns, ${t.timezone}]` };
      const duckType = { [TimeUnit.SECOND]: TIMESTAMP_S, [TimeUnit.MILLISECOND]: TIMESTAMP_MS, [TimeUnit.MICROSECOND]: TIMESTAMP, [TimeUnit.NANOSECOND]: TIMESTAMP_NS }[unit];
      return { name, duckType, fill: copyFixed(8), pandasType: 'datetime64[ns]' };
    }
  }
  return { name, duckType: VARCHAR, fill: fillAsString(columnVector), pandasType: 'object' };
}

/** The pandas dtype names Mage writes to `data_column_types.json`, for a table's columns. */
export function pandasColumnTypes(table: Table): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of table.schema.fields) out[field.name] = planColumn(field.name, field.type, () => undefined as never).pandasType;
  return out;
}

function duckTypeSql(type: DuckDBType): string {
  return type.typeId === DuckDBTypeId.TIMESTAMP_TZ ? 'TIMESTAMPTZ' : type.toString();
}

async function loadTable(connection: DuckDBConnection, tableName: string, table: Table): Promise<void> {
  const fields = table.schema.fields;
  if (fields.length === 0) throw new Error('cannot write a table with no columns to Parquet');
  const names = new Set<string>();
  for (const f of fields) {
    if (names.has(f.name)) throw new Error(`table has two columns named ${JSON.stringify(f.name)}; Parquet needs unique names`);
    names.add(f.name);
  }
  const plans = fields.map((field) => planColumn(field.name, field.type, (data) => makeVector(data)));
  await connection.run(
    `CREATE TABLE ${sqlIdent(tableName)} (${plans.map((p) => `${sqlIdent(p.name)} ${duckTypeSql(p.duckType)}`).join(', ')})`,
  );
  const appender = await connection.createAppender(tableName);
  const chunk = DuckDBDataChunk.create(plans.map((p) => p.duckType));
  try {
    for (const batch of table.batches) {
      const columnsData = plans.map((_p, i) => batch.data.children[i] as Data);
      for (let start = 0; start < batch.numRows; start += CHUNK_ROWS) {
        const count = Math.min(CHUNK_ROWS, batch.numRows - start);
        chunk.reset();
        chunk.rowCount = count;
        for (let c = 0; c < plans.length; c++) {
          const data = columnsData[c];
          const vector = duckdb.data_chunk_get_vector(chunk.chunk, c);
          plans[c].fill(vector, data, start, count);
          if (data.nullCount > 0) writeValidity(vector, data, start, count);
        }
        appender.appendDataChunk(chunk);
      }
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

function writeValidity(vector: duckdb.Vector, data: Data, start: number, count: number): void {
  duckdb.vector_ensure_validity_writable(vector);
  const bitmap = data.nullBitmap as Uint8Array;
  const first = data.offset + start;
  const byteCount = Math.ceil(count / 8);
  if (first % 8 === 0) {
    const copy = bitmap.slice(first >> 3, (first >> 3) + byteCount);
    duckdb.copy_data_to_vector_validity(vector, 0, copy.buffer, 0, copy.byteLength);
    return;
  }
  const aligned = new Uint8Array(byteCount);
  for (let i = 0; i < count; i++) {
    const bit = first + i;
    if ((bitmap[bit >> 3] >> (bit & 7)) & 1) aligned[i >> 3] |= 1 << (i & 7);
  }
  duckdb.copy_data_to_vector_validity(vector, 0, aligned.buffer, 0, byteCount);
}

let scratchCounter = 0;

/**
 * Writes `table` to `dataPath` as Parquet (snappy) and, when `samplePath` is given, its first `sampleRows` rows to
 * `samplePath`.
 */
export async function writeTableParquet(table: Table, dataPath: string, samplePath?: string, sampleRows = 1000): Promise<void> {
  await withConnection(async (connection) => {
    const name = `bf_out_${process.pid}_${++scratchCounter}`;
    try {
      await loadTable(connection, name, table);
      await connection.run(`COPY ${sqlIdent(name)} TO ${sqlString(dataPath)} (FORMAT parquet)`);
      if (samplePath !== undefined) {
        await connection.run(`COPY (SELECT * FROM ${sqlIdent(name)} LIMIT ${Math.max(0, Math.floor(sampleRows))}) TO ${sqlString(samplePath)} (FORMAT parquet)`);
      }
    } finally {
      await connection.run(`DROP TABLE IF EXISTS ${sqlIdent(name)}`);
    }
  });
}
