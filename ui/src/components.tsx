/** Small shared pieces: modal dialog, toasts, error notes, type colours. */
import { Component, createContext, useCallback, useContext, useEffect, useRef, useState, type ErrorInfo, type ReactNode } from 'react';

export function Modal(props: { title: string; onClose: () => void; children: ReactNode; footer?: ReactNode; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') props.onClose();
    };
    document.addEventListener('keydown', onKey);
    ref.current?.querySelector<HTMLElement>('input, select, textarea, button')?.focus();
    return () => document.removeEventListener('keydown', onKey);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div className="modal" role="dialog" aria-modal="true" aria-label={props.title} ref={ref} data-testid={props.testId}>
        <div className="modal-title">{props.title}</div>
        <div className="modal-body">{props.children}</div>
        {props.footer && <div className="modal-footer">{props.footer}</div>}
      </div>
    </div>
  );
}

export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div className="error-note" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </div>
  );
}

interface Toast {
  id: number;
  text: string;
  kind: 'info' | 'error';
}
const ToastContext = createContext<(text: string, kind?: Toast['kind']) => void>(() => undefined);

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const next = useRef(1);
  const push = useCallback((text: string, kind: Toast['kind'] = 'info') => {
    const id = next.current++;
    setToasts((t) => [...t, { id, text, kind }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), kind === 'error' ? 8000 : 4000);
  }, []);
  return (
    <ToastContext.Provider value={push}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`} role={t.kind === 'error' ? 'alert' : 'status'}>
            {t.text}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

export const useToast = () => useContext(ToastContext);

/** Mage's block type colours (BlockType colours in Mage's frontend). */
export const TYPE_COLORS: Record<string, string> = {
  data_loader: '#4f8cff',
  transformer: '#a66bff',
  data_exporter: '#f5b83d',
  custom: '#9aa3b2',
  sensor: '#ff6fa8',
  scratchpad: '#6b7385',
  markdown: '#5bc8a8',
  chart: '#2fd0d0',
  callback: '#6b7385',
  conditional: '#6b7385',
  dbt: '#ff7a45',
};

export function typeColor(type: string, color?: string | null): string {
  if (color) {
    const named: Record<string, string> = { blue: '#4f8cff', grey: '#9aa3b2', pink: '#ff6fa8', purple: '#a66bff', teal: '#2fd0d0', yellow: '#f5b83d' };
    if (named[color]) return named[color];
  }
  return TYPE_COLORS[type] ?? '#9aa3b2';
}

export const TYPE_LABELS: Record<string, string> = {
  data_loader: 'Data loader',
  transformer: 'Transformer',
  data_exporter: 'Data exporter',
  custom: 'Custom',
  sensor: 'Sensor',
  scratchpad: 'Scratchpad',
  markdown: 'Markdown',
};

export const LANGUAGE_LABELS: Record<string, string> = {
  python: 'Python',
  sql: 'SQL',
  typescript: 'TypeScript',
  javascript: 'JavaScript',
  markdown: 'Markdown',
  yaml: 'YAML',
  r: 'R',
};

/** The languages a new block of each type may be written in (Mage's add-block menu, plus TS/JS). */
export const LANGUAGES_BY_TYPE: Record<string, string[]> = {
  data_loader: ['python', 'sql', 'typescript', 'javascript', 'yaml', 'r'],
  transformer: ['python', 'sql', 'typescript', 'javascript', 'yaml', 'r'],
  data_exporter: ['python', 'sql', 'typescript', 'javascript', 'yaml', 'r'],
  custom: ['python', 'sql', 'typescript', 'javascript'],
  sensor: ['python', 'sql', 'typescript', 'javascript'],
  scratchpad: ['python', 'typescript', 'javascript'],
  markdown: ['markdown'],
};

/** The language kept when a new block's type changes to `type`: the current one if allowed, else the type's first. */
export function languageForType(type: string, language: string): string {
  return LANGUAGES_BY_TYPE[type]?.includes(language) ? language : LANGUAGES_BY_TYPE[type][0];
}

/** `<option>`s of the block types a new block may have. */
export function BlockTypeOptions() {
  return (
    <>
      {Object.keys(LANGUAGES_BY_TYPE).map((t) => (
        <option key={t} value={t}>
          {TYPE_LABELS[t] ?? t}
        </option>
      ))}
    </>
  );
}

/** `<option>`s of the languages a new block of `type` may be written in. */
export function BlockLanguageOptions({ type }: { type: string }) {
  return (
    <>
      {LANGUAGES_BY_TYPE[type].map((l) => (
        <option key={l} value={l}>
          {LANGUAGE_LABELS[l]}
        </option>
      ))}
    </>
  );
}

export function formatTime(value: string | null | undefined): string {
  if (!value) return '—';
  const d = new Date(value.replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? value : d.toLocaleString();
}

/** Keeps one broken cell or panel from blanking the whole editor (mage-ai#2134). */
export class ErrorBoundary extends Component<{ label: string; children: ReactNode }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override componentDidCatch(error: Error, info: ErrorInfo) {
    console.warn(`${this.props.label} failed to render`, error, info.componentStack);
  }
  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <div className="error-note" role="alert">
        {this.props.label} could not be shown: {this.state.error.message}{' '}
        <button className="link" onClick={() => this.setState({ error: null })}>
          Try again
        </button>
      </div>
    );
  }
}
