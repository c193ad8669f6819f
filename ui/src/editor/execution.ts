/**
 * The interactive execution API (ui.md §5.3): POST /api/pipelines/{p}/executions starts a run of one block
 * (optionally with its upstream / downstream blocks) or of the whole pipeline; its events arrive over SSE at
 * `events_url`; DELETE /api/executions/{id} interrupts; GET /api/pipelines/{p}/executions?status=running lists
 * the runs to re-attach to after a reload. The EventSource is closed on `done` (otherwise the browser
 * reconnects by itself forever, trap 12).
 */
import { api, seg, type SavedOutput } from '../api';

export type RunMode = 'block' | 'pipeline';

export interface StartExecution {
  mode: RunMode;
  block_uuid?: string;
  code?: string;
  run_upstream?: boolean;
  run_incomplete_upstream?: boolean;
  run_downstream?: boolean;
  run_tests?: boolean;
  variables?: Record<string, unknown>;
}

export interface ExecutionInfo {
  id: string;
  events_url: string;
  block_uuid?: string | null;
  mode?: RunMode;
  status?: string;
  /** Every block the execution runs, in order. */
  block_uuids?: string[];
}

export type OutputPayload =
  | { type: 'table'; columns: string[]; rows: unknown[][]; shape?: [number, number]; index?: unknown[]; variable_uuid?: string }
  | { type: 'json'; data: unknown; variable_uuid?: string }
  | { type: 'text' | 'text/plain' | 'text/html' | 'image/png'; data: string; variable_uuid?: string };

export interface TestResult {
  /** Null when the runtime does not count passing tests (TypeScript). */
  passed: number | null;
  failed: number;
  failures: { name: string; message: string }[];
}

export interface BlockError {
  name: string;
  message: string;
  stack: string[];
}

export type ExecEvent =
  | { type: 'status'; state: string; block_uuid?: string | null }
  | { type: 'block_start'; block_uuid: string }
  | { type: 'stdout' | 'stderr'; block_uuid: string; lines: string[]; truncated?: boolean }
  | { type: 'output'; block_uuid: string; output: OutputPayload }
  | ({ type: 'test_result'; block_uuid: string } & TestResult)
  | ({ type: 'error'; block_uuid?: string | null } & BlockError)
  | { type: 'block_end'; block_uuid: string; status: string; duration_ms?: number }
  | { type: 'done'; status: string; duration_ms?: number }
  | { type: 'lost'; message: string };

const EVENT_TYPES = ['status', 'block_start', 'stdout', 'stderr', 'output', 'test_result', 'error', 'block_end', 'done'] as const;

function normalise(raw: Record<string, unknown>): Partial<ExecutionInfo> {
  return {
    ...raw,
    id: raw.id === undefined || raw.id === null ? undefined : String(raw.id),
    events_url: typeof raw.events_url === 'string' ? raw.events_url : raw.id !== undefined ? `/api/executions/${raw.id}/events` : undefined,
  } as Partial<ExecutionInfo>;
}

export async function startExecution(pipelineUuid: string, body: StartExecution): Promise<ExecutionInfo> {
  const res = await api.post<{ execution: Record<string, unknown> }>(`/api/pipelines/${seg(pipelineUuid)}/executions`, { execution: body });
  const info = normalise(res.execution);
  if (!info.id || !info.events_url) throw new Error('The server answered the execution request without an id.');
  return info as ExecutionInfo;
}

export async function interruptExecution(id: string): Promise<void> {
  await api.del(`/api/executions/${encodeURIComponent(id)}`);
}

export async function runningExecutions(pipelineUuid: string): Promise<ExecutionInfo[]> {
  const res = await api.get<{ executions?: Record<string, unknown>[] }>(`/api/pipelines/${seg(pipelineUuid)}/executions?status=running`);
  return (res.executions ?? []).map(normalise).filter((e): e is ExecutionInfo => !!e.id && !!e.events_url);
}

