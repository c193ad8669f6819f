/**
 * Reading Parquet into an Apache Arrow table through DuckDB. Fixed-width columns are copied out of DuckDB's
 * vectors in bulk; strings are copied byte for byte into Arrow's Utf8 buffers. Types DuckDB has no direct Arrow counterpart
 * for here (decimal, hugeint, nested, interval, uuid, time, blob...) are cast in SQL first: decimals and
 * hugeints to DOUBLE, everything else to its text (JSON for nested values).
 */
import duckdb from '@duckdb/node-bindings';
import { DuckDBTypeId, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import {
  Bool,
  DateDay,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  Table,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampNanosecond,
  TimestampSecond,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
  makeData,
  makeVector,
  type DataType,
  type Vector,
} from 'apache-arrow';
import { sqlIdent, sqlString, withConnection } from './duckdb.js';

interface FixedKind {
  bytes: number;
  arrow: () => DataType;
  array: new (length: number) => ArrayBufferView & { length: number };
}

const FIXED: Partial<Record<DuckDBTypeId, FixedKind>> = {
  [DuckDBTypeId.TINYINT]: { bytes: 1, arrow: () => new Int8(), array: Int8Array },
  [DuckDBTypeId.SMALLINT]: { bytes: 2, arrow: () => new Int16(), array: Int16Array },
  [DuckDBTypeId.INTEGER]: { bytes: 4, arrow: () => new Int32(), array: Int32Array },
  [DuckDBTypeId.BIGINT]: { bytes: 8, arrow: () => new Int64(), array: BigInt64Array },
  [DuckDBTypeId.UTINYINT]: { bytes: 1, arrow: () => new Uint8(), array: Uint8Array },
  [DuckDBTypeId.USMALLINT]: { bytes: 2, arrow: () => new Uint16(), array: Uint16Array },
  [DuckDBTypeId.UINTEGER]: { bytes: 4, arrow: () => new Uint32(), array: Uint32Array },
  [DuckDBTypeId.UBIGINT]: { bytes: 8, arrow: () => new Uint64(), array: BigUint64Array },
  [DuckDBTypeId.FLOAT]: { bytes: 4, arrow: () => new Float32(), array: Float32Array },
  [DuckDBTypeId.DOUBLE]: { bytes: 8, arrow: () => new Float64(), array: Float64Array },
  [DuckDBTypeId.DATE]: { bytes: 4, arrow: () => new DateDay(), array: Int32Array },
  [DuckDBTypeId.TIMESTAMP]: { bytes: 8, arrow: () => new TimestampMicrosecond(), array: BigInt64Array },
  [DuckDBTypeId.TIMESTAMP_S]: { bytes: 8, arrow: () => new TimestampSecond(), array: BigInt64Array },
  [DuckDBTypeId.TIMESTAMP_MS]: { bytes: 8, arrow: () => new TimestampMillisecond(), array: BigInt64Array },
  [DuckDBTypeId.TIMESTAMP_NS]: { bytes: 8, arrow: () => new TimestampNanosecond(), array: BigInt64Array },
  [DuckDBTypeId.TIMESTAMP_TZ]: { bytes: 8, arrow: () => new TimestampMicrosecond('UTC'), array: BigInt64Array },
};

function selectExpression(name: string, type: DuckDBType): string {
  const id = sqlIdent(name);
  if (FIXED[type.typeId] || type.typeId === DuckDBTypeId.VARCHAR || type.typeId === DuckDBTypeId.BOOLEAN) return id;
  if (type.typeId === DuckDBTypeId.DECIMAL || type.typeId === DuckDBTypeId.HUGEINT || type.typeId === DuckDBTypeId.UHUGEINT) {
    return `CAST(${id} AS DOUBLE) AS ${id}`;
  }
  if (type.typeId === DuckDBTypeId.LIST || type.typeId === DuckDBTypeId.STRUCT || type.typeId === DuckDBTypeId.MAP || type.typeId === DuckDBTypeId.ARRAY) {
    return `CAST(to_json(${id}) AS VARCHAR) AS ${id}`;
  }
  return `CAST(${id} AS VARCHAR) AS ${id}`;
}

/**
 * Collects a VARCHAR column as Arrow Utf8 buffers straight from DuckDB's `duckdb_string_t` slots (16 bytes:
 * a uint32 length, then the bytes inline when at most 12, else a 4-byte prefix and a pointer), with no
 * decoding to JS strings. Null slots have length 0.
 */
class Utf8Builder {
  readonly offsets: Int32Array;
  bytes: Uint8Array;
  private row = 0;
  private used = 0;

  constructor(rowCount: number) {
    this.offsets = new Int32Array(rowCount + 1);
    this.bytes = new Uint8Array(Math.max(1024, rowCount * 8));
  }

  private reserve(extra: number): void {
    if (this.used + extra <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.used + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.used));
    this.bytes = next;
  }

  append(vector: duckdb.Vector, count: number): void {
    const slots = duckdb.vector_get_data(vector, count * 16);
    const view = new DataView(slots.buffer, slots.byteOffset, slots.byteLength);
    const validity = duckdb.vector_get_validity(vector, Math.ceil(count / 64) * 8) as Uint8Array | null;
    for (let i = 0; i < count; i++) {
      const valid = !validity || validity.length === 0 || ((validity[i >> 3] >> (i & 7)) & 1) === 1;
      if (valid) {
        const offset = i * 16;
        const length = view.getUint32(offset, true);
        if (length > 0) {
          this.reserve(length);
          const source =
            length <= 12
              ? slots.subarray(offset + 4, offset + 4 + length)
              : duckdb.get_data_from_pointer(slots.buffer as ArrayBuffer, slots.byteOffset + offset + 8, length);
          this.bytes.set(source, this.used);
          this.used += length;
        }
      }
      this.offsets[++this.row] = this.used;
    }
  }

  finish(): { offsets: Int32Array; bytes: Uint8Array } {
    if (this.used > 0x7fffffff) throw new Error('string column too large for Arrow Utf8 (over 2 GiB)');
    return { offsets: this.offsets, bytes: this.bytes.subarray(0, this.used) };
  }
}

