/** Mage's `get_json_value(text, 'a.b')`: the value at a dotted path of a JSON document, the text itself when it is not JSON. */
export function jsonValue(text: unknown, key: unknown): unknown {
  if (typeof text !== 'string' || text === '') return text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return text;
  }
  for (const part of String(key).split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return null;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}
