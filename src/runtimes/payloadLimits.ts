/**
 * The nesting the runtimes accept in a value they hand to a worker or get back from one. HTTP requests are
 * bounded much lower (src/api/jsonLimits.ts), but values also arrive from elsewhere: a trigger's stored
 * variables, triggers.yaml, a block's `configuration` in metadata.yaml, a block's return value. Each pool
 * checks its messages against this bound before sending, so such a value fails its own block run with a
 * message naming the limit instead of failing inside postMessage or the worker's JSON decoder.
 */
import { exceedsJsonShape } from './jsonShape.js';

/**
 * Deepest nesting of any one part of a worker message (kwargs, configuration, inline inputs, outputs). Chosen
 * below what every hop survives with room to spare: V8's structured clone on the main thread (about 3,000
 * levels), JSON.stringify (about 4,000) and Python's json decoder (its recursion limit, 1,000 by default).
 */
export const MAX_PAYLOAD_DEPTH = 512;

/**
 * Why `parts` cannot be sent to a worker, naming the first part nested deeper than {@link MAX_PAYLOAD_DEPTH},
 * or null. `undefined` parts are skipped.
 */
export function payloadTooDeep(parts: Record<string, unknown>): string | null {
  for (const [name, value] of Object.entries(parts)) {
    if (value === undefined) continue;
    if (exceedsJsonShape(value, { maxDepth: MAX_PAYLOAD_DEPTH, maxValues: Infinity }) === 'depth') {
      return `the block's ${name} is nested more than ${MAX_PAYLOAD_DEPTH} levels deep, the most a runtime accepts (MAX_PAYLOAD_DEPTH)`;
    }
  }
  return null;
}
