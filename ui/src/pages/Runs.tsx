/**
 * Pipeline runs, all of them (`/runs`) or one pipeline's (`/pipelines/$uuid/runs`): filters kept in the URL
 * (several statuses at once, trigger, pipeline, date range), paged on the server (`_limit`/`_offset`, 100 a page)
 * and drawn as a virtualised list, so tens of thousands of runs never sit in the page at once. Only the pages
 * in view are asked for, and refreshed every few seconds while in view. Retry and cancel per row.
 */
import { useEffect, useMemo, useRef } from 'react';
import { Link, useNavigate, useParams, useSearch } from '@tanstack/react-router';
import { keepPreviousData, useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { api, seg, type Pipeline, type PipelineRunRecord, type Trigger } from '../api';
import { ErrorNote, useToast } from '../components';
import { ACTIVE_RUN, RUN_STATUSES, StatusBadge, formatDuration, formatUtc, runDuration, useCanWrite } from '../runs/common';

export interface RunsSearch {
  /** Comma-separated statuses. */
  status?: string;
  trigger?: number;
  pipeline?: string;
  /** YYYY-MM-DD, UTC days, both inclusive. */
  from?: string;
  to?: string;
}

export function validateRunsSearch(search: Record<string, unknown>): RunsSearch {
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const trigger = Number(search.trigger);
  const day = (v: unknown) => (typeof v === 'string' && /^\d{4}-\d\d-\d\d$/.test(v) ? v : undefined);
  return {
    ...(str(search.status) ? { status: str(search.status) } : {}),
    ...(Number.isInteger(trigger) && trigger > 0 ? { trigger } : {}),
    ...(str(search.pipeline) ? { pipeline: str(search.pipeline) } : {}),
    ...(day(search.from) ? { from: day(search.from) } : {}),
    ...(day(search.to) ? { to: day(search.to) } : {}),
  };
}

const PAGE = 100;
const ROW_H = 42;

export const runsQueryKey = ['pipeline_runs'] as const;

function runsUrl(filter: RunsSearch & { pipelineUuid?: string }, limit: number, offset: number): string {
  const p = new URLSearchParams();
  p.set('_limit', String(limit));
  p.set('_offset', String(offset));
  p.append('order_by[]', '-id');
  for (const s of (filter.status ?? '').split(',').filter(Boolean)) p.append('status[]', s);
  const pipeline = filter.pipelineUuid ?? filter.pipeline;
  if (pipeline) p.set('pipeline_uuid', pipeline);
  if (filter.trigger) p.set('pipeline_schedule_id', String(filter.trigger));
  if (filter.from) p.set('start_timestamp', `${filter.from}T00:00:00Z`);
  if (filter.to) p.set('end_timestamp', new Date(Date.parse(`${filter.to}T00:00:00Z`) + 86_400_000).toISOString());
  return `/api/pipeline_runs?${p.toString()}`;
}

interface RunsPageResult {
  runs: PipelineRunRecord[];
  count: number;
}

async function fetchRuns(url: string): Promise<RunsPageResult> {
  const res = await api.get<{ pipeline_runs: PipelineRunRecord[]; metadata: { count: number } }>(url);
  return { runs: res.pipeline_runs, count: res.metadata.count };
}

export function useRunActions() {
  const queryClient = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: async (a: { run: { id: number }; action: 'cancel' | 'retry'; fromBlock?: string }) =>
      (
        await api.put<{ pipeline_run: PipelineRunRecord }>(`/api/pipeline_runs/${a.run.id}`, {
          pipeline_run: a.action === 'cancel' ? { status: 'cancelled' } : { pipeline_run_action: 'retry_blocks', ...(a.fromBlock ? { from_block_uuid: a.fromBlock } : {}) },
        })
      ).pipeline_run,
    onSuccess: (run, a) => {
      toast(a.action === 'cancel' ? `Run ${run.id} cancelled.` : a.fromBlock ? `Run ${run.id} retried from ${a.fromBlock}.` : `Run ${run.id}: failed blocks retried.`);
      void queryClient.invalidateQueries({ queryKey: runsQueryKey });
    },
    onError: (err) => toast((err as Error).message, 'error'),
  });
}

export function GlobalRunsPage() {
  const search = useSearch({ from: '/app/runs' });
  return <RunsList search={search} from="/runs" />;
}

