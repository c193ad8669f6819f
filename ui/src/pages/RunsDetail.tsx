/**
 * One pipeline run (`/pipelines/$uuid/runs/$id`): the pipeline's DAG coloured by block-run status (the editor's
 * Dag, read-only), a Gantt of the block runs (started_at → completed_at), the block runs with their log (live tail
 * over `GET /api/block_runs/{id}/logs/stream` while running, else `GET /api/pipelines/{p}/logs?block_run_id[]=`)
 * and output sample (`GET /api/block_runs/{id}/outputs`); cancel, retry failed, retry from a block. The run is
 * asked for again every 1.5 s while it is initial or running.
 */
import { useEffect, useMemo, useState } from 'react';
import { Link, useParams } from '@tanstack/react-router';
import { useQuery } from '@tanstack/react-query';
import { api, seg, type Block, type BlockRunRecord, type Pipeline, type PipelineRunRecord } from '../api';
import { ErrorBoundary, ErrorNote } from '../components';
import { Dag } from '../editor/Dag';
import { TableView } from '../editor/Output';
import { ACTIVE_RUN, StatusBadge, formatDuration, formatUtc, parseTime, runDuration, useCanWrite } from '../runs/common';
import { runsQueryKey, useRunActions } from './Runs';

const noop = () => undefined;

