/**
 * The HTTP client: same-origin fetch with the session cookie (HttpOnly, set by POST /api/sessions), Mage's
 * error envelope `{error: {code, message, type}}` turned into ApiError, and the types the pages use.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiResult<T> {
  data: T;
  headers: Headers;
  status: number;
}

type UnauthorizedListener = () => void;
let onUnauthorized: UnauthorizedListener | null = null;
/** Called on any 401 from an authenticated route (the session expired or was never made). */
export function setUnauthorizedHandler(fn: UnauthorizedListener | null): void {
  onUnauthorized = fn;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Do not call the unauthorized handler on 401 (the sign-in form itself, session probes). */
  quiet401?: boolean;
}

export async function request<T = unknown>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...(options.headers ?? {}) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: options.signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', `Cannot reach the Blockflow server (${(err as Error).message}).`);
  }
  const text = await res.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!res.ok) {
    const envelope = (parsed as { error?: { message?: string; type?: string } } | null)?.error;
    const message = envelope?.message ?? (typeof parsed === 'string' && parsed ? parsed : `${method} ${path} answered ${res.status}.`);
    const err = new ApiError(res.status, envelope?.type ?? `http_${res.status}`, message, parsed);
    if (res.status === 401 && !options.quiet401) onUnauthorized?.();
    throw err;
  }
  return { data: parsed as T, headers: res.headers, status: res.status };
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>('GET', path, undefined, options).then((r) => r.data),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('POST', path, body ?? {}, options).then((r) => r.data),
  put: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>('PUT', path, body ?? {}, options).then((r) => r.data),
  del: <T>(path: string, options?: RequestOptions) => request<T>('DELETE', path, undefined, options).then((r) => r.data),
};

/** A pipeline or block uuid in a path: block uuids may hold `/` (the route takes the rest of the path). */
export function seg(uuid: string): string {
  return encodeURIComponent(uuid).replace(/%2F/gi, '/');
}

export interface Status {
  require_user_authentication: boolean;
  repo_path_relative: string;
  project_uuid: string;
  version: string;
}

export interface User {
  id: number;
  email: string | null;
  username: string | null;
  roles?: number | null;
  owner?: boolean;
  /** owner, admin, editor or viewer (GET /api/users/{id}). */
  role?: string;
}

export type BlockLanguage = 'python' | 'sql' | 'typescript' | 'javascript' | 'markdown' | 'yaml' | 'r';

export interface SavedOutput {
  type: 'table' | 'text';
  variable_uuid?: string;
  shape?: [number, number];
  sample_data?: { columns: string[]; rows: unknown[][] };
  text_data?: string;
}

export interface Block {
  uuid: string;
  name: string;
  type: string;
  language: BlockLanguage;
  status: string;
  color: string | null;
  upstream_blocks: string[];
  downstream_blocks: string[];
  configuration?: Record<string, unknown>;
  content?: string | null;
  outputs?: SavedOutput[];
  error?: { error: string; message: string };
}

export interface Schedule {
  id: number;
  name: string;
  schedule_type: string;
  status: string;
}

export interface Pipeline {
  uuid: string;
  name: string;
  description: string | null;
  type: string;
  tags: string[];
  created_at: string | null;
  updated_at: string | null;
  blocks: Block[];
  variables?: Record<string, unknown> | null;
  schedules?: Schedule[];
  error?: string;
}

export interface GlobalVariable {
  uuid: string;
  type: string;
  value: unknown;
}

export interface PipelineRun {
  id: number;
  status: string;
  pipeline_uuid: string;
}

export interface BlockRunRecord {
  id: number;
  block_uuid: string;
  status: string;
  started_at: string | null;
  completed_at: string | null;
  created_at: string;
  pipeline_run_id: number;
  metrics?: Record<string, unknown> | null;
}

/** A run as GET /api/pipeline_runs answers it (src/api/resources/pipelineRuns.ts). */
export interface PipelineRunRecord extends PipelineRun {
  created_at: string;
  execution_date: string | null;
  started_at: string | null;
  completed_at: string | null;
  pipeline_schedule_id: number | null;
  pipeline_schedule_name: string | null;
  pipeline_schedule_type: string | null;
  variables: Record<string, unknown>;
  metrics: Record<string, unknown> | null;
  backfill_id: number | null;
  block_runs: BlockRunRecord[];
  block_runs_count: number;
  completed_block_runs_count: number;
}

/** A trigger as GET /api/pipeline_schedules answers it (src/api/resources/pipelineSchedules.ts). */
export interface Trigger extends Schedule {
  pipeline_uuid: string | null;
  description: string | null;
  schedule_interval: string | null;
  start_time: string | null;
  timezone: string | null;
  variables: Record<string, unknown> | null;
  settings: Record<string, unknown> | null;
  tags: string[];
  /** The raw token: only in the answers to create and rotate_token. */
  token: string | null;
  next_pipeline_run_date: string | null;
  scheduler_error: string | null;
  last_enabled_at: string | null;
  pipeline_runs_count?: number | null;
  pipeline_in_progress_runs_count?: number | null;
  last_pipeline_run_status?: string | null;
  event_matchers: { id?: number; event_type: string | null; name: string | null; pattern: Record<string, unknown> | null }[];
}
