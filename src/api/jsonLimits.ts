/**
 * Bounds on the shape of every JSON request body, applied in the one JSON content-type parser so no route can
 * forget them: run variables, kwargs, event payloads, trigger variables, block content and every other write
 * reach a handler, a runtime or the database only after this check. The body's size in bytes is bounded
 * separately (BLOCKFLOW_BODY_LIMIT, and BLOCKFLOW_RUNS_REQUEST_LIMIT for /api/runs).
 *
 * Why: V8 parses JSON without recursion, so a 40 KB body can hold a value nested 20,000 levels deep, and then
 * everything downstream that does recurse (JSON.stringify, postMessage to a worker thread, Python's json
 * decoder) fails on it.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';
import { exceedsJsonShape, type JsonShapeLimits } from '../runtimes/jsonShape.js';
import { MAX_PAYLOAD_DEPTH } from '../runtimes/payloadLimits.js';

/** `BLOCKFLOW_JSON_MAX_DEPTH`: default 64 levels, the whole body counted (`{"run": {"variables": {}}}` is 3). */
export const DEFAULT_JSON_MAX_DEPTH = 64;
/**
 * Highest accepted `BLOCKFLOW_JSON_MAX_DEPTH`: half the runtimes' own bound ({@link MAX_PAYLOAD_DEPTH}), so
 * whatever a request may carry can still be handed to a block with the kwargs around it.
 */
export const MAX_JSON_MAX_DEPTH = MAX_PAYLOAD_DEPTH / 2;
/** `BLOCKFLOW_JSON_MAX_VALUES`: default 100,000 values (objects, arrays and scalars; keys not counted). */
export const DEFAULT_JSON_MAX_VALUES = 100_000;

function positiveInteger(env: Record<string, string | undefined>, name: string, fallback: number, max = Number.POSITIVE_INFINITY): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number, got ${JSON.stringify(raw)}.`);
  if (n > max) throw new Error(`${name} must be at most ${max}, got ${raw}.`);
  return n;
}

/**
 * Reads `BLOCKFLOW_JSON_MAX_DEPTH` (1..{@link MAX_JSON_MAX_DEPTH}, default {@link DEFAULT_JSON_MAX_DEPTH}) and
 * `BLOCKFLOW_JSON_MAX_VALUES` (default {@link DEFAULT_JSON_MAX_VALUES}). A bad value is an error naming the variable.
 */
export function jsonLimitsFromEnv(env: Record<string, string | undefined> = process.env): JsonShapeLimits {
  return {
    maxDepth: positiveInteger(env, 'BLOCKFLOW_JSON_MAX_DEPTH', DEFAULT_JSON_MAX_DEPTH, MAX_JSON_MAX_DEPTH),
    maxValues: positiveInteger(env, 'BLOCKFLOW_JSON_MAX_VALUES', DEFAULT_JSON_MAX_VALUES),
  };
}

/** The 400 for a body over a limit, naming the limit and the variable that sets it. */
export function jsonLimitError(excess: 'depth' | 'values', limits: JsonShapeLimits): ApiError {
  return excess === 'depth'
    ? new ApiError(400, 'json_too_deep', `Request body is nested more than ${limits.maxDepth} levels deep; the limit is ${limits.maxDepth} (BLOCKFLOW_JSON_MAX_DEPTH).`)
    : new ApiError(400, 'json_too_large', `Request body holds more than ${limits.maxValues} JSON values; the limit is ${limits.maxValues} (BLOCKFLOW_JSON_MAX_VALUES).`);
}

/**
 * Replaces the application/json parser of `app` (and of everything registered on it) with Fastify's own
 * parser, same prototype-poisoning settings, followed by the shape check. Call before routes are added.
 */
export function applyJsonLimits(app: FastifyInstance, limits: JsonShapeLimits): void {
  const parse = app.getDefaultJsonParser(app.initialConfig.onProtoPoisoning ?? 'error', app.initialConfig.onConstructorPoisoning ?? 'error');
  app.removeContentTypeParser('application/json');
  // No bodyLimit here: each route's own limit (or the server's) keeps applying.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parse(request, body as string, (error, value) => {
      if (error) return done(error, undefined);
      const excess = exceedsJsonShape(value, limits);
      if (excess) return done(jsonLimitError(excess, limits), undefined);
      done(null, value);
    });
  });
}
