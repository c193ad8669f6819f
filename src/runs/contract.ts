/**
 * The request contract of the synchronous block run (`POST /api/runs/{token}`, `POST /api/runs` with
 * `Authorization: Bearer`): the body schema with the spec's options and defaults, the trigger-token format, and
 * the endpoint's limits read from the environment.
 */
import { Type, type Static } from 'typebox';

/**
 * `{"run": {...}}`. Unknown keys and wrong types are refused (400 naming them) by the route's validation.
 * Defaults are the spec's table; they are applied by {@link runOptions}.
 */
export const RunBodySchema = Type.Object(
  {
    run: Type.Object(
      {
        /** The pipeline holding the block. Case-sensitive. Required. */
        pipeline_uuid: Type.String({ minLength: 1 }),
        /** The block to run. Case-sensitive. Required. */
        block_uuid: Type.String({ minLength: 1 }),
        /** Injected into the block as keyword arguments (over pipeline and trigger variables). Default `{}`. */
        variables: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
        /** Sub-project folder (relative to the workspace root) whose pipeline is meant. Default `null`: the main project. */
        project: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Null()])),
        /** Write a PipelineRun and BlockRun(s) to the database. Default `true`. */
        record: Type.Optional(Type.Boolean()),
        /** Keep the outputs, the passed variables and the block's log on disk beside the run. Default `true`. */
        store_variables: Type.Optional(Type.Boolean()),
        /** Run every upstream block first, in DAG order, and pass their outputs. Default `false`. */
        run_upstream_blocks: Type.Optional(Type.Boolean()),
        /** With run_upstream_blocks: reuse the outputs of upstream blocks' last successful run. Default `false`. */
        incomplete_only: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type RunBody = Static<typeof RunBodySchema>;

/** The options of one request with every default applied. */
export interface RunOptions {
  pipelineUuid: string;
  blockUuid: string;
  variables: Record<string, unknown>;
  project: string | null;
  record: boolean;
  storeVariables: boolean;
  runUpstreamBlocks: boolean;
  incompleteOnly: boolean;
}

export function runOptions(body: RunBody): RunOptions {
  const r = body.run;
  return {
    pipelineUuid: r.pipeline_uuid,
    blockUuid: r.block_uuid,
    variables: (r.variables ?? {}) as Record<string, unknown>,
    project: r.project ?? null,
    record: r.record ?? true,
    storeVariables: r.store_variables ?? true,
    runUpstreamBlocks: r.run_upstream_blocks ?? false,
    incompleteOnly: r.incomplete_only ?? false,
  };
}

/**
 * A well-formed trigger token: 16 to 256 characters of `A-Z a-z 0-9 - _`. That covers Mage's tokens
 * (`uuid4().hex`, 32 hex digits), dashed uuids and our base64url tokens. Anything else is refused with 401 before
 * the database is asked.
 */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,256}$/;

export function isWellFormedToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

/** Limits of the endpoint, from the environment (see {@link runsSettingsFromEnv}). */
export interface RunsSettings {
  /** Longest a request may run (upstream blocks included) before it answers 504 and cancels the block. */
  timeoutMs: number;
  /** Largest accepted request body, in bytes (413 above it). */
  requestLimitBytes: number;
  /** Largest response body, in bytes; a larger output is an `output_too_large` error, never truncated. */
  responseLimitBytes: number;
}

/** `BLOCKFLOW_RUNS_TIMEOUT_SECONDS`: default 60, at most 600. */
export const DEFAULT_TIMEOUT_SECONDS = 60;
export const MAX_TIMEOUT_SECONDS = 600;
/** `BLOCKFLOW_RUNS_REQUEST_LIMIT`: default 1 MiB. */
export const DEFAULT_REQUEST_LIMIT_BYTES = 1024 * 1024;
/** `BLOCKFLOW_RUNS_RESPONSE_LIMIT`: default 10 MiB. */
export const DEFAULT_RESPONSE_LIMIT_BYTES = 10 * 1024 * 1024;

function positiveNumber(env: Record<string, string | undefined>, name: string, fallback: number, max = Number.POSITIVE_INFINITY): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}.`);
  if (n > max) throw new Error(`${name} must be at most ${max}, got ${raw}.`);
  return n;
}

/**
 * Reads the limits: `BLOCKFLOW_RUNS_TIMEOUT_SECONDS` (1..600 s, default 60), `BLOCKFLOW_RUNS_REQUEST_LIMIT` and
 * `BLOCKFLOW_RUNS_RESPONSE_LIMIT` (bytes). A bad value is an error that names the variable.
 */
export function runsSettingsFromEnv(env: Record<string, string | undefined> = process.env): RunsSettings {
  return {
    timeoutMs: Math.round(positiveNumber(env, 'BLOCKFLOW_RUNS_TIMEOUT_SECONDS', DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS) * 1000),
    requestLimitBytes: Math.floor(positiveNumber(env, 'BLOCKFLOW_RUNS_REQUEST_LIMIT', DEFAULT_REQUEST_LIMIT_BYTES)),
    responseLimitBytes: Math.floor(positiveNumber(env, 'BLOCKFLOW_RUNS_RESPONSE_LIMIT', DEFAULT_RESPONSE_LIMIT_BYTES)),
  };
}