export function RunDetailPage() {
  const { uuid, id } = useParams({ from: '/app/pipelines/$uuid/runs/$id' });
  const canWrite = useCanWrite();
  const actions = useRunActions();
  const run = useQuery({
    queryKey: [...runsQueryKey, 'detail', id],
    queryFn: async () => (await api.get<{ pipeline_run: PipelineRunRecord }>(`/api/pipeline_runs/${id}`)).pipeline_run,
    refetchInterval: (q) => (q.state.data && !ACTIVE_RUN(q.state.data.status) && !q.state.data.block_runs.some((b) => ACTIVE_RUN(b.status) || b.status === 'queued') ? false : 1500),
  });
  const pipeline = useQuery({
    queryKey: ['pipeline', uuid, 'blocks'],
    queryFn: async () => (await api.get<{ pipeline: Pipeline }>(`/api/pipelines/${seg(uuid)}`)).pipeline,
  });
  const [selected, setSelected] = useState<number | null>(null);
  const blockRuns = run.data?.block_runs ?? [];
  const selectedRun = blockRuns.find((b) => b.id === selected) ?? null;

  // A dynamic child `b:0` counts toward its block `b`: failed wins, then running, then the rest.
  const statuses = useMemo(() => {
    const rank = (s: string) => ({ failed: 6, upstream_failed: 5, running: 4, queued: 3, initial: 2, cancelled: 1 })[s] ?? 0;
    const out: Record<string, string> = {};
    for (const b of blockRuns) {
      const base = b.block_uuid.split(':')[0];
      if (out[base] === undefined || rank(b.status) > rank(out[base])) out[base] = b.status;
    }
    return out;
  }, [blockRuns]);
  const dagBlocks: Block[] = useMemo(() => {
    const fromPipeline = pipeline.data?.blocks ?? [];
    if (fromPipeline.length) return fromPipeline.map((b) => ({ ...b, status: statuses[b.uuid] ?? 'not_executed' }));
    return [];
  }, [pipeline.data, statuses]);

  if (run.error) return <div className="page"><ErrorNote error={run.error} /></div>;
  if (!run.data) return <div className="page muted">Loading…</div>;
  const r = run.data;
  const failed = blockRuns.some((b) => ['failed', 'upstream_failed', 'cancelled'].includes(b.status));

  return (
    <div className="page run-detail">
      <div className="page-head">
        <Link to="/pipelines/$uuid/runs" params={{ uuid }} search={{}} className="small">
          ← Runs of {uuid}
        </Link>
        <h1>Run #{r.id}</h1>
        <StatusBadge status={r.status} />
        <span className="muted small">
          {r.pipeline_schedule_name ?? 'no trigger'} · execution date {formatUtc(r.execution_date)} · {formatDuration(runDuration(r))}
        </span>
        <span className="spacer" />
        {canWrite && ACTIVE_RUN(r.status) && (
          <button className="button danger" disabled={actions.isPending} onClick={() => actions.mutate({ run: r, action: 'cancel' })}>
            Cancel run
          </button>
        )}
        {canWrite && !ACTIVE_RUN(r.status) && failed && (
          <button className="button primary" disabled={actions.isPending} onClick={() => actions.mutate({ run: r, action: 'retry' })}>
            Retry failed blocks
          </button>
        )}
      </div>
      {typeof r.metrics?.error === 'string' && <div className="error-note">{r.metrics.error}</div>}
      <div className="run-grid">
        <section className="panel run-dag" aria-label="DAG">
          {dagBlocks.length ? (
            <ErrorBoundary label="The DAG">
              <Dag
                blocks={dagBlocks}
                statuses={statuses}
                activeBlock={selectedRun?.block_uuid.split(':')[0] ?? null}
                onSelect={(u) => {
                  const br = blockRuns.find((b) => b.block_uuid === u || b.block_uuid.startsWith(`${u}:`));
                  if (br) setSelected(br.id);
                }}
                onConnect={noop}
                onDisconnect={noop}
              />
            </ErrorBoundary>
          ) : (
            <div className="muted small pad">{pipeline.error ? 'The pipeline cannot be loaded.' : 'Loading the DAG…'}</div>
          )}
        </section>
        <section className="panel run-blocks" aria-label="Block runs">
          <Gantt blockRuns={blockRuns} selected={selected} onSelect={setSelected} />
          <table className="grid compact" aria-label="Block runs table">
            <thead>
              <tr>
                <th>Block</th>
                <th>Status</th>
                <th>Started</th>
                <th className="num">Duration</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {blockRuns.map((b) => (
                <tr key={b.id} data-block-run={b.block_uuid} className={b.id === selected ? 'selected' : ''}>
                  <td className="mono small">
                    <button className="link mono" onClick={() => setSelected(b.id)}>
                      {b.block_uuid}
                    </button>
                  </td>
                  <td>
                    <StatusBadge status={b.status} />
                  </td>
                  <td className="small">{formatUtc(b.started_at)}</td>
                  <td className="small num">{formatDuration(runDuration(b))}</td>
                  <td className="actions">
                    <button className="button small ghost" onClick={() => setSelected(b.id)}>
                      Log &amp; output
                    </button>
                    {canWrite && !ACTIVE_RUN(r.status) && (
                      <button className="button small ghost" disabled={actions.isPending} onClick={() => actions.mutate({ run: r, action: 'retry', fromBlock: b.block_uuid.split(':')[0] })}>
                        Retry from here
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      {selectedRun && <BlockRunPanel pipelineUuid={uuid} runId={r.id} blockRun={selectedRun} onClose={() => setSelected(null)} />}
    </div>
  );
}

function Gantt({ blockRuns, selected, onSelect }: { blockRuns: BlockRunRecord[]; selected: number | null; onSelect(id: number): void }) {
  const [now, setNow] = useState(Date.now());
  const running = blockRuns.some((b) => b.status === 'running');
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [running]);
  const spans = blockRuns.map((b) => {
    const start = parseTime(b.started_at);
    const end = parseTime(b.completed_at) ?? (start !== null && b.status === 'running' ? now : start);
    return { b, start, end };
  });
  const starts = spans.map((s) => s.start).filter((x): x is number => x !== null);
  if (!starts.length) return <div className="gantt muted small">No block has started yet.</div>;
  const t0 = Math.min(...starts);
  const t1 = Math.max(t0 + 1, ...spans.map((s) => s.end ?? t0));
  const total = t1 - t0;
  return (
    <div className="gantt" role="img" aria-label={`Timeline of ${blockRuns.length} block runs over ${formatDuration(total)}`} data-testid="gantt">
      {spans.map(({ b, start, end }) => (
        <div key={b.id} className={`gantt-row ${b.id === selected ? 'selected' : ''}`} onClick={() => onSelect(b.id)}>
          <span className="gantt-label mono small ellipsis" title={b.block_uuid}>
            {b.block_uuid}
          </span>
          <span className="gantt-track">
            {start !== null && (
              <span
                className={`gantt-bar status-${b.status}`}
                style={{ left: `${((start - t0) / total) * 100}%`, width: `max(3px, ${(((end ?? start) - start) / total) * 100}%)` }}
                title={`${b.block_uuid}: ${b.status}, ${formatDuration((end ?? start) - start)}`}
              />
            )}
          </span>
        </div>
      ))}
      <div className="gantt-axis muted small">
        <span>0 s</span>
        <span>{formatDuration(total)}</span>
      </div>
    </div>
  );
}

interface LogEntry {
  time: string;
  level: string;
  message: string;
}

function parseLogLine(line: string): LogEntry {
  const m = /^(\S+) (\{.*\})$/.exec(line);
  if (m) {
    try {
      const body = JSON.parse(m[2]) as { level?: string; message?: string };
      return { time: m[1], level: body.level ?? 'INFO', message: body.message ?? '' };
    } catch {
      // not JSON: shown as is
    }
  }
  return { time: '', level: '', message: line };
}

function useBlockRunLog(pipelineUuid: string, runId: number, blockRun: BlockRunRecord): { lines: LogEntry[]; live: boolean; error: unknown } {
  const active = ACTIVE_RUN(blockRun.status) || blockRun.status === 'queued';
  const [liveLines, setLiveLines] = useState<string[] | null>(null);
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (!active) return;
    setLiveLines([]);
    setLive(true);
    const source = new EventSource(`/api/block_runs/${blockRun.id}/logs/stream`);
    source.addEventListener('log', (e) => setLiveLines((l) => [...(l ?? []), (e as MessageEvent<string>).data]));
    const stop = () => {
      source.close();
      setLive(false);
    };
    source.addEventListener('end', stop);
    source.onerror = stop;
    return () => source.close();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [blockRun.id, active]);
  const saved = useQuery({
    queryKey: ['logs', pipelineUuid, blockRun.id, blockRun.status],
    queryFn: async () => {
      const res = await api.get<{ logs: { block_run_logs: { content: string }[] }[] }>(`/api/pipelines/${seg(pipelineUuid)}/logs?pipeline_run_id[]=${runId}&block_run_id[]=${blockRun.id}`);
      return (res.logs[0]?.block_run_logs[0]?.content ?? '').split('\n').filter(Boolean);
    },
    enabled: !live,
  });
  const raw = live || (liveLines && !saved.data) ? (liveLines ?? []) : (saved.data ?? liveLines ?? []);
  return { lines: useMemo(() => raw.map(parseLogLine), [raw]), live, error: saved.error };
}

interface OutputItem {
  type: string;
  variable_uuid?: string;
  shape?: [number, number] | null;
  sample_data?: { columns: string[]; rows: unknown[][] } | null;
  text_data?: string | null;
}

function BlockRunPanel({ pipelineUuid, runId, blockRun, onClose }: { pipelineUuid: string; runId: number; blockRun: BlockRunRecord; onClose(): void }) {
  const [tab, setTab] = useState<'log' | 'output'>('log');
  const [level, setLevel] = useState('');
  const log = useBlockRunLog(pipelineUuid, runId, blockRun);
  const outputs = useQuery({
    queryKey: ['block_run_outputs', blockRun.id, blockRun.status],
    queryFn: async () => (await api.get<{ outputs: OutputItem[] }>(`/api/block_runs/${blockRun.id}/outputs?sample_count=50`)).outputs,
    enabled: tab === 'output',
  });
  const shown = level ? log.lines.filter((l) => l.level === level) : log.lines;
  return (
    <section className="panel block-run-panel" aria-label={`Block run ${blockRun.block_uuid}`} data-testid="block-run-panel">
      <div className="panel-head">
        <span className="mono strong">{blockRun.block_uuid}</span>
        <StatusBadge status={blockRun.status} />
        <div className="tabs inline" role="tablist">
          <button role="tab" aria-selected={tab === 'log'} className={tab === 'log' ? 'active' : ''} onClick={() => setTab('log')}>
            Log
          </button>
          <button role="tab" aria-selected={tab === 'output'} className={tab === 'output' ? 'active' : ''} onClick={() => setTab('output')}>
            Output
          </button>
        </div>
        {tab === 'log' && (
          <select aria-label="Log level" value={level} onChange={(e) => setLevel(e.target.value)}>
            <option value="">All levels</option>
            {['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'].map((l) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        )}
        {log.live && <span className="badge run">live</span>}
        <span className="spacer" />
        <button className="button small ghost" onClick={onClose} aria-label="Close block run">
          ✕
        </button>
      </div>
      {tab === 'log' ? (
        <div className="log-view" data-testid="block-log" tabIndex={0} aria-label="Block log">
          <ErrorNote error={log.error} />
          {shown.length === 0 ? (
            <div className="muted small">{log.live ? 'Waiting for log lines…' : 'No log lines.'}</div>
          ) : (
            shown.map((l, i) => (
              <div key={i} className={`log-line level-${l.level.toLowerCase()}`}>
                <span className="muted">{l.time}</span> <span className="log-level">{l.level}</span> {l.message}
              </div>
            ))
          )}
        </div>
      ) : (
        <div className="output-view" data-testid="block-output-sample">
          <ErrorNote error={outputs.error} />
          {outputs.isPending ? (
            <div className="muted small">Loading…</div>
          ) : !outputs.data?.length ? (
            <div className="muted small">This block run has no output.</div>
          ) : (
            outputs.data.map((o, i) =>
              o.type === 'table' && o.sample_data ? (
                <TableView key={i} output={{ type: 'table', columns: o.sample_data.columns, rows: o.sample_data.rows, shape: o.shape ?? undefined, variable_uuid: o.variable_uuid }} />
              ) : (
                <pre key={i} className="text-output">
                  {o.text_data ?? JSON.stringify(o)}
                </pre>
              ),
            )
          )}
        </div>
      )}
    </section>
  );
}