export function PipelineRunsPage() {
  const { uuid } = useParams({ from: '/app/pipelines/$uuid/runs' });
  const search = useSearch({ from: '/app/pipelines/$uuid/runs' });
  return <RunsList search={search} pipelineUuid={uuid} from="/pipelines/$uuid/runs" />;
}

function RunsList({ search, pipelineUuid, from }: { search: RunsSearch; pipelineUuid?: string; from: '/runs' | '/pipelines/$uuid/runs' }) {
  const navigate = useNavigate({ from });
  const canWrite = useCanWrite();
  const actions = useRunActions();
  const setSearch = (patch: Partial<RunsSearch>) => void navigate({ search: (s: RunsSearch) => ({ ...s, ...patch }) as RunsSearch, replace: true });
  const statuses = (search.status ?? '').split(',').filter(Boolean);
  const filter = { ...search, pipelineUuid };
  const filterKey = JSON.stringify(filter);

  const triggers = useQuery({
    queryKey: ['pipeline_schedules', pipelineUuid ?? '*'],
    queryFn: async () =>
      (await api.get<{ pipeline_schedules: Trigger[] }>(pipelineUuid ? `/api/pipelines/${seg(pipelineUuid)}/pipeline_schedules?_limit=1000` : '/api/pipeline_schedules?_limit=1000')).pipeline_schedules,
  });
  const pipelines = useQuery({
    queryKey: ['pipelines', 'names'],
    queryFn: async () => (await api.get<{ pipelines: Pipeline[] }>('/api/pipelines')).pipelines.map((p) => p.uuid).sort(),
    enabled: !pipelineUuid,
  });

  const first = useQuery({
    queryKey: [...runsQueryKey, filterKey, 0],
    queryFn: () => fetchRuns(runsUrl(filter, PAGE, 0)),
    placeholderData: keepPreviousData,
    refetchInterval: 5000,
  });
  const count = first.data?.count ?? 0;

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({ count, getScrollElement: () => scrollRef.current, estimateSize: () => ROW_H, overscan: 12 });
  // A new filter starts at the top (the old scroll position may lie past the end of the new list).
  useEffect(() => {
    scrollRef.current?.scrollTo(0, 0);
  }, [filterKey]);
  const items = virtualizer.getVirtualItems();
  const pagesInView = useMemo(() => [...new Set(items.map((i) => Math.floor(i.index / PAGE)))].filter((p) => p > 0), [items]);
  const pages = useQueries({
    queries: pagesInView.map((page) => ({
      queryKey: [...runsQueryKey, filterKey, page],
      queryFn: () => fetchRuns(runsUrl(filter, PAGE, page * PAGE)),
      refetchInterval: 5000,
      staleTime: 2000,
    })),
  });
  const rowAt = (index: number): PipelineRunRecord | undefined => {
    const page = Math.floor(index / PAGE);
    const data = page === 0 ? first.data : pages[pagesInView.indexOf(page)]?.data;
    return data?.runs[index % PAGE];
  };

  const toggleStatus = (s: string) => {
    const next = statuses.includes(s) ? statuses.filter((x) => x !== s) : [...statuses, s];
    setSearch({ status: next.length ? next.join(',') : undefined });
  };
  const triggerName = (id: number | null) => (id === null ? null : (triggers.data?.find((t) => t.id === id)?.name ?? `#${id}`));

  return (
    <div className="page runs-page">
      <div className="page-head">
        <h1>{pipelineUuid ? `Runs of ${pipelineUuid}` : 'Runs'}</h1>
        {pipelineUuid && (
          <>
            <Link to="/pipelines/$uuid/edit" params={{ uuid: pipelineUuid }} className="small">
              Editor
            </Link>
            <Link to="/pipelines/$uuid/triggers" params={{ uuid: pipelineUuid }} className="small">
              Triggers
            </Link>
          </>
        )}
        <span className="spacer" />
        <span className="muted small" data-testid="runs-count">
          {first.data ? `${count.toLocaleString()} run${count === 1 ? '' : 's'}` : ''}
        </span>
      </div>
      <div className="filters wrap">
        <fieldset className="status-filter" aria-label="Filter by status">
          {RUN_STATUSES.map((s) => (
            <label key={s} className={`toggle-chip ${statuses.includes(s) ? 'on' : ''}`}>
              <input type="checkbox" checked={statuses.includes(s)} onChange={() => toggleStatus(s)} aria-label={`Status ${s}`} />
              {s}
            </label>
          ))}
        </fieldset>
        {!pipelineUuid && (
          <select aria-label="Filter by pipeline" value={search.pipeline ?? ''} onChange={(e) => setSearch({ pipeline: e.target.value || undefined, trigger: undefined })}>
            <option value="">All pipelines</option>
            {(pipelines.data ?? []).map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        )}
        <select aria-label="Filter by trigger" value={search.trigger ?? ''} onChange={(e) => setSearch({ trigger: e.target.value ? Number(e.target.value) : undefined })}>
          <option value="">All triggers</option>
          {(triggers.data ?? [])
            .filter((t) => !search.pipeline || t.pipeline_uuid === search.pipeline)
            .map((t) => (
              <option key={t.id} value={t.id}>
                {pipelineUuid ? t.name : `${t.pipeline_uuid} · ${t.name}`}
              </option>
            ))}
        </select>
        <label className="inline-label">
          From
          <input type="date" aria-label="From date" value={search.from ?? ''} onChange={(e) => setSearch({ from: e.target.value || undefined })} />
        </label>
        <label className="inline-label">
          to
          <input type="date" aria-label="To date" value={search.to ?? ''} onChange={(e) => setSearch({ to: e.target.value || undefined })} />
        </label>
        {(statuses.length > 0 || search.trigger || search.from || search.to || search.pipeline) && (
          <button className="link small" onClick={() => void navigate({ search: {}, replace: true })}>
            Clear filters
          </button>
        )}
      </div>
      <ErrorNote error={first.error} />
      <div className="vlist-head runs-row" aria-hidden="true">
        <span>Run</span>
        {!pipelineUuid && <span>Pipeline</span>}
        <span>Status</span>
        <span>Trigger</span>
        <span>Execution date</span>
        <span>Started</span>
        <span className="num">Duration</span>
        <span className="num">Blocks</span>
        <span />
      </div>
      {first.isPending ? (
        <div className="muted">Loading…</div>
      ) : count === 0 ? (
        <div className="empty">No runs{statuses.length || search.trigger || search.from || search.to ? ' match these filters' : ' yet'}.</div>
      ) : (
        <div className="vlist" ref={scrollRef} role="list" aria-label="Pipeline runs" data-testid="runs-list">
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {items.map((item) => {
              const run = rowAt(item.index);
              return (
                <div
                  key={item.key}
                  role="listitem"
                  className={`runs-row vrow ${pipelineUuid ? 'no-pipeline' : ''}`}
                  style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW_H, transform: `translateY(${item.start}px)` }}
                  data-run-id={run?.id}
                  data-status={run?.status}
                >
                  {!run ? (
                    <span className="muted small">…</span>
                  ) : (
                    <>
                      <span>
                        <Link to="/pipelines/$uuid/runs/$id" params={{ uuid: run.pipeline_uuid, id: String(run.id) }} className="strong" aria-label={`Run ${run.id}`}>
                          #{run.id}
                        </Link>
                      </span>
                      {!pipelineUuid && (
                        <span className="mono small ellipsis">
                          <Link to="/pipelines/$uuid/runs" params={{ uuid: run.pipeline_uuid }} search={{}}>
                            {run.pipeline_uuid}
                          </Link>
                        </span>
                      )}
                      <span>
                        <StatusBadge status={run.status} />
                      </span>
                      <span className="small ellipsis">{run.pipeline_schedule_name ?? triggerName(run.pipeline_schedule_id) ?? <span className="muted">—</span>}</span>
                      <span className="small">{formatUtc(run.execution_date)}</span>
                      <span className="small">{formatUtc(run.started_at)}</span>
                      <span className="small num">{formatDuration(runDuration(run))}</span>
                      <span className="small num">
                        {run.completed_block_runs_count}/{run.block_runs_count}
                      </span>
                      <span className="actions">
                        {canWrite && ACTIVE_RUN(run.status) && (
                          <button className="button small ghost danger" disabled={actions.isPending} onClick={() => actions.mutate({ run, action: 'cancel' })}>
                            Cancel
                          </button>
                        )}
                        {canWrite && (run.status === 'failed' || run.status === 'cancelled') && (
                          <button className="button small ghost" disabled={actions.isPending} onClick={() => actions.mutate({ run, action: 'retry' })}>
                            Retry failed
                          </button>
                        )}
                      </span>
                    </>
                  )}
                </div>
              );
            })}
          </div>
        </div>
      )}
    </div>
  );
}
