/**
 * The response bodies of the synchronous block run. The outputs arrive from the runtimes already in Mage's
 * `output` shape (mage-api.md §4): a DataFrame is a list of row objects, a dict one item, a list its items, None
 * no item; dates as ISO 8601 and NaN as null. Here they are wrapped as `{"run": {"output": [...]}}` and
 * measured against the response limit.
 */
import type { BlockErrorInfo } from '../runtimes/types.js';

export interface ErrorBody {
  code: number;
  type: string;
  message: string;
  [key: string]: unknown;
}

export type RunResponse = { ok: true; payload: string } | { ok: false; error: ErrorBody };

/** `{"run": {"output": outputs}}` as JSON text, or an `output_too_large` error above `limitBytes`. */
export function runResponse(outputs: unknown[], limitBytes: number): RunResponse {
  const payload = JSON.stringify({ run: { output: outputs } });
  // A UTF-16 length times 3 bounds the UTF-8 size, so most answers skip the exact count.
  const size = payload.length * 3 <= limitBytes ? payload.length : Buffer.byteLength(payload);
  if (size > limitBytes) {
    return {
      ok: false,
      error: {
        code: 500,
        type: 'output_too_large',
        message:
          `The block's output is ${size} bytes as JSON, over the response limit of ${limitBytes} bytes ` +
          '(BLOCKFLOW_RUNS_RESPONSE_LIMIT). Return less data, or run with store_variables: true and read the ' +
          'stored outputs through the block run outputs API.',
        size_bytes: size,
        limit_bytes: limitBytes,
      },
    };
  }
  return { ok: true, payload };
}

/**
 * The 500 body of a block that raised: Mage's error keys (`errors` holds the stack lines, as in Mage's
 * uncaught-exception envelope) plus the exception class, its message and the records' ids.
 */
export function blockFailureBody(
  blockUuid: string,
  error: BlockErrorInfo,
  ids: { pipeline_run_id: number | null; block_run_id: number | null },
): ErrorBody {
  return {
    code: 500,
    type: 'block_execution_failed',
    message: error.message,
    exception: error.exception,
    traceback: error.traceback,
    errors: error.traceback,
    block_uuid: blockUuid,
    ...ids,
  };
}
