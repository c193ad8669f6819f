/**
 * Conversions of DuckDB values and types to what Mage clients see: JSON row values (BIGINT as a number when
 * it fits, else a string; DECIMAL as a number; dates and timestamps ISO 8601; NaN and infinities as null)
 * and pandas dtype names for data_column_types.json.
 */
import {
  DuckDBTypeId,
  arrayFromArrayValue,
  arrayFromListValue,
  booleanFromValue,
  createDuckDBValueConverter,
  doubleFromDecimalValue,
  fromVariantValue,
  nullConverter,
  numberFromValue,
  objectArrayFromMapValue,
  objectFromStructValue,
  objectFromUnionValue,
  stringFromValue,
  unsupportedConverter,
  type DuckDBType,
  type DuckDBValue,
  type DuckDBValueConverter,
} from '@duckdb/node-api';

const bigToJson: DuckDBValueConverter<unknown> = (value) => {
  const b = typeof value === 'bigint' ? value : BigInt(String(value));
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString();
};

const floatToJson: DuckDBValueConverter<unknown> = (value) => {
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
};

const decimalToJson: DuckDBValueConverter<unknown> = (value) => {
  const n = doubleFromDecimalValue(value);
  return Number.isFinite(n) ? n : null;
};

/** `2024-01-02 03:04:05.123456` -> `2024-01-02T03:04:05.123456`; `+00` offsets become `+00:00`. */
export function isoTimestamp(text: string): string {
  const m = /^(-?\d{4,}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})?(?::?(\d{2}))?$/.exec(text);
  if (!m) return text;
  const offset = m[3] === undefined ? '' : `${m[3]}:${m[4] ?? '00'}`;
  return `${m[1]}T${m[2]}${offset}`;
}

const timestampToJson: DuckDBValueConverter<unknown> = (value) => isoTimestamp(String(value));

const toStringValue: DuckDBValueConverter<unknown> = (value) => stringFromValue(value);

const converters: Record<DuckDBTypeId, DuckDBValueConverter<unknown> | undefined> = {
  [DuckDBTypeId.INVALID]: unsupportedConverter,
  [DuckDBTypeId.BOOLEAN]: booleanFromValue,
  [DuckDBTypeId.TINYINT]: numberFromValue,
  [DuckDBTypeId.SMALLINT]: numberFromValue,
  [DuckDBTypeId.INTEGER]: numberFromValue,
  [DuckDBTypeId.BIGINT]: bigToJson,
  [DuckDBTypeId.UTINYINT]: numberFromValue,
  [DuckDBTypeId.USMALLINT]: numberFromValue,
  [DuckDBTypeId.UINTEGER]: numberFromValue,
  [DuckDBTypeId.UBIGINT]: bigToJson,
  [DuckDBTypeId.FLOAT]: floatToJson,
  [DuckDBTypeId.DOUBLE]: floatToJson,
  [DuckDBTypeId.TIMESTAMP]: timestampToJson,
  [DuckDBTypeId.DATE]: toStringValue,
  [DuckDBTypeId.TIME]: toStringValue,
  [DuckDBTypeId.INTERVAL]: toStringValue,
  [DuckDBTypeId.HUGEINT]: bigToJson,
  [DuckDBTypeId.UHUGEINT]: bigToJson,
  [DuckDBTypeId.VARCHAR]: toStringValue,
  [DuckDBTypeId.BLOB]: toStringValue,
  [DuckDBTypeId.DECIMAL]: decimalToJson,
  [DuckDBTypeId.TIMESTAMP_S]: timestampToJson,
  [DuckDBTypeId.TIMESTAMP_MS]: timestampToJson,
  [DuckDBTypeId.TIMESTAMP_NS]: timestampToJson,
  [DuckDBTypeId.ENUM]: toStringValue,
  [DuckDBTypeId.LIST]: arrayFromListValue,
  [DuckDBTypeId.STRUCT]: objectFromStructValue,
  [DuckDBTypeId.MAP]: objectArrayFromMapValue,
  [DuckDBTypeId.ARRAY]: arrayFromArrayValue,
  [DuckDBTypeId.UUID]: toStringValue,
  [DuckDBTypeId.UNION]: objectFromUnionValue,
  [DuckDBTypeId.BIT]: toStringValue,
  [DuckDBTypeId.TIME_TZ]: toStringValue,
  [DuckDBTypeId.TIMESTAMP_TZ]: timestampToJson,
  [DuckDBTypeId.ANY]: unsupportedConverter,
  [DuckDBTypeId.BIGNUM]: bigToJson,
  [DuckDBTypeId.SQLNULL]: nullConverter,
  [DuckDBTypeId.STRING_LITERAL]: unsupportedConverter,
  [DuckDBTypeId.INTEGER_LITERAL]: unsupportedConverter,
  [DuckDBTypeId.TIME_NS]: toStringValue,
  [DuckDBTypeId.GEOMETRY]: toStringValue,
  [DuckDBTypeId.VARIANT]: fromVariantValue,
};

/** Converts DuckDB values to JSON-safe values (see the module comment). */
export const jsonRowConverter: DuckDBValueConverter<unknown> = createDuckDBValueConverter(converters);

/** Converts one value of `type` with {@link jsonRowConverter}. */
export function toJsonValue(value: DuckDBValue, type: DuckDBType): unknown {
  return value === null ? null : jsonRowConverter(value, type, jsonRowConverter);
}

const INTEGER_DTYPES: Partial<Record<DuckDBTypeId, string>> = {
  [DuckDBTypeId.TINYINT]: 'int8',
  [DuckDBTypeId.SMALLINT]: 'int16',
  [DuckDBTypeId.INTEGER]: 'int32',
  [DuckDBTypeId.BIGINT]: 'int64',
  [DuckDBTypeId.UTINYINT]: 'uint8',
  [DuckDBTypeId.USMALLINT]: 'uint16',
  [DuckDBTypeId.UINTEGER]: 'uint32',
  [DuckDBTypeId.UBIGINT]: 'uint64',
};

/**
 * The pandas dtype a column gets when pyarrow reads the Parquet file into pandas. Integer columns holding
 * nulls become float64 and boolean columns holding nulls become object, as pandas does.
 */
export function pandasDtype(type: DuckDBType, hasNulls: boolean): string {
  const id = type.typeId;
  const int = INTEGER_DTYPES[id];
  if (int) return hasNulls ? 'float64' : int;
  switch (id) {
    case DuckDBTypeId.BOOLEAN:
      return hasNulls ? 'object' : 'bool';
    case DuckDBTypeId.FLOAT:
      return 'float32';
    case DuckDBTypeId.DOUBLE:
      return 'float64';
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return 'datetime64[ns]';
    case DuckDBTypeId.TIMESTAMP_TZ:
      return 'datetime64[ns, UTC]';
    default:
      return 'object';
  }
}
