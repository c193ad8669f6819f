/**
 * The shape of a JSON-like value: how deeply it nests and how many values it holds. Measured with an explicit
 * stack, never by recursion: the values this is for are exactly the ones nested deeper than the call stack, so
 * a recursive walk would fail the same way as the JSON.stringify or postMessage it is meant to protect.
 */

export interface JsonShapeLimits {
  /**
   * Deepest nesting allowed. A scalar has depth 0, `{}` and `[]` depth 1, `{"a": [1]}` depth 2.
   * `Infinity`: not checked.
   */
  maxDepth: number;
  /** Most values allowed, counting every object, array and scalar (keys are not counted). `Infinity`: not checked. */
  maxValues: number;
}

/** Which limit a value exceeds. */
export type JsonShapeExcess = 'depth' | 'values';

/**
 * Walks `value` (arrays by element, other objects by own enumerable values) and stops at the first limit it
 * passes, so measuring costs at most `maxValues` steps. A cyclic value is reported as too deep.
 */
export function exceedsJsonShape(value: unknown, limits: JsonShapeLimits): JsonShapeExcess | null {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  let count = 1;
  if (count > limits.maxValues) return 'values';
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop() as number;
    if (current === null || typeof current !== 'object') continue;
    const inside = depth + 1;
    if (inside > limits.maxDepth) return 'depth';
    const children: unknown[] = Array.isArray(current) ? current : Object.values(current);
    count += children.length;
    if (count > limits.maxValues) return 'values';
    for (const child of children) {
      // Scalars need no stack entry: they are counted already and nest nothing.
      if (child !== null && typeof child === 'object') {
        values.push(child);
        depths.push(inside);
      }
    }
  }
  return null;
}