/** Appends `count` validity bits read from DuckDB's mask to `bitmap` starting at bit `at`; returns the nulls seen. */
function appendValidity(bitmap: Uint8Array, at: number, vector: duckdb.Vector, count: number): number {
  const mask = duckdb.vector_get_validity(vector, Math.ceil(count / 64) * 8) as Uint8Array | null;
  if (mask === null || mask === undefined || mask.length === 0) {
    for (let i = 0; i < count; i++) bitmap[(at + i) >> 3] |= 1 << ((at + i) & 7);
    return 0;
  }
  let nulls = 0;
  if (at % 8 === 0) {
    const bytes = Math.ceil(count / 8);
    bitmap.set(mask.subarray(0, bytes), at >> 3);
    // Bits past `count` in the last byte belong to rows of later chunks; clear them so those rows start clean.
    const tail = count % 8;
    if (tail !== 0) bitmap[(at >> 3) + bytes - 1] &= (1 << tail) - 1;
    for (let i = 0; i < count; i++) if (((mask[i >> 3] >> (i & 7)) & 1) === 0) nulls++;
    return nulls;
  }
  for (let i = 0; i < count; i++) {
    if ((mask[i >> 3] >> (i & 7)) & 1) bitmap[(at + i) >> 3] |= 1 << ((at + i) & 7);
    else nulls++;
  }
  return nulls;
}

