/**
 * Create or edit a trigger: schedule (Mage's intervals or a cron expression, with the next 5 run times in the
 * trigger's timezone), event (matchers) or API; start time, runtime variables (JSON), active.
 */
import { useMemo, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, seg, type Pipeline, type Trigger } from '../api';
import { ErrorNote, Modal } from '../components';
import { formatInZone, previewRuns } from './preview';

const INTERVALS = ['@once', '@hourly', '@daily', '@weekly', '@monthly', '@always_on'];

export const triggersQueryKey = ['pipeline_schedules'] as const;

function zones(): string[] {
  try {
    return (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf('timeZone');
  } catch {
    return ['UTC'];
  }
}

/** `YYYY-MM-DD HH:MM:SS` (UTC, the API's format) ↔ the value of a datetime-local input read as UTC. */
function toInput(value: string | null): string {
  return value ? value.replace(' ', 'T').slice(0, 16) : '';
}

export function TriggerForm(props: { trigger?: Trigger; pipelineUuid?: string; onClose(): void; onCreated?(t: Trigger): void }) {
  const editing = props.trigger;
  const queryClient = useQueryClient();
  const [pipelineUuid, setPipelineUuid] = useState(editing?.pipeline_uuid ?? props.pipelineUuid ?? '');
  const [name, setName] = useState(editing?.name ?? '');
  const [type, setType] = useState(editing?.schedule_type ?? 'time');
  const initialInterval = editing?.schedule_interval ?? '@daily';
  const [intervalChoice, setIntervalChoice] = useState(INTERVALS.includes(initialInterval) ? initialInterval : 'cron');
  const [cron, setCron] = useState(INTERVALS.includes(initialInterval) ? '0 6 * * *' : initialInterval);
  const [timezone, setTimezone] = useState(editing?.timezone ?? 'UTC');
  const [startTime, setStartTime] = useState(toInput(editing?.start_time ?? null));
  const [active, setActive] = useState(editing ? editing.status === 'active' : false);
  const [description, setDescription] = useState(editing?.description ?? '');
  const [variables, setVariables] = useState(editing?.variables && Object.keys(editing.variables).length ? JSON.stringify(editing.variables, null, 2) : '');
  const matcher = editing?.event_matchers?.[0];
  const [eventType, setEventType] = useState(matcher?.event_type ?? 'aws_event');
  const [eventName, setEventName] = useState(matcher?.name ?? '');
  const [eventPattern, setEventPattern] = useState(matcher?.pattern && Object.keys(matcher.pattern).length ? JSON.stringify(matcher.pattern) : '');

  const pipelines = useQuery({
    queryKey: ['pipelines', 'names'],
    queryFn: async () => (await api.get<{ pipelines: Pipeline[] }>('/api/pipelines')).pipelines.map((p) => p.uuid).sort(),
    enabled: !editing && !props.pipelineUuid,
  });
  const zoneList = useMemo(zones, []);
  const interval = intervalChoice === 'cron' ? cron : intervalChoice;
  const start = startTime ? new Date(`${startTime}:00Z`) : null;
  const preview = type === 'time' ? previewRuns(interval, timezone, start) : null;

  const parsedVariables = useMemo((): { ok: true; value: Record<string, unknown> | null } | { ok: false; error: string } => {
    if (!variables.trim()) return { ok: true, value: null };
    try {
      const v = JSON.parse(variables) as unknown;
      if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false, error: 'Runtime variables must be a JSON object, e.g. {"country": "NZ"}.' };
      return { ok: true, value: v as Record<string, unknown> };
    } catch (err) {
      return { ok: false, error: `Runtime variables are not valid JSON: ${(err as Error).message}` };
    }
  }, [variables]);

  const save = useMutation({
    mutationFn: async () => {
      if (!parsedVariables.ok) throw new Error(parsedVariables.error);
      let pattern: Record<string, unknown> | null = null;
      if (type === 'event' && eventPattern.trim()) {
        try {
          pattern = JSON.parse(eventPattern) as Record<string, unknown>;
        } catch {
          throw new Error('The event pattern is not valid JSON.');
        }
      }
      const body: Record<string, unknown> = {
        name: name.trim(),
        description: description.trim() || null,
        schedule_type: type,
        schedule_interval: type === 'time' ? interval.trim() : null,
        start_time: type === 'time' && startTime ? `${startTime.replace('T', ' ')}:00` : null,
        timezone: type === 'time' ? timezone || null : null,
        status: active ? 'active' : 'inactive',
        ...(parsedVariables.value || editing ? { variables: parsedVariables.value ?? {} } : {}),
        ...(type === 'event' ? { event_matchers: [{ ...(matcher?.id ? { id: matcher.id } : {}), event_type: eventType, name: eventName || null, pattern: pattern ?? {} }] } : {}),
      };
      if (editing) return (await api.put<{ pipeline_schedule: Trigger }>(`/api/pipeline_schedules/${editing.id}`, { pipeline_schedule: body })).pipeline_schedule;
      return (await api.post<{ pipeline_schedule: Trigger }>(`/api/pipelines/${seg(pipelineUuid)}/pipeline_schedules`, { pipeline_schedule: body })).pipeline_schedule;
    },
    onSuccess: async (t) => {
      await queryClient.invalidateQueries({ queryKey: triggersQueryKey });
      props.onClose();
      if (!editing) props.onCreated?.(t);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim() && pipelineUuid) save.mutate();
  };

  return (
    <Modal title={editing ? `Edit trigger ${editing.name}` : 'New trigger'} onClose={props.onClose} testId="trigger-form">
      <form className="form" onSubmit={submit}>
        {!editing && !props.pipelineUuid && (
          <label>
            Pipeline
            <select value={pipelineUuid} onChange={(e) => setPipelineUuid(e.target.value)} required>
              <option value="">Choose a pipeline…</option>
              {(pipelines.data ?? []).map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </label>
        )}
        <div className="row">
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} required placeholder="e.g. nightly" />
          </label>
          <label>
            Type
            <select value={type} onChange={(e) => setType(e.target.value)}>
              <option value="time">Schedule</option>
              <option value="event">Event</option>
              <option value="api">API</option>
            </select>
          </label>
        </div>
        {type === 'time' && (
          <>
            <div className="row">
              <label>
                Interval
                <select value={intervalChoice} onChange={(e) => setIntervalChoice(e.target.value)}>
                  {INTERVALS.map((i) => (
                    <option key={i}>{i}</option>
                  ))}
                  <option value="cron">custom (cron)</option>
                </select>
              </label>
              {intervalChoice === 'cron' && (
                <label>
                  Cron expression
                  <input className="mono" value={cron} onChange={(e) => setCron(e.target.value)} placeholder="*/15 * * * *" />
                </label>
              )}
            </div>
            <div className="row">
              <label>
                Timezone
                <input list="tz-list" value={timezone} onChange={(e) => setTimezone(e.target.value)} placeholder="UTC" />
                <datalist id="tz-list">
                  {zoneList.map((z) => (
                    <option key={z} value={z} />
                  ))}
                </datalist>
              </label>
              <label>
                Start time (UTC)
                <input type="datetime-local" value={startTime} onChange={(e) => setStartTime(e.target.value)} />
              </label>
            </div>
            <div className="preview" data-testid="schedule-preview" aria-live="polite">
              <div className="muted small">Next runs ({timezone || 'UTC'})</div>
              {preview?.kind === 'times' ? (
                <ol>
                  {preview.times.map((t) => (
                    <li key={t.getTime()} className="mono small">
                      {formatInZone(t, timezone)}
                    </li>
                  ))}
                </ol>
              ) : (
                <div className={`small ${preview?.kind === 'error' ? 'error-text' : 'muted'}`}>{preview?.text}</div>
              )}
            </div>
          </>
        )}
        {type === 'event' && (
          <div className="row">
            <label>
              Event type
              <input value={eventType} onChange={(e) => setEventType(e.target.value)} />
            </label>
            <label>
              Event name
              <input value={eventName} onChange={(e) => setEventName(e.target.value)} placeholder="e.g. s3_upload" />
            </label>
            <label>
              Pattern (JSON)
              <input className="mono" value={eventPattern} onChange={(e) => setEventPattern(e.target.value)} placeholder='{"source": ["aws.s3"]}' />
            </label>
          </div>
        )}
        {type === 'api' && <p className="muted small">An API trigger starts a run when its URL is called with its token. The token is shown once, after saving.</p>}
        <label>
          Runtime variables (JSON object, over the pipeline's variables)
          <textarea className="mono" rows={3} value={variables} onChange={(e) => setVariables(e.target.value)} placeholder='{"country": "NZ"}' />
        </label>
        {!parsedVariables.ok && <div className="error-text small">{parsedVariables.error}</div>}
        <label>
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <label className="check">
          <input type="checkbox" checked={active} onChange={(e) => setActive(e.target.checked)} /> Active
        </label>
        <ErrorNote error={save.error} />
        <div className="modal-footer">
          <button type="button" className="button ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={save.isPending || !name.trim() || !pipelineUuid || preview?.kind === 'error' || !parsedVariables.ok}>
            {editing ? 'Save' : 'Create trigger'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
