/** One block cell: header (type colour, uuid, language, upstream chips, run buttons), Monaco, live output. */
import { memo, useEffect, useRef, useState } from 'react';
import Editor, { type OnMount } from '@monaco-editor/react';
import type { Block } from '../api';
import { LANGUAGE_LABELS, TYPE_LABELS, typeColor } from '../components';
import { monaco, monacoLanguage, modelPath } from './monaco';
import { BlockOutput, type BlockRunState } from './Output';

type CodeEditor = Parameters<OnMount>[0];

export type RunKind = 'block' | 'upstream' | 'downstream';

export interface CellHandlers {
  onChange(uuid: string, value: string): void;
  onRun(uuid: string, kind: RunKind): void;
  onRunAndAdvance(uuid: string): void;
  onSave(): void;
  onInterrupt(uuid: string): void;
  onRemove(uuid: string): void;
  onDisconnect(upstream: string, downstream: string): void;
  onFocusCell(uuid: string): void;
  onScrollTo(uuid: string): void;
  registerEditor(uuid: string, editor: CodeEditor | null): void;
}

export interface CodeCellProps {
  pipelineUuid: string;
  block: Block;
  initialContent: string;
  dirty: boolean;
  active: boolean;
  run: BlockRunState;
  handlers: CellHandlers;
}

const NOT_RUNNABLE = new Set(['markdown']);

export const CodeCell = memo(function CodeCell({ pipelineUuid, block, initialContent, dirty, active, run, handlers }: CodeCellProps) {
  const [height, setHeight] = useState(Math.min(520, Math.max(72, (initialContent.split('\n').length + 1) * 19)));
  const handlersRef = useRef(handlers);
  handlersRef.current = handlers;
  const editorRef = useRef<CodeEditor | null>(null);
  const runnable = !NOT_RUNNABLE.has(block.type) && block.language !== 'markdown';
  const busy = run.state === 'running' || run.state === 'queued';
  const color = typeColor(block.type, block.color);

  useEffect(() => () => handlersRef.current.registerEditor(block.uuid, null), [block.uuid]);

  const onMount: OnMount = (editor) => {
    editorRef.current = editor;
    handlersRef.current.registerEditor(block.uuid, editor);
    const resize = () => setHeight(Math.min(520, Math.max(72, editor.getContentHeight() + 4)));
    editor.onDidContentSizeChange(resize);
    resize();
    editor.onDidFocusEditorText(() => handlersRef.current.onFocusCell(block.uuid));
    // addAction, not addCommand: addCommand's keybindings follow the last created editor (monaco-editor#2947).
    editor.addAction({ id: 'blockflow.runAdvance', label: 'Run block and go to the next', keybindings: [monaco.KeyMod.Shift | monaco.KeyCode.Enter], run: () => handlersRef.current.onRunAndAdvance(block.uuid) });
    editor.addAction({ id: 'blockflow.run', label: 'Run block', keybindings: [monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter], run: () => handlersRef.current.onRun(block.uuid, 'block') });
    editor.addAction({ id: 'blockflow.save', label: 'Save pipeline', keybindings: [monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyS], run: () => handlersRef.current.onSave() });
  };

  return (
    <section
      className={`cell ${active ? 'active' : ''} ${busy ? 'busy' : ''} state-${run.state}`}
      id={`cell-${block.uuid}`}
      data-testid={`cell-${block.uuid}`}
      data-block={block.uuid}
      style={{ borderLeftColor: color }}
      onMouseDown={() => handlers.onFocusCell(block.uuid)}
    >
      <header className="cell-head">
        <span className="type-dot" style={{ background: color }} />
        <span className="cell-type">{TYPE_LABELS[block.type] ?? block.type}</span>
        <span className="cell-uuid mono strong" title={block.name}>
          {block.uuid}
        </span>
        <span className="badge lang">{LANGUAGE_LABELS[block.language] ?? block.language}</span>
        {dirty && (
          <span className="badge warn" title="Changed since the last save">
            unsaved
          </span>
        )}
        {block.error && (
          <span className="badge bad" title={block.error.message}>
            file missing
          </span>
        )}
        <span className="spacer" />
        {runnable && (
          <div className="cell-actions">
            {busy ? (
              <button className="button small danger" onClick={() => handlers.onInterrupt(block.uuid)} aria-label={`Interrupt ${block.uuid}`}>
                ■ Interrupt
              </button>
            ) : (
              <>
                <button className="button small primary" onClick={() => handlers.onRun(block.uuid, 'block')} title="Run this block (Ctrl/Cmd+Enter; Shift+Enter runs and moves on)" aria-label={`Run ${block.uuid}`}>
                  ▶ Run
                </button>
                <button className="button small" onClick={() => handlers.onRun(block.uuid, 'upstream')} title="Run the upstream blocks first, then this one" aria-label={`Run ${block.uuid} with upstream`}>
                  ⇡ With upstream
                </button>
                <button className="button small" onClick={() => handlers.onRun(block.uuid, 'downstream')} title="Run this block, then its downstream blocks" aria-label={`Run ${block.uuid} and downstream`}>
                  ⇣ Downstream
                </button>
              </>
            )}
          </div>
        )}
        <button className="button small ghost danger" onClick={() => handlers.onRemove(block.uuid)} aria-label={`Remove ${block.uuid}`} title="Remove block from the pipeline">
          Remove
        </button>
      </header>
      {block.upstream_blocks.length > 0 && (
        <div className="upstream-chips">
          <span className="muted small">upstream</span>
          {block.upstream_blocks.map((u) => (
            <span className="chip" key={u} data-testid={`upstream-${block.uuid}-${u}`}>
              <button className="link" onClick={() => handlers.onScrollTo(u)} title={`Go to ${u}`}>
                {u}
              </button>
              <button className="chip-x" onClick={() => handlers.onDisconnect(u, block.uuid)} aria-label={`Disconnect ${u} from ${block.uuid}`} title="Remove this dependency">
                ×
              </button>
            </span>
          ))}
        </div>
      )}
      {/* .nokey: React Flow's document key handler must not eat keys typed into Monaco (ui.md §6.3 trap 5). */}
      <div className="nokey cell-editor" data-testid={`editor-${block.uuid}`}>
        <Editor
          height={height}
          path={modelPath(pipelineUuid, block.uuid, block.language)}
          defaultLanguage={monacoLanguage(block.language)}
          defaultValue={initialContent}
          theme="blockflow-dark"
          loading={<div className="muted small editor-loading">Loading editor…</div>}
          onMount={onMount}
          onChange={(value) => handlersRef.current.onChange(block.uuid, value ?? '')}
          options={{
            minimap: { enabled: false },
            scrollBeyondLastLine: false,
            fontSize: 13,
            lineHeight: 19,
            tabSize: block.language === 'python' ? 4 : 2,
            automaticLayout: true,
            wordWrap: 'on',
            renderLineHighlight: 'line',
            overviewRulerLanes: 0,
            scrollbar: { alwaysConsumeMouseWheel: false, vertical: 'auto' },
            padding: { top: 6, bottom: 6 },
            fixedOverflowWidgets: true,
          }}
        />
      </div>
      <BlockOutput run={run} />
    </section>
  );
});