/** An `output` event's payload: `{output: {...}}` or the fields at the top level. */
function outputOf(data: Record<string, unknown>): OutputPayload {
  const inner = (data.output && typeof data.output === 'object' ? data.output : data) as Record<string, unknown>;
  const type = String(inner.type ?? 'text');
  if (type === 'table' || type === 'dataframe' || type === 'data_frame') {
    const nested = (inner.data && typeof inner.data === 'object' && !Array.isArray(inner.data) ? inner.data : inner) as Record<string, unknown>;
    return {
      type: 'table',
      columns: (nested.columns as string[]) ?? [],
      rows: (nested.rows as unknown[][]) ?? [],
      shape: (inner.shape ?? nested.shape) as [number, number] | undefined,
      index: nested.index as unknown[] | undefined,
      variable_uuid: inner.variable_uuid as string | undefined,
    };
  }
  if (type === 'json' || type === 'object') return { type: 'json', data: inner.data, variable_uuid: inner.variable_uuid as string | undefined };
  const text = typeof inner.data === 'string' ? inner.data : Array.isArray(inner.data) ? inner.data.join('\n') : JSON.stringify(inner.data);
  return { type: type as 'text', data: text, variable_uuid: inner.variable_uuid as string | undefined };
}

/** Subscribes to an execution's events; returns a function that closes the stream. */
export function followExecution(info: ExecutionInfo, onEvent: (event: ExecEvent) => void): () => void {
  const source = new EventSource(info.events_url, { withCredentials: true });
  let closed = false;
  const close = () => {
    closed = true;
    source.close();
  };
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (ev) => {
      // An SSE event named `error` arrives as a MessageEvent; the connection's own errors are plain Events.
      if (!(ev instanceof MessageEvent)) return;
      let data: Record<string, unknown> = {};
      try {
        data = ev.data ? (JSON.parse(ev.data) as Record<string, unknown>) : {};
      } catch {
        data = { message: String(ev.data) };
      }
      if (type === 'output') onEvent({ type: 'output', block_uuid: String(data.block_uuid ?? info.block_uuid ?? ''), output: outputOf(data) });
      else if (type === 'stdout' || type === 'stderr') {
        const lines = Array.isArray(data.lines) ? data.lines.map(String) : typeof data.data === 'string' ? data.data.split('\n') : [];
        onEvent({ type, block_uuid: String(data.block_uuid ?? info.block_uuid ?? ''), lines, truncated: Boolean(data.truncated) });
      } else if (type === 'error') {
        const stack = Array.isArray(data.stack) ? data.stack.map(String) : typeof data.stack === 'string' ? data.stack.split('\n') : [];
        onEvent({ type: 'error', block_uuid: (data.block_uuid as string | null) ?? info.block_uuid ?? null, name: String(data.name ?? 'Error'), message: String(data.message ?? ''), stack });
      } else {
        onEvent({ ...(data as object), type } as ExecEvent);
      }
      if (type === 'done') close();
    });
  }
  source.onerror = () => {
    if (closed) return;
    // CONNECTING: the browser retries with Last-Event-ID and the server replays. CLOSED: it gave up (the
    // execution is unknown, or the session ended); ask for the snapshot once.
    if (source.readyState === EventSource.CLOSED) {
      closed = true;
      void api
        .get<{ execution: { status?: string } }>(`/api/executions/${encodeURIComponent(info.id)}`)
        .then((snap) => {
          const status = snap.execution?.status;
          if (status && status !== 'running' && status !== 'queued') onEvent({ type: 'done', status });
          else onEvent({ type: 'lost', message: 'The output stream closed while the execution was still running.' });
        })
        .catch((err: Error) => onEvent({ type: 'lost', message: `The output stream closed: ${err.message}` }));
    }
  };
  return close;
}

/** The outputs stored with the block (GET pipeline `outputs`), in the shape of live outputs. */
export function savedOutputs(outputs: SavedOutput[] | undefined): OutputPayload[] {
  return (outputs ?? []).map((o) =>
    o.type === 'table'
      ? { type: 'table', columns: o.sample_data?.columns ?? [], rows: o.sample_data?.rows ?? [], shape: o.shape, variable_uuid: o.variable_uuid }
      : { type: 'text', data: o.text_data ?? '', variable_uuid: o.variable_uuid },
  );
}
