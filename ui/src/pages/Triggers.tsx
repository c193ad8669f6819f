/**
 * Triggers, all of them (`/triggers`) or one pipeline's (`/pipelines/$uuid/triggers`): search by name, type and
 * status filters, toggle active, run now, create and edit (schedule with a preview of the next runs, event, API),
 * the API trigger's URL and samples, delete. Viewers see the list without write buttons.
 */
import { useState } from 'react';
import { Link, useParams } from '@tanstack/react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, seg, type PipelineRunRecord, type Trigger } from '../api';
import { ErrorNote, Modal, useToast } from '../components';
import { StatusBadge, formatUtc, useCanWrite } from '../runs/common';
import { TriggerForm, triggersQueryKey } from '../triggers/TriggerForm';
import { ApiTriggerInfo } from '../triggers/ApiInfo';
import { RUN_NOW_TRIGGER } from './Pipelines';

export function GlobalTriggersPage() {
  return <TriggersList />;
}

export function PipelineTriggersPage() {
  const { uuid } = useParams({ from: '/app/pipelines/$uuid/triggers' });
  return <TriggersList pipelineUuid={uuid} />;
}

type Dialog = { kind: 'create' } | { kind: 'edit'; trigger: Trigger } | { kind: 'api'; trigger: Trigger } | { kind: 'delete'; trigger: Trigger } | null;

const TYPE_LABEL: Record<string, string> = { time: 'Schedule', event: 'Event', api: 'API' };

