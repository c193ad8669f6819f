/** The pipeline's global variables (metadata.yaml `variables:`; blocks get them as kwargs). */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, seg, type GlobalVariable } from '../api';
import { ErrorNote } from '../components';

interface VariablesAnswer {
  variables: { block: { uuid: string }; variables: GlobalVariable[] }[];
}

/** A typed value: JSON when it parses (numbers, booleans, lists, objects, quoted strings), else the text. */
export function parseValue(text: string): unknown {
  const t = text.trim();
  if (t === '') return '';
  try {
    return JSON.parse(t);
  } catch {
    return text;
  }
}

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

export function VariablesPanel({ pipelineUuid, onChanged }: { pipelineUuid: string; onChanged: () => void }) {
  const queryClient = useQueryClient();
  const key = ['variables', pipelineUuid];
  const list = useQuery({
    queryKey: key,
    queryFn: async () => {
      const res = await api.get<VariablesAnswer>(`/api/pipelines/${seg(pipelineUuid)}/variables?global_only=true`);
      return res.variables.find((v) => v.block.uuid === 'global')?.variables ?? [];
    },
  });
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [editing, setEditing] = useState<{ name: string; value: string } | null>(null);
  const done = async () => {
    await queryClient.invalidateQueries({ queryKey: key });
    onChanged();
  };
  const add = useMutation({
    mutationFn: () => api.post(`/api/pipelines/${seg(pipelineUuid)}/variables`, { variable: { name: name.trim(), value: parseValue(value) } }),
    onSuccess: async () => {
      setName('');
      setValue('');
      await done();
    },
  });
  const update = useMutation({
    mutationFn: (v: { name: string; value: string }) => api.put(`/api/pipelines/${seg(pipelineUuid)}/variables/${encodeURIComponent(v.name)}`, { variable: { value: parseValue(v.value) } }),
    onSuccess: async () => {
      setEditing(null);
      await done();
    },
  });
  const remove = useMutation({
    mutationFn: (n: string) => api.del(`/api/pipelines/${seg(pipelineUuid)}/variables/${encodeURIComponent(n)}`),
    onSuccess: done,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) add.mutate();
  };
  return (
    <div className="variables" data-testid="variables-panel">
      <div className="panel-title">Global variables</div>
      <ErrorNote error={list.error ?? add.error ?? update.error ?? remove.error} />
      <table className="vars">
        <tbody>
          {(list.data ?? []).map((v) => (
            <tr key={v.uuid} data-variable={v.uuid}>
              <td className="mono">{v.uuid}</td>
              <td className="mono">
                {editing?.name === v.uuid ? (
                  <form
                    onSubmit={(e) => {
                      e.preventDefault();
                      update.mutate(editing);
                    }}
                  >
                    <input aria-label={`Value of ${v.uuid}`} value={editing.value} onChange={(e) => setEditing({ name: v.uuid, value: e.target.value })} autoFocus onBlur={() => setEditing(null)} />
                  </form>
                ) : (
                  <button className="link value" title="Click to edit" onClick={() => setEditing({ name: v.uuid, value: typeof v.value === 'string' ? v.value : JSON.stringify(v.value) })}>
                    {show(v.value)}
                  </button>
                )}
              </td>
              <td className="muted small">{v.type.replace(/^<class '(.*)'>$/, '$1')}</td>
              <td>
                <button className="chip-x" aria-label={`Delete variable ${v.uuid}`} onClick={() => remove.mutate(v.uuid)}>
                  ×
                </button>
              </td>
            </tr>
          ))}
          {list.data?.length === 0 && (
            <tr>
              <td colSpan={4} className="muted small">
                No global variables.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <form className="var-add" onSubmit={submit}>
        <input aria-label="Variable name" placeholder="name" value={name} onChange={(e) => setName(e.target.value)} />
        <input aria-label="Variable value" placeholder="value (JSON or text)" value={value} onChange={(e) => setValue(e.target.value)} />
        <button className="button small" type="submit" disabled={!name.trim() || add.isPending}>
          Add
        </button>
      </form>
    </div>
  );
}
