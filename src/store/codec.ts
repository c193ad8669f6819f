/** Conversions between database values and the plain rows the repositories return. */

export type JsonObject = Record<string, unknown>;

/** Parses a JSON text column. A column that does not hold JSON is reported, never silently dropped. */
export function parseJson<T = unknown>(text: string | null | undefined, column = 'JSON column'): T | null {
  if (text === null || text === undefined || text === '') return null;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${column} does not hold valid JSON: ${JSON.stringify(text.slice(0, 80))}`, { cause: err });
  }
}

/** Serialises a value for a JSON text column; undefined stays undefined so an update leaves the column alone. */
export function toJson(value: unknown): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  return JSON.stringify(value);
}

/** SQLite returns 0/1, pg returns true/false. */
export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't' || value === 'true';
}

/** Drops keys whose value is undefined, so a partial patch only touches the columns it names. */
export function definedOnly<T extends object>(obj: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** Groups rows by a key, keeping their order within each group (keys without rows are absent). */
export function groupBy<T, K, V>(rows: readonly T[], key: (row: T) => K, value: (row: T) => V): Map<K, V[]> {
  const out = new Map<K, V[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list) list.push(value(row));
    else out.set(k, [value(row)]);
  }
  return out;
}
