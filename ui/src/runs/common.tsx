/** Pieces the runs and triggers pages share: status badges, durations, who may write. */
import { useRouteContext } from '@tanstack/react-router';

export const RUN_STATUSES = ['initial', 'running', 'completed', 'failed', 'cancelled'] as const;

const STATUS_CLASS: Record<string, string> = {
  completed: 'ok',
  failed: 'bad',
  upstream_failed: 'bad',
  condition_failed: 'warn',
  cancelled: 'warn',
  running: 'run',
  queued: 'run',
  initial: '',
  active: 'ok',
  inactive: '',
};

export function StatusBadge({ status }: { status: string | null | undefined }) {
  if (!status) return <span className="muted small">—</span>;
  return (
    <span className={`badge ${STATUS_CLASS[status] ?? ''}`} data-status={status}>
      {status.replace('_', ' ')}
    </span>
  );
}

/** Timestamps from the API are UTC, written `YYYY-MM-DD HH:MM:SS` (Mage) or ISO. */
export function parseTime(value: string | null | undefined): number | null {
  if (!value) return null;
  const text = value.includes('T') ? value : `${value.replace(' ', 'T')}${/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? '' : 'Z'}`;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : t;
}

export function formatUtc(value: string | null | undefined): string {
  const t = parseTime(value);
  return t === null ? '—' : new Date(t).toLocaleString();
}

export function formatDuration(ms: number | null): string {
  if (ms === null || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function runDuration(run: { started_at: string | null; completed_at: string | null; status: string }, now = Date.now()): number | null {
  const start = parseTime(run.started_at);
  if (start === null) return null;
  const end = parseTime(run.completed_at) ?? (run.status === 'running' ? now : null);
  return end === null ? null : end - start;
}

/** Whether the signed-in user may change things (editor and up; everyone when authentication is off). */
export function useCanWrite(): boolean {
  const { session } = useRouteContext({ from: '/app' });
  if (session === 'open') return true;
  if (!session) return false;
  if (session.owner) return true;
  if (session.role) return session.role !== 'viewer';
  const bits = session.roles ?? 0;
  return (bits & 3) !== 0;
}

export const ACTIVE_RUN = (status: string) => status === 'initial' || status === 'running';
