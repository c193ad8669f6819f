/**
 * An API trigger's URL with copyable curl and Python samples for the async trigger
 * (`POST /api/pipeline_schedules/{id}/pipeline_runs/{token}`) and the synchronous block run (`POST /api/runs`).
 * The token is known only right after creating or rotating (the server keeps its hash); otherwise the samples
 * show a placeholder and "Rotate token" makes a new one.
 */
import { useState } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { api, seg, type Pipeline, type Trigger } from '../api';
import { ErrorNote, Modal, useToast } from '../components';

function Sample({ label, text }: { label: string; text: string }) {
  const toast = useToast();
  return (
    <div className="sample">
      <div className="sample-head">
        <span className="muted small">{label}</span>
        <span className="spacer" />
        <button
          type="button"
          className="button small ghost"
          aria-label={`Copy ${label}`}
          onClick={() =>
            void navigator.clipboard
              .writeText(text)
              .then(() => toast('Copied.'))
              .catch(() => toast('The browser refused the clipboard; select the text instead.', 'error'))
          }
        >
          Copy
        </button>
      </div>
      <pre className="code-sample" data-testid={`sample-${label.toLowerCase().replace(/[^a-z]+/g, '-')}`}>
        {text}
      </pre>
    </div>
  );
}

export function ApiTriggerInfo({ trigger, canWrite, onClose }: { trigger: Trigger; canWrite: boolean; onClose(): void }) {
  const [token, setToken] = useState<string | null>(trigger.token);
  const pipeline = useQuery({
    queryKey: ['pipeline', trigger.pipeline_uuid, 'blocks'],
    queryFn: async () => (await api.get<{ pipeline: Pipeline }>(`/api/pipelines/${seg(trigger.pipeline_uuid ?? '')}`)).pipeline,
    enabled: Boolean(trigger.pipeline_uuid),
  });
  const rotate = useMutation({
    mutationFn: async () => (await api.put<{ pipeline_schedule: Trigger }>(`/api/pipeline_schedules/${trigger.id}`, { pipeline_schedule: { rotate_token: true } })).pipeline_schedule,
    onSuccess: (t) => setToken(t.token),
  });
  const origin = window.location.origin;
  const tk = token ?? '<TOKEN>';
  const url = `${origin}/api/pipeline_schedules/${trigger.id}/pipeline_runs/${tk}`;
  const block = pipeline.data?.blocks.find((b) => b.type !== 'markdown')?.uuid ?? '<block_uuid>';
  // JSON with a space after each colon and comma: readable in the samples, and a Python dict literal as well.
  const runBody = JSON.stringify({ run: { pipeline_uuid: trigger.pipeline_uuid, block_uuid: block, variables: {} } })
    .replace(/":/g, '": ')
    .replace(/,"/g, ', "');
  const curlAsync = `curl -X POST '${url}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{"pipeline_run": {"variables": {"key": "value"}}}'`;
  const pyAsync = `import requests\n\nresp = requests.post(\n    "${url}",\n    json={"pipeline_run": {"variables": {"key": "value"}}},\n)\nprint(resp.json()["pipeline_run"]["id"])`;
  const curlSync = `curl -X POST '${origin}/api/runs' \\\n  -H 'Authorization: Bearer ${tk}' \\\n  -H 'Content-Type: application/json' \\\n  -d '${runBody}'`;
  const pySync = `import requests\n\nresp = requests.post(\n    "${origin}/api/runs",\n    headers={"Authorization": "Bearer ${tk}"},\n    json=${runBody},\n)\nprint(resp.json()["run"]["output"])`;
  return (
    <Modal title={`API trigger ${trigger.name}`} onClose={onClose} testId="api-trigger-info">
      <div className="api-info">
        {token ? (
          <div className="banner warn" role="status">
            This is the trigger's token. Copy it now: it is not shown again (the server keeps only its hash).
          </div>
        ) : (
          <p className="muted small">The token was shown once, when the trigger was made. {canWrite ? 'Rotate it to get a new one (the old one stops working).' : ''}</p>
        )}
        <label className="stack">
          <span className="muted small">Trigger URL</span>
          <input readOnly className="mono" value={url} aria-label="Trigger URL" />
        </label>
        {trigger.status !== 'active' && <p className="warn-text small">The trigger is inactive: calls answer 409 until it is activated.</p>}
        <Sample label="curl (async run)" text={curlAsync} />
        <Sample label="Python (async run)" text={pyAsync} />
        <Sample label="curl (POST /api/runs)" text={curlSync} />
        <Sample label="Python (POST /api/runs)" text={pySync} />
        <ErrorNote error={rotate.error} />
        <div className="modal-footer">
          {canWrite && (
            <button type="button" className="button danger" disabled={rotate.isPending} onClick={() => rotate.mutate()}>
              Rotate token
            </button>
          )}
          <button type="button" className="button" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </Modal>
  );
}
