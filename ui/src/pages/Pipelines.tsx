/**
 * The pipelines list: search and tag filter (kept in the URL), create (blank or with a first block from a
 * template), clone, rename, delete and "run now" (a manual run through the pipeline's UI API trigger).
 */
import { useMemo, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearch } from '@tanstack/react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, seg, type Pipeline, type PipelineRun, type Schedule } from '../api';
import { BlockLanguageOptions, BlockTypeOptions, ErrorNote, Modal, formatTime, languageForType, useToast } from '../components';

export const pipelinesQueryKey = ['pipelines'] as const;

/** The trigger "run now" uses: an API trigger, active, so a manual run starts at once and nothing else runs it. */
export const RUN_NOW_TRIGGER = 'Run now (web UI)';

export async function runPipelineNow(pipeline: Pick<Pipeline, 'uuid'>): Promise<PipelineRun> {
  // Asked fresh each time (not from the list's cache), so two quick clicks find the trigger the first made.
  const list = (await api.get<{ pipeline_schedules: Schedule[] }>(`/api/pipelines/${seg(pipeline.uuid)}/pipeline_schedules`)).pipeline_schedules;
  let trigger = list.find((s) => s.name === RUN_NOW_TRIGGER);
  if (!trigger) {
    trigger = (
      await api.post<{ pipeline_schedule: Schedule }>(`/api/pipelines/${seg(pipeline.uuid)}/pipeline_schedules`, {
        pipeline_schedule: { name: RUN_NOW_TRIGGER, schedule_type: 'api', status: 'active', description: 'Manual runs started from the web UI.' },
      })
    ).pipeline_schedule;
  } else if (trigger.status !== 'active') {
    await api.put(`/api/pipeline_schedules/${trigger.id}`, { pipeline_schedule: { status: 'active' } });
  }
  return (await api.post<{ pipeline_run: PipelineRun }>(`/api/pipeline_schedules/${trigger.id}/pipeline_runs`, { pipeline_run: {} })).pipeline_run;
}

type Dialog = { kind: 'create' } | { kind: 'clone'; pipeline: Pipeline } | { kind: 'rename'; pipeline: Pipeline } | { kind: 'delete'; pipeline: Pipeline } | null;

