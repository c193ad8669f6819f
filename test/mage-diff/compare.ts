/**
 * How an answer of Blockflow is compared with Mage's for the same request: the effective status (Mage sends
 * most errors as HTTP 200 with `error.code` in the body; Blockflow sends the code as the HTTP status, on purpose),
 * the envelope's keys, and, recursively, each object's keys and scalar values. Values that differ by nature
 * (ids, timestamps, tokens, paths of temp folders) are compared by type only.
 */

export interface Answer {
  status: number;
  body: unknown;
}

/** One difference: where (a JSON path) and what. */
export interface Difference {
  path: string;
  kind: 'status' | 'missing_key' | 'extra_key' | 'type' | 'value' | 'length';
  mage: unknown;
  ours: unknown;
}

/** The status a client of each server acts on: Mage's error code in a 200 body counts as that status. */
export function effectiveStatus(answer: Answer): number {
  const body = answer.body as { error?: { code?: unknown } } | null;
  if (answer.status === 200 && body && typeof body === 'object' && body.error && typeof body.error.code === 'number') return body.error.code;
  return answer.status;
}

/** Keys whose values change from run to run or server to server; only their JSON type is compared. */
const VOLATILE_KEYS = new Set([
  'id',
  'created_at',
  'updated_at',
  'started_at',
  'completed_at',
  'execution_date',
  'token',
  'expires',
  'modified_timestamp',
  'timestamp',
  'last_enabled_at',
  'next_pipeline_run_date',
  'pipeline_run_id',
  'pipeline_schedule_id',
  'block_run_id',
  'path',
  'file_path',
  'repo_path',
  'variables_dir',
  'uuid_hex',
  'message',
  'size',
  'metrics',
  'backfill_id',
  'event_variables',
  'server_process_id',
  'scheduler_process_id',
  'uptime_seconds',
  // The run's creation time in microseconds; Blockflow's clock gives milliseconds.
  'execution_partition',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Every difference between Mage's `mage` value and Blockflow's `ours`, below `path`. */
export function diffValues(mage: unknown, ours: unknown, path = '$', key = ''): Difference[] {
  const out: Difference[] = [];
  const tm = typeOf(mage);
  const to = typeOf(ours);
  if (VOLATILE_KEYS.has(key)) {
    // A null on one side and a value on the other is a real difference even for volatile keys.
    if ((tm === 'null') !== (to === 'null')) out.push({ path, kind: 'type', mage: tm, ours: to });
    return out;
  }
  if (tm !== to) {
    // Mage's ints and floats are both numbers here; a number and a numeric string differ.
    out.push({ path, kind: 'type', mage, ours });
    return out;
  }
  if (tm === 'object') {
    const m = mage as Record<string, unknown>;
    const o = ours as Record<string, unknown>;
    for (const k of Object.keys(m)) {
      if (!(k in o)) out.push({ path: `${path}.${k}`, kind: 'missing_key', mage: m[k], ours: undefined });
      else out.push(...diffValues(m[k], o[k], `${path}.${k}`, k));
    }
    for (const k of Object.keys(o)) if (!(k in m)) out.push({ path: `${path}.${k}`, kind: 'extra_key', mage: undefined, ours: o[k] });
    return out;
  }
  if (tm === 'array') {
    const m = mage as unknown[];
    const o = ours as unknown[];
    if (m.length !== o.length) out.push({ path, kind: 'length', mage: m.length, ours: o.length });
    for (let i = 0; i < Math.min(m.length, o.length); i += 1) out.push(...diffValues(m[i], o[i], `${path}[${i}]`, key));
    return out;
  }
  if (mage !== ours) out.push({ path, kind: 'value', mage, ours });
  return out;
}

/** A documented difference: a request name (or `*`), a JSON path pattern, and why it differs on purpose. */
export interface IntendedDifference {
  request: string | '*';
  path: RegExp;
  kind?: Difference['kind'];
  why: string;
}

/** The differences not covered by `intended`. */
export function unexplained(request: string, diffs: Difference[], intended: IntendedDifference[]): Difference[] {
  return diffs.filter(
    (d) => !intended.some((i) => (i.request === '*' || i.request === request) && i.path.test(d.path) && (i.kind === undefined || i.kind === d.kind)),
  );
}