async function readQuery(connection: DuckDBConnection, source: string, limit?: number): Promise<Table> {
  const probe = await connection.run(`SELECT * FROM ${source} LIMIT 0`);
  const names = probe.columnNames();
  const types = probe.columnTypes();
  const select = names.map((n, i) => selectExpression(n, types[i])).join(', ');
  const result = await connection.run(`SELECT ${select || '*'} FROM ${source}${limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(limit))}`}`);
  const resultTypes = result.columnTypes();
  const rowCount = result.rowCount;
  const columns: Record<string, Vector> = {};
  const fixedTargets = resultTypes.map((t) => {
    const kind = FIXED[t.typeId];
    return kind ? { kind, values: new kind.array(rowCount) } : null;
  });
  const bitmaps = resultTypes.map(() => new Uint8Array(Math.ceil(rowCount / 8)));
  const nullCounts = resultTypes.map(() => 0);
  const strings: (Utf8Builder | null)[] = resultTypes.map((t) => (t.typeId === DuckDBTypeId.VARCHAR ? new Utf8Builder(rowCount) : null));
  const bools: (Uint8Array | null)[] = resultTypes.map((t) => (t.typeId === DuckDBTypeId.BOOLEAN ? new Uint8Array(rowCount) : null));

  let at = 0;
  for (let c = 0; c < result.chunkCount; c++) {
    const chunk = result.getChunk(c);
    const count = chunk.rowCount;
    if (count === 0) continue;
    for (let col = 0; col < resultTypes.length; col++) {
      const raw = duckdb.data_chunk_get_vector(chunk.chunk, col);
      nullCounts[col] += appendValidity(bitmaps[col], at, raw, count);
      const fixed = fixedTargets[col];
      if (fixed) {
        const bytes = duckdb.vector_get_data(raw, count * fixed.kind.bytes);
        new Uint8Array(fixed.values.buffer, at * fixed.kind.bytes, count * fixed.kind.bytes).set(bytes);
        continue;
      }
      const boolTarget = bools[col];
      if (boolTarget) {
        boolTarget.set(duckdb.vector_get_data(raw, count), at);
        continue;
      }
      (strings[col] as Utf8Builder).append(raw, count);
    }
    at += count;
  }

  names.forEach((name, col) => {
    const fixed = fixedTargets[col];
    const nullBitmap = nullCounts[col] > 0 ? bitmaps[col] : undefined;
    if (fixed) {
      columns[name] = makeVector(
        makeData({ type: fixed.kind.arrow(), length: rowCount, nullCount: nullCounts[col], data: fixed.values, nullBitmap } as never),
      );
    } else if (bools[col]) {
      const bytes = bools[col] as Uint8Array;
      const packed = new Uint8Array(Math.ceil(rowCount / 8));
      for (let i = 0; i < rowCount; i++) if (bytes[i]) packed[i >> 3] |= 1 << (i & 7);
      columns[name] = makeVector(makeData({ type: new Bool(), length: rowCount, nullCount: nullCounts[col], data: packed, nullBitmap } as never));
    } else {
      const built = (strings[col] as Utf8Builder).finish();
      columns[name] = makeVector(
        makeData({ type: new Utf8(), length: rowCount, nullCount: nullCounts[col], valueOffsets: built.offsets, data: built.bytes, nullBitmap } as never),
      );
    }
  });
  return new Table(columns);
}

/** Reads a Parquet file (all rows, or the first `limit`) into an Arrow table. */
export async function readParquetTable(path: string, limit?: number): Promise<Table> {
  return withConnection((connection) => readQuery(connection, `read_parquet(${sqlString(path)})`, limit));
}

/** The number of rows and columns of a Parquet file, from its footer. */
export async function parquetShape(path: string): Promise<[number, number]> {
  return withConnection(async (connection) => {
    const rows = await connection.run(`SELECT count(*)::BIGINT AS n FROM read_parquet(${sqlString(path)})`);
    const probe = await connection.run(`SELECT * FROM read_parquet(${sqlString(path)}) LIMIT 0`);
    return [Number(rows.getChunk(0).getColumns()[0][0] as bigint), probe.columnCount];
  });
}
