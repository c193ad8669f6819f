/**
 * Turning block outputs into JSON the way Mage renders them: DataFrames as lists of row objects, datetimes as
 * ISO 8601, NaN/Infinity as null, 64-bit integers as numbers when they fit exactly, otherwise as strings.
 */
import { isArrowTable, tableToRows } from './arrowValues.js';

/** Lists are sampled to this many items per nesting level in `sample_data.json`, as Mage. */
export const JSON_SAMPLE_ITEMS = 20;

/** A JSON-able rendering of any output value (see the module comment for the conversions). */
export function toMageOutputJson(value: unknown): unknown {
  return convert(value, new Set());
}

function convert(value: unknown, seen: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return null;
  }
  if (value === null) return null;
  const obj = value as object;
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString();
  if (isArrowTable(obj)) return tableToRows(obj).map((row) => convert(row, seen));
  if (seen.has(obj)) throw new Error('output value contains a circular reference');
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return obj.map((item) => convert(item, seen));
    if (ArrayBuffer.isView(obj) && !(obj instanceof DataView)) {
      return Array.from(obj as unknown as ArrayLike<number | bigint>, (item) => convert(item, seen));
    }
    if (obj instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of obj) out[String(k)] = convert(v, seen);
      return out;
    }
    if (obj instanceof Set) return [...obj].map((item) => convert(item, seen));
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return convert(toJSON.call(obj), seen);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      out[k] = convert(v, seen);
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

/** Mage's `sample_data.json`: every list cut to `maxItems` items, at every level. Input is already JSON. */
export function sampleJson(value: unknown, maxItems = JSON_SAMPLE_ITEMS): unknown {
  if (Array.isArray(value)) return value.slice(0, maxItems).map((item) => sampleJson(item, maxItems));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = sampleJson(v, maxItems);
    return out;
  }
  return value;
}