export function PipelinesPage() {
  const search = useSearch({ from: '/app/pipelines' });
  const navigate = useNavigate({ from: '/pipelines' });
  const toast = useToast();
  const queryClient = useQueryClient();
  const [dialog, setDialog] = useState<Dialog>(null);
  const list = useQuery({
    queryKey: pipelinesQueryKey,
    queryFn: async () => (await api.get<{ pipelines: Pipeline[] }>('/api/pipelines?include_schedules=1&order_by[]=-updated_at')).pipelines,
  });

  const tags = useMemo(() => [...new Set((list.data ?? []).flatMap((p) => p.tags ?? []))].sort(), [list.data]);
  const q = (search.q ?? '').toLowerCase();
  const shown = (list.data ?? []).filter(
    (p) => (!q || [p.uuid, p.name, p.description ?? ''].some((s) => s.toLowerCase().includes(q))) && (!search.tag || (p.tags ?? []).includes(search.tag)),
  );

  const runNow = useMutation({
    mutationFn: (p: Pipeline) => runPipelineNow(p),
    onSuccess: (run, p) => {
      toast(`Run ${run.id} of ${p.name} started (${run.status}).`);
      void queryClient.invalidateQueries({ queryKey: pipelinesQueryKey });
    },
    onError: (err) => toast((err as Error).message, 'error'),
  });

  return (
    <div className="page">
      <div className="page-head">
        <h1>Pipelines</h1>
        <span className="spacer" />
        <button className="button primary" onClick={() => setDialog({ kind: 'create' })}>
          + New pipeline
        </button>
      </div>
      <div className="filters">
        <input
          type="search"
          placeholder="Search by name, uuid or description"
          aria-label="Search pipelines"
          value={search.q ?? ''}
          onChange={(e) => void navigate({ search: (s) => ({ ...s, q: e.target.value || undefined }), replace: true })}
        />
        <select aria-label="Filter by tag" value={search.tag ?? ''} onChange={(e) => void navigate({ search: (s) => ({ ...s, tag: e.target.value || undefined }), replace: true })}>
          <option value="">All tags</option>
          {tags.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <span className="muted small">
          {list.data ? `${shown.length} of ${list.data.length}` : ''}
        </span>
      </div>
      <ErrorNote error={list.error} />
      {list.isPending ? (
        <div className="muted">Loading…</div>
      ) : shown.length === 0 ? (
        <div className="empty">
          {list.data?.length ? 'No pipeline matches.' : 'No pipelines yet.'}{' '}
          <button className="link" onClick={() => setDialog({ kind: 'create' })}>
            Create one
          </button>
        </div>
      ) : (
        <table className="grid" aria-label="Pipelines">
          <thead>
            <tr>
              <th>Name</th>
              <th>Type</th>
              <th>Tags</th>
              <th className="num">Blocks</th>
              <th>Triggers</th>
              <th>Updated</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {shown.map((p) => {
              const active = (p.schedules ?? []).filter((s) => s.status === 'active' && s.name !== RUN_NOW_TRIGGER).length;
              return (
                <tr key={p.uuid} data-pipeline={p.uuid}>
                  <td>
                    <Link to="/pipelines/$uuid/edit" params={{ uuid: p.uuid }} className="strong">
                      {p.name}
                    </Link>
                    {p.name !== p.uuid && <div className="muted small mono">{p.uuid}</div>}
                    {p.description && <div className="muted small">{p.description}</div>}
                    {p.error && <div className="error-text small">{p.error}</div>}
                  </td>
                  <td>{p.type}</td>
                  <td>
                    {(p.tags ?? []).map((t) => (
                      <button key={t} className="chip" onClick={() => void navigate({ search: (s) => ({ ...s, tag: t }) })}>
                        {t}
                      </button>
                    ))}
                  </td>
                  <td className="num">{p.blocks?.length ?? 0}</td>
                  <td>{active ? <span className="badge ok">{active} active</span> : <span className="muted small">none active</span>}</td>
                  <td className="small">{formatTime(p.updated_at)}</td>
                  <td className="actions">
                    <button className="button small" disabled={p.type === 'invalid' || runNow.isPending} onClick={() => runNow.mutate(p)} title="Start a run now">
                      ▶ Run now
                    </button>
                    <button className="button small ghost" onClick={() => setDialog({ kind: 'clone', pipeline: p })}>
                      Clone
                    </button>
                    <button className="button small ghost" onClick={() => setDialog({ kind: 'rename', pipeline: p })}>
                      Rename
                    </button>
                    <button className="button small ghost danger" onClick={() => setDialog({ kind: 'delete', pipeline: p })}>
                      Delete
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {dialog?.kind === 'create' && <CreateDialog onClose={() => setDialog(null)} />}
      {dialog?.kind === 'clone' && <CloneDialog pipeline={dialog.pipeline} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'rename' && <RenameDialog pipeline={dialog.pipeline} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'delete' && <DeleteDialog pipeline={dialog.pipeline} onClose={() => setDialog(null)} />}
    </div>
  );
}

function CreateDialog({ onClose }: { onClose: () => void }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [start, setStart] = useState<'blank' | 'template'>('blank');
  const [blockType, setBlockType] = useState('data_loader');
  const [language, setLanguage] = useState('python');
  const [tags, setTags] = useState('');
  const create = useMutation({
    mutationFn: async () => {
      const tagList = tags.split(',').map((t) => t.trim()).filter(Boolean);
      const { pipeline } = await api.post<{ pipeline: Pipeline }>('/api/pipelines', { pipeline: { name: name.trim(), type: 'python', ...(tagList.length ? { tags: tagList } : {}) } });
      if (start === 'template') {
        const blockName = `${blockType === 'data_loader' ? 'load' : blockType === 'data_exporter' ? 'export' : blockType}_${pipeline.uuid}`.slice(0, 200);
        await api.post(`/api/pipelines/${seg(pipeline.uuid)}/blocks`, { block: { name: blockName, type: blockType, language } });
      }
      return pipeline;
    },
    onSuccess: async (pipeline) => {
      await queryClient.invalidateQueries({ queryKey: pipelinesQueryKey });
      onClose();
      await navigate({ to: '/pipelines/$uuid/edit', params: { uuid: pipeline.uuid } });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) create.mutate();
  };
  return (
    <Modal title="New pipeline" onClose={onClose} testId="create-pipeline">
      <form onSubmit={submit} className="form" id="create-pipeline-form">
        <label>
          Name
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. daily_orders" required />
        </label>
        <label>
          Tags
          <input name="tags" value={tags} onChange={(e) => setTags(e.target.value)} placeholder="comma-separated, e.g. sales, daily" />
        </label>
        <fieldset className="radio-row">
          <legend>Start from</legend>
          <label>
            <input type="radio" name="start" checked={start === 'blank'} onChange={() => setStart('blank')} /> Blank pipeline
          </label>
          <label>
            <input type="radio" name="start" checked={start === 'template'} onChange={() => setStart('template')} /> A block template
          </label>
        </fieldset>
        {start === 'template' && (
          <div className="row">
            <label>
              Block type
              <select
                name="block_type"
                value={blockType}
                onChange={(e) => {
                  setBlockType(e.target.value);
                  setLanguage(languageForType(e.target.value, language));
                }}
              >
                <BlockTypeOptions />
              </select>
            </label>
            <label>
              Language
              <select name="language" value={language} onChange={(e) => setLanguage(e.target.value)}>
                <BlockLanguageOptions type={blockType} />
              </select>
            </label>
          </div>
        )}
        <ErrorNote error={create.error} />
        <div className="modal-footer">
          <button type="button" className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={create.isPending || !name.trim()}>
            {create.isPending ? 'Creating…' : 'Create'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function CloneDialog({ pipeline, onClose }: { pipeline: Pipeline; onClose: () => void }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [name, setName] = useState(`${pipeline.name} copy`);
  const clone = useMutation({
    mutationFn: () => api.post<{ pipeline: Pipeline }>('/api/pipelines', { pipeline: { name: name.trim(), clone_pipeline_uuid: pipeline.uuid } }),
    onSuccess: async (res) => {
      await queryClient.invalidateQueries({ queryKey: pipelinesQueryKey });
      toast(`Cloned ${pipeline.name} as ${res.pipeline.name}.`);
      onClose();
    },
  });
  return (
    <Modal title={`Clone ${pipeline.name}`} onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) clone.mutate();
        }}
      >
        <label>
          Name of the copy
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <p className="muted small">The copy uses the same block files (blocks live at the project level, as in Mage).</p>
        <ErrorNote error={clone.error} />
        <div className="modal-footer">
          <button type="button" className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={clone.isPending}>
            Clone
          </button>
        </div>
      </form>
    </Modal>
  );
}

function RenameDialog({ pipeline, onClose }: { pipeline: Pipeline; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState(pipeline.name);
  const rename = useMutation({
    mutationFn: () => api.put(`/api/pipelines/${seg(pipeline.uuid)}`, { pipeline: { name: name.trim() } }),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: pipelinesQueryKey });
      onClose();
    },
  });
  return (
    <Modal title={`Rename ${pipeline.name}`} onClose={onClose}>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim() && name.trim() !== pipeline.name) rename.mutate();
        }}
      >
        <label>
          New name
          <input name="name" value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <p className="muted small">The pipeline's folder and uuid follow the name; its runs and triggers move with it.</p>
        <ErrorNote error={rename.error} />
        <div className="modal-footer">
          <button type="button" className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={rename.isPending}>
            Rename
          </button>
        </div>
      </form>
    </Modal>
  );
}

function DeleteDialog({ pipeline, onClose }: { pipeline: Pipeline; onClose: () => void }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const del = useMutation({
    mutationFn: () => api.del(`/api/pipelines/${seg(pipeline.uuid)}`),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: pipelinesQueryKey });
      toast(`Deleted ${pipeline.name}.`);
      onClose();
    },
  });
  return (
    <Modal
      title={`Delete ${pipeline.name}?`}
      onClose={onClose}
      footer={
        <>
          <button className="button ghost" onClick={onClose}>
            Cancel
          </button>
          <button className="button danger" onClick={() => del.mutate()} disabled={del.isPending}>
            Delete pipeline
          </button>
        </>
      }
    >
      <p>
        This removes the folder <span className="mono">pipelines/{pipeline.uuid}</span>. Block files stay in the project (another pipeline may use them).
      </p>
      <ErrorNote error={del.error} />
    </Modal>
  );
}
