/** What a block printed and returned: stdout/stderr, tables (scrolling), JSON trees, text, HTML, images, tests, errors. */
import { memo, useState } from 'react';
import type { BlockError, OutputPayload, TestResult } from './execution';

export interface BlockRunState {
  state: 'idle' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  executionId?: string;
  lines: { stream: 'stdout' | 'stderr'; text: string }[];
  truncated?: boolean;
  outputs: OutputPayload[];
  error?: BlockError;
  tests?: TestResult;
  durationMs?: number;
  /** Outputs loaded with the pipeline, not from a run in this page. */
  saved?: boolean;
  note?: string;
}

export const IDLE: BlockRunState = { state: 'idle', lines: [], outputs: [] };

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function TableView({ output }: { output: Extract<OutputPayload, { type: 'table' }> }) {
  const [rowsShown, columnsShown] = [output.rows.length, output.columns.length];
  const shape = output.shape ?? [rowsShown, columnsShown];
  return (
    <div className="table-output" data-testid="output-table">
      <div className="table-scroll">
        <table>
          <thead>
            <tr>
              <th className="idx">#</th>
              {output.columns.map((c, i) => (
                <th key={i}>{c}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {output.rows.map((row, r) => (
              <tr key={r}>
                <td className="idx">{cell(output.index?.[r] ?? r)}</td>
                {row.map((v, c) => (
                  <td key={c} className={typeof v === 'number' ? 'num' : undefined}>
                    {cell(v)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="table-foot muted small">
        {shape[0]} rows × {shape[1]} columns{rowsShown < shape[0] ? ` (first ${rowsShown} shown)` : ''}
        {output.variable_uuid ? ` · ${output.variable_uuid}` : ''}
      </div>
    </div>
  );
}

export function JsonTree({ value, name, depth = 0 }: { value: unknown; name?: string; depth?: number }) {
  const label = name !== undefined ? <span className="json-key">{name}: </span> : null;
  if (value === null || typeof value !== 'object') {
    const cls = value === null ? 'json-null' : typeof value === 'string' ? 'json-string' : typeof value === 'number' ? 'json-number' : 'json-bool';
    return (
      <div className="json-leaf">
        {label}
        <span className={cls}>{typeof value === 'string' ? JSON.stringify(value) : String(value)}</span>
      </div>
    );
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as Record<string, unknown>);
  const summary = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  return (
    <details className="json-node" open={depth < 3}>
      <summary>
        {label}
        <span className="muted">{summary}</span>
      </summary>
      <div className="json-children">
        {entries.slice(0, 500).map(([k, v]) => (
          <JsonTree key={k} name={k} value={v} depth={depth + 1} />
        ))}
        {entries.length > 500 && <div className="muted small">… {entries.length - 500} more</div>}
      </div>
    </details>
  );
}

function OutputItem({ output }: { output: OutputPayload }) {
  switch (output.type) {
    case 'table':
      return <TableView output={output} />;
    case 'json':
      return (
        <div className="json-output" data-testid="output-json">
          <JsonTree value={output.data} />
        </div>
      );
    case 'text/html':
      // Sandboxed: no scripts, no same-origin access.
      return <iframe className="html-output" sandbox="" srcDoc={output.data} title="HTML output" />;
    case 'image/png':
      return <img className="image-output" alt="block output" src={output.data.startsWith('data:') ? output.data : `data:image/png;base64,${output.data}`} />;
    default:
      return (
        <pre className="text-output" data-testid="output-text">
          {output.data}
        </pre>
      );
  }
}

function Tests({ tests }: { tests: TestResult }) {
  // `passed` is null when the runtime does not count passing tests (TypeScript).
  const label =
    tests.passed === null ? (tests.failed ? `${tests.failed} test${tests.failed === 1 ? '' : 's'} failed` : 'Tests passed') : `${tests.passed}/${tests.passed + tests.failed} tests passed`;
  return (
    <div className={`tests ${tests.failed ? 'failed' : 'passed'}`} data-testid="test-results">
      <span className={`badge ${tests.failed ? 'bad' : 'ok'}`}>{label}</span>
      {tests.failures.map((f, i) => (
        <div key={i} className="test-failure">
          <span className="mono strong">{f.name}</span>: {f.message}
        </div>
      ))}
    </div>
  );
}

export const BlockOutput = memo(function BlockOutput({ run }: { run: BlockRunState }) {
  const [showStack, setShowStack] = useState(true);
  const empty = !run.lines.length && !run.outputs.length && !run.error && !run.tests && !run.note;
  if (empty && (run.state === 'idle' || run.state === 'completed')) {
    return run.state === 'completed' ? (
      <div className="output muted small" data-testid="block-output">
        Done{run.durationMs !== undefined ? ` in ${(run.durationMs / 1000).toFixed(2)} s` : ''}, no output.
      </div>
    ) : null;
  }
  return (
    <div className={`output ${run.saved ? 'saved' : ''}`} data-testid="block-output" data-state={run.state}>
      {run.lines.length > 0 && (
        <pre className="stdout" data-testid="stdout">
          {run.lines.map((l, i) => (
            <span key={i} className={l.stream === 'stderr' ? 'stderr' : undefined}>
              {l.text}
              {'\n'}
            </span>
          ))}
          {run.truncated && <span className="muted">… output truncated</span>}
        </pre>
      )}
      {run.outputs.map((o, i) => (
        <OutputItem key={i} output={o} />
      ))}
      {/* A runtime that does not count passing tests (passed null) and saw no failure says nothing worth a badge. */}
      {run.tests && !(run.tests.passed === null && run.tests.failed === 0) && <Tests tests={run.tests} />}
      {run.error && (
        <div className="block-error" role="alert" data-testid="block-error">
          <div className="strong">
            {run.error.name}: {run.error.message}
          </div>
          {run.error.stack.length > 0 && (
            <>
              <button className="link small" onClick={() => setShowStack((s) => !s)}>
                {showStack ? 'Hide traceback' : 'Show traceback'}
              </button>
              {showStack && <pre className="traceback">{run.error.stack.join('\n')}</pre>}
            </>
          )}
        </div>
      )}
      {run.note && <div className="muted small">{run.note}</div>}
      <div className="output-foot muted small">
        {run.saved
          ? 'Last saved output'
          : run.state === 'running'
            ? 'Running…'
            : run.state === 'queued'
              ? 'Queued…'
              : run.state === 'cancelled'
                ? 'Interrupted'
                : run.durationMs !== undefined
                  ? `${run.state === 'failed' ? 'Failed' : 'Done'} in ${(run.durationMs / 1000).toFixed(2)} s`
                  : ''}
      </div>
    </div>
  );
});