function TriggersList({ pipelineUuid }: { pipelineUuid?: string }) {
  const canWrite = useCanWrite();
  const toast = useToast();
  const queryClient = useQueryClient();
  const [dialog, setDialog] = useState<Dialog>(null);
  const [q, setQ] = useState('');
  const [type, setType] = useState('');
  const [status, setStatus] = useState('');
  const list = useQuery({
    queryKey: [...triggersQueryKey, pipelineUuid ?? '*'],
    queryFn: async () =>
      (await api.get<{ pipeline_schedules: Trigger[] }>(pipelineUuid ? `/api/pipelines/${seg(pipelineUuid)}/pipeline_schedules?_limit=1000` : '/api/pipeline_schedules?_limit=1000')).pipeline_schedules,
    refetchInterval: 10_000,
  });
  const toggle = useMutation({
    mutationFn: (t: Trigger) => api.put(`/api/pipeline_schedules/${t.id}`, { pipeline_schedule: { status: t.status === 'active' ? 'inactive' : 'active' } }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: triggersQueryKey }),
    onError: (err) => toast((err as Error).message, 'error'),
  });
  const runNow = useMutation({
    mutationFn: async (t: Trigger) => (await api.post<{ pipeline_run: PipelineRunRecord }>(`/api/pipeline_schedules/${t.id}/pipeline_runs`, { pipeline_run: {} })).pipeline_run,
    onSuccess: (run, t) => {
      toast(`Run ${run.id} of ${t.pipeline_uuid} started (${run.status}).`);
      void queryClient.invalidateQueries({ queryKey: triggersQueryKey });
    },
    onError: (err) => toast((err as Error).message, 'error'),
  });

  const needle = q.trim().toLowerCase();
  const shown = (list.data ?? []).filter(
    (t) => (!needle || t.name.toLowerCase().includes(needle) || (t.pipeline_uuid ?? '').toLowerCase().includes(needle)) && (!type || t.schedule_type === type) && (!status || t.status === status),
  );

  return (
    <div className="page">
      <div className="page-head">
        <h1>{pipelineUuid ? `Triggers of ${pipelineUuid}` : 'Triggers'}</h1>
        {pipelineUuid && (
          <>
            <Link to="/pipelines/$uuid/edit" params={{ uuid: pipelineUuid }} className="small">
              Editor
            </Link>
            <Link to="/pipelines/$uuid/runs" params={{ uuid: pipelineUuid }} search={{}} className="small">
              Runs
            </Link>
          </>
        )}
        <span className="spacer" />
        {canWrite && (
          <button className="button primary" onClick={() => setDialog({ kind: 'create' })}>
            + New trigger
          </button>
        )}
      </div>
      <div className="filters">
        <input type="search" placeholder="Search by name or pipeline" aria-label="Search triggers" value={q} onChange={(e) => setQ(e.target.value)} />
        <select aria-label="Filter by type" value={type} onChange={(e) => setType(e.target.value)}>
          <option value="">All types</option>
          <option value="time">Schedule</option>
          <option value="event">Event</option>
          <option value="api">API</option>
        </select>
        <select aria-label="Filter by status" value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">Active and inactive</option>
          <option value="active">Active</option>
          <option value="inactive">Inactive</option>
        </select>
        <span className="muted small">{list.data ? `${shown.length} of ${list.data.length}` : ''}</span>
      </div>
      <ErrorNote error={list.error} />
      {list.isPending ? (
        <div className="muted">Loading…</div>
      ) : shown.length === 0 ? (
        <div className="empty">{list.data?.length ? 'No trigger matches.' : 'No triggers yet.'}</div>
      ) : (
        <table className="grid" aria-label="Triggers">
          <thead>
            <tr>
              <th>Active</th>
              <th>Name</th>
              {!pipelineUuid && <th>Pipeline</th>}
              <th>Type</th>
              <th>Frequency</th>
              <th>Next run</th>
              <th>Last run</th>
              <th className="num">Runs</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {shown.map((t) => (
              <tr key={t.id} data-trigger={t.name} data-trigger-id={t.id}>
                <td>
                  {canWrite ? (
                    <label className="switch" title={t.status === 'active' ? 'Active: click to turn off' : 'Inactive: click to turn on'}>
                      <input type="checkbox" role="switch" checked={t.status === 'active'} disabled={toggle.isPending} onChange={() => toggle.mutate(t)} aria-label={`Active ${t.name}`} />
                      <span className="switch-track" />
                    </label>
                  ) : (
                    <StatusBadge status={t.status} />
                  )}
                </td>
                <td>
                  <span className="strong">{t.name}</span>
                  {t.name === RUN_NOW_TRIGGER && <span className="muted small"> (web UI)</span>}
                  {t.description && <div className="muted small">{t.description}</div>}
                  {t.scheduler_error && <div className="error-text small">{t.scheduler_error}</div>}
                </td>
                {!pipelineUuid && (
                  <td className="mono small">
                    <Link to="/pipelines/$uuid/triggers" params={{ uuid: t.pipeline_uuid ?? '' }}>
                      {t.pipeline_uuid}
                    </Link>
                  </td>
                )}
                <td>{TYPE_LABEL[t.schedule_type] ?? t.schedule_type}</td>
                <td className="mono small">
                  {t.schedule_type === 'time' ? (
                    <>
                      {t.schedule_interval}
                      {t.timezone && t.timezone !== 'UTC' ? <span className="muted"> {t.timezone}</span> : null}
                    </>
                  ) : t.schedule_type === 'event' ? (
                    (t.event_matchers ?? []).map((m) => m.name ?? m.event_type).join(', ') || '—'
                  ) : (
                    '—'
                  )}
                </td>
                <td className="small">{t.status === 'active' ? formatUtc(t.next_pipeline_run_date) : '—'}</td>
                <td>
                  <StatusBadge status={t.last_pipeline_run_status} />
                </td>
                <td className="num small">
                  {t.pipeline_uuid ? (
                    <Link to="/pipelines/$uuid/runs" params={{ uuid: t.pipeline_uuid }} search={{ trigger: t.id }}>
                      {t.pipeline_runs_count ?? 0}
                    </Link>
                  ) : (
                    (t.pipeline_runs_count ?? 0)
                  )}
                </td>
                <td className="actions">
                  {t.schedule_type === 'api' && (
                    <button className="button small ghost" onClick={() => setDialog({ kind: 'api', trigger: t })}>
                      API
                    </button>
                  )}
                  {canWrite && (
                    <>
                      <button className="button small" disabled={runNow.isPending} onClick={() => runNow.mutate(t)}>
                        ▶ Run now
                      </button>
                      <button className="button small ghost" onClick={() => setDialog({ kind: 'edit', trigger: t })}>
                        Edit
                      </button>
                      <button className="button small ghost danger" onClick={() => setDialog({ kind: 'delete', trigger: t })}>
                        Delete
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {dialog?.kind === 'create' && (
        <TriggerForm pipelineUuid={pipelineUuid} onClose={() => setDialog(null)} onCreated={(t) => (t.schedule_type === 'api' ? setDialog({ kind: 'api', trigger: t }) : toast(`Trigger ${t.name} created.`))} />
      )}
      {dialog?.kind === 'edit' && <TriggerForm trigger={dialog.trigger} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'api' && <ApiTriggerInfo trigger={dialog.trigger} canWrite={canWrite} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'delete' && <DeleteTrigger trigger={dialog.trigger} onClose={() => setDialog(null)} />}
    </div>
  );
}

function DeleteTrigger({ trigger, onClose }: { trigger: Trigger; onClose(): void }) {
  const queryClient = useQueryClient();
  const del = useMutation({
    mutationFn: () => api.del(`/api/pipeline_schedules/${trigger.id}`),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: triggersQueryKey });
      onClose();
    },
  });
  return (
    <Modal
      title={`Delete trigger ${trigger.name}?`}
      onClose={onClose}
      footer={
        <>
          <button className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button className="button danger" disabled={del.isPending} onClick={() => del.mutate()}>
            Delete trigger
          </button>
        </>
      }
    >
      <p>Its runs are kept. When the pipeline saves its triggers in code, the entry in triggers.yaml is removed too.</p>
      <ErrorNote error={del.error} />
    </Modal>
  );
}
