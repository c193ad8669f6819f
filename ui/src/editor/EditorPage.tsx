/**
 * The pipeline editor (`/pipelines/$uuid/edit`), Mage's notebook: a column of block cells beside the DAG and the
 * global variables.
 *
 * Saving: `PUT /api/pipelines/{p}?update_content=true` with `If-Match: <ETag of the last GET>`; a 409 (or 412)
 * means someone else saved since, and nothing is overwritten: the page says so and keeps the local text. Every
 * change is also kept as a draft in localStorage until it is saved; autosave saves every 10 s when something
 * changed (can be turned off). After the page's own structural edits (add/remove/connect blocks, variables,
 * runs) it reloads the pipeline and takes the new ETag only when no block it has unsaved edits in changed on the
 * server meanwhile.
 */
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { Link, useParams } from '@tanstack/react-router';
import { ApiError, api, request, seg, type Block, type Pipeline } from '../api';
import { BlockLanguageOptions, BlockTypeOptions, ErrorBoundary, ErrorNote, Modal, languageForType, useToast } from '../components';
import { runPipelineNow } from '../pages/Pipelines';
import { CodeCell, type CellHandlers, type RunKind } from './CodeCell';
import { Dag, type NodeStatus } from './Dag';
import { followExecution, interruptExecution, runningExecutions, savedOutputs, startExecution, type ExecEvent, type ExecutionInfo, type StartExecution } from './execution';
import { IDLE, type BlockRunState } from './Output';
import { VariablesPanel } from './VariablesPanel';
import type { OnMount } from '@monaco-editor/react';

type CodeEditor = Parameters<OnMount>[0];

const AUTOSAVE_MS = 10_000;
const AUTOSAVE_KEY = 'blockflow.autosave';
const draftKey = (pipeline: string) => `blockflow.draft.${pipeline}`;
const MAX_LINES = 2000;

interface Draft {
  savedAt: string;
  blocks: Record<string, { content: string; base: string }>;
}

function readDraft(pipeline: string): Draft | null {
  try {
    const raw = localStorage.getItem(draftKey(pipeline));
    return raw ? (JSON.parse(raw) as Draft) : null;
  } catch {
    return null;
  }
}

// ---- run state per block ----------------------------------------------------------------------------------

type Runs = Record<string, BlockRunState>;
type RunAction =
  | { type: 'init'; runs: Runs }
  | { type: 'reset'; uuids: string[]; executionId?: string; state: BlockRunState['state'] }
  | { type: 'note'; uuid: string; note: string; state?: BlockRunState['state'] }
  | { type: 'event'; executionId: string; target: string | null; event: ExecEvent };

function runsReducer(runs: Runs, action: RunAction): Runs {
  switch (action.type) {
    case 'init':
      return { ...action.runs, ...Object.fromEntries(Object.entries(runs).filter(([, r]) => r.state === 'running' || r.state === 'queued')) };
    case 'reset': {
      const next = { ...runs };
      for (const u of action.uuids) next[u] = { state: action.state, executionId: action.executionId, lines: [], outputs: [] };
      return next;
    }
    case 'note':
      return { ...runs, [action.uuid]: { ...(runs[action.uuid] ?? IDLE), note: action.note, state: action.state ?? runs[action.uuid]?.state ?? 'idle' } };
    case 'event': {
      const { event, executionId } = action;
      const patch = (uuid: string | null | undefined, fn: (r: BlockRunState) => BlockRunState): Runs => {
        const key = uuid || action.target;
        if (!key) return runs;
        const current = runs[key] && runs[key].executionId === executionId ? runs[key] : { ...IDLE, executionId };
        return { ...runs, [key]: fn(current) };
      };
      switch (event.type) {
        case 'status':
          if (!event.block_uuid || (event.state !== 'queued' && event.state !== 'running')) return runs;
          return patch(event.block_uuid, (r) => ({ ...r, state: event.state as 'queued' | 'running', saved: false }));
        case 'block_start':
          return { ...runs, [event.block_uuid]: { state: 'running', executionId, lines: [], outputs: [] } };
        case 'stdout':
        case 'stderr':
          return patch(event.block_uuid, (r) => {
            const lines = [...r.lines, ...event.lines.map((text) => ({ stream: event.type, text }))];
            return { ...r, saved: false, lines: lines.length > MAX_LINES ? lines.slice(-MAX_LINES) : lines, truncated: r.truncated || event.truncated || lines.length > MAX_LINES };
          });
        case 'output':
          return patch(event.block_uuid, (r) => ({ ...r, saved: false, outputs: [...r.outputs, event.output] }));
        case 'test_result':
          return patch(event.block_uuid, (r) => ({ ...r, tests: { passed: event.passed, failed: event.failed, failures: event.failures ?? [] } }));
        case 'error':
          return patch(event.block_uuid, (r) => ({ ...r, saved: false, error: { name: event.name, message: event.message, stack: event.stack } }));
        case 'block_end':
          return patch(event.block_uuid, (r) => ({ ...r, state: event.status === 'completed' ? 'completed' : event.status === 'cancelled' ? 'cancelled' : 'failed', durationMs: event.duration_ms }));
        case 'done':
        case 'lost': {
          const next = { ...runs };
          for (const [uuid, r] of Object.entries(runs)) {
            if (r.executionId !== executionId || (r.state !== 'running' && r.state !== 'queued')) continue;
            if (event.type === 'lost') next[uuid] = { ...r, state: 'failed', note: event.message };
            else if (r.state === 'queued') next[uuid] = { ...r, state: 'idle', note: event.status === 'cancelled' ? 'Not run: interrupted.' : 'Not run.' };
            else next[uuid] = { ...r, state: event.status === 'completed' ? 'completed' : event.status === 'cancelled' ? 'cancelled' : 'failed', durationMs: r.durationMs ?? event.duration_ms };
          }
          return next;
        }
      }
    }
  }
  return runs;
}

const WORDS_A = ['amber', 'brisk', 'calm', 'dusty', 'eager', 'fancy', 'gentle', 'hidden', 'icy', 'jolly', 'keen', 'lively', 'misty', 'noble', 'proud', 'quiet', 'rapid', 'silent', 'tidy', 'vivid'];
const WORDS_B = ['river', 'meadow', 'falcon', 'harbor', 'canyon', 'breeze', 'glacier', 'forest', 'comet', 'island', 'lantern', 'orchard', 'pebble', 'summit', 'thunder', 'willow'];
const randomName = () => `${WORDS_A[Math.floor(Math.random() * WORDS_A.length)]}_${WORDS_B[Math.floor(Math.random() * WORDS_B.length)]}`;

// ---- the page ---------------------------------------------------------------------------------------------

export function EditorPage() {
  const { uuid } = useParams({ from: '/app/pipelines/$uuid/edit' });
  return <PipelineEditor key={uuid} pipelineUuid={uuid} />;
}

function PipelineEditor({ pipelineUuid }: { pipelineUuid: string }) {
  const toast = useToast();
  const [pipeline, setPipeline] = useState<Pipeline | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [dirty, setDirty] = useState<Set<string>>(new Set());
  const [saving, setSaving] = useState(false);
  const [lastSaved, setLastSaved] = useState<Date | null>(null);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [conflict, setConflict] = useState<string | null>(null);
  const [conflictDetail, setConflictDetail] = useState<string | null>(null);
  const [draftNotice, setDraftNotice] = useState<{ at: string; stale: string[] } | null>(null);
  const [autosave, setAutosave] = useState(() => localStorage.getItem(AUTOSAVE_KEY) !== 'off');
  const [active, setActive] = useState<string | null>(null);
  const [removing, setRemoving] = useState<Block | null>(null);
  const [executions, setExecutions] = useState<Record<string, ExecutionInfo>>({});
  const [runs, dispatch] = useReducer(runsReducer, {});
  const [sideTab, setSideTab] = useState<'graph' | 'variables'>('graph');

  const etag = useRef<string | null>(null);
  const base = useRef(new Map<string, string>());
  const drafts = useRef(new Map<string, string>());
  const dirtyRef = useRef(dirty);
  dirtyRef.current = dirty;
  const pipelineRef = useRef(pipeline);
  pipelineRef.current = pipeline;
  const editors = useRef(new Map<string, CodeEditor>());
  const suppress = useRef(new Set<string>());
  const streams = useRef(new Map<string, () => void>());
  const savingRef = useRef<Promise<boolean> | null>(null);
  const conflictRef = useRef(conflict);
  conflictRef.current = conflict;
  const initialContent = useRef(new Map<string, string>());

  const persistDraft = useCallback(() => {
    const entries = [...dirtyRef.current].filter((u) => drafts.current.has(u)).map((u) => [u, { content: drafts.current.get(u) ?? '', base: base.current.get(u) ?? '' }] as const);
    if (entries.length) localStorage.setItem(draftKey(pipelineUuid), JSON.stringify({ savedAt: new Date().toISOString(), blocks: Object.fromEntries(entries) } satisfies Draft));
    else localStorage.removeItem(draftKey(pipelineUuid));
  }, [pipelineUuid]);

  const fetchPipeline = useCallback(async () => {
    const res = await request<{ pipeline: Pipeline }>('GET', `/api/pipelines/${seg(pipelineUuid)}?includes_content=true&includes_outputs=true&max_results_for_block_outputs=100`);
    return { pipeline: res.data.pipeline, etag: res.headers.get('etag') };
  }, [pipelineUuid]);

  const setEditorText = (uuid: string, text: string) => {
    const editor = editors.current.get(uuid);
    initialContent.current.set(uuid, text);
    if (editor && editor.getValue() !== text) {
      suppress.current.add(uuid);
      editor.setValue(text);
      suppress.current.delete(uuid);
    }
  };

  // First load: server content, then any local draft whose base is still the server's text.
  useEffect(() => {
    let cancelled = false;
    fetchPipeline()
      .then(({ pipeline: p, etag: tag }) => {
        if (cancelled) return;
        etag.current = tag;
        const restored = new Set<string>();
        const stale: string[] = [];
        const draft = readDraft(pipelineUuid);
        for (const b of p.blocks) {
          const content = b.content ?? '';
          base.current.set(b.uuid, content);
          let text = content;
          const d = draft?.blocks[b.uuid];
          if (d && d.content !== content) {
            if (d.base === content) {
              text = d.content;
              restored.add(b.uuid);
            } else stale.push(b.uuid);
          }
          drafts.current.set(b.uuid, text);
          initialContent.current.set(b.uuid, text);
        }
        if (draft && (restored.size || stale.length)) setDraftNotice({ at: draft.savedAt, stale });
        setDirty(restored);
        dispatch({ type: 'init', runs: Object.fromEntries(p.blocks.filter((b) => b.outputs?.length).map((b) => [b.uuid, { ...IDLE, outputs: savedOutputs(b.outputs), saved: true }])) });
        setPipeline(p);
      })
      .catch((err) => !cancelled && setLoadError(err));
    return () => {
      cancelled = true;
    };
  }, [fetchPipeline, pipelineUuid]);

  /** Reload after a change of the page's own (or a run); see the file comment for when the ETag is taken. */
  const reconcileSeq = useRef(0);
  const reconcile = useCallback(async () => {
    // Reloads may overlap (a run ends while a block is connected): only the last one started is applied, as
    // an earlier answer may predate the latest change.
    const seq = ++reconcileSeq.current;
    let fresh: { pipeline: Pipeline; etag: string | null };
    try {
      fresh = await fetchPipeline();
    } catch (err) {
      if (seq === reconcileSeq.current) toast(`Could not reload the pipeline: ${(err as Error).message}`, 'error');
      return;
    }
    if (seq !== reconcileSeq.current) return;
    const conflicts: string[] = [];
    for (const b of fresh.pipeline.blocks) {
      const server = b.content ?? '';
      if (!base.current.has(b.uuid)) {
        base.current.set(b.uuid, server);
        drafts.current.set(b.uuid, server);
        initialContent.current.set(b.uuid, server);
        continue;
      }
      if (server === base.current.get(b.uuid)) continue;
      if (dirtyRef.current.has(b.uuid)) conflicts.push(b.uuid);
      else {
        base.current.set(b.uuid, server);
        drafts.current.set(b.uuid, server);
        setEditorText(b.uuid, server);
      }
    }
    const present = new Set(fresh.pipeline.blocks.map((b) => b.uuid));
    for (const u of [...base.current.keys()]) if (!present.has(u)) base.current.delete(u);
    const removedDirty = [...dirtyRef.current].filter((u) => !present.has(u));
    if (removedDirty.length) {
      // A block with unsaved edits was removed elsewhere: a conflict too; its edits have nowhere to be saved.
      conflicts.push(...removedDirty);
      const next = new Set([...dirtyRef.current].filter((u) => present.has(u)));
      dirtyRef.current = next;
      setDirty(next);
    }
    if (conflicts.length) setConflict(`Block ${conflicts.join(', ')} was changed or removed on the server (another tab or user) while you have unsaved edits in it.`);
    else if (!conflictRef.current) etag.current = fresh.etag;
    setPipeline(fresh.pipeline);
  }, [fetchPipeline, toast]);

  const save = useCallback(async (): Promise<boolean> => {
    if (savingRef.current) return savingRef.current;
    const p = pipelineRef.current;
    if (!p) return false;
    if (conflictRef.current) {
      setSaveError('Not saved: the pipeline changed on the server. Reload it, or overwrite explicitly.');
      return false;
    }
    const sent = new Map([...dirtyRef.current].map((u) => [u, drafts.current.get(u) ?? ''] as const));
    if (sent.size === 0) return true;
    const run = (async () => {
      setSaving(true);
      setSaveError(null);
      try {
        const body = { pipeline: { blocks: p.blocks.map((b) => (sent.has(b.uuid) ? { uuid: b.uuid, content: sent.get(b.uuid) } : { uuid: b.uuid })) } };
        const res = await request('PUT', `/api/pipelines/${seg(p.uuid)}?update_content=true`, body, { headers: etag.current ? { 'if-match': etag.current } : {} });
        for (const [u, content] of sent) base.current.set(u, content);
        // Blocks typed into during the save stay dirty.
        const next = new Set(dirtyRef.current);
        for (const [u, content] of sent) if (drafts.current.get(u) === content) next.delete(u);
        dirtyRef.current = next;
        setDirty(next);
        persistDraft();
        setLastSaved(new Date());
        const tag = res.headers.get('etag');
        if (tag) etag.current = tag;
        else await reconcile();
        return true;
      } catch (err) {
        if (err instanceof ApiError && (err.status === 409 || err.status === 412)) {
          setConflict('Not saved: this pipeline was changed on the server since you opened it (another tab or user).');
          setConflictDetail(err.message);
        } else setSaveError(`Save failed: ${(err as Error).message}`);
        return false;
      } finally {
        setSaving(false);
        savingRef.current = null;
      }
    })();
    savingRef.current = run;
    return run;
  }, [persistDraft, reconcile]);

  // Autosave: every 10 s while something is unsaved (not while a conflict is shown).
  useEffect(() => {
    if (!autosave) return;
    const t = setInterval(() => {
      if (dirtyRef.current.size && !conflictRef.current && !savingRef.current) void save();
    }, AUTOSAVE_MS);
    return () => clearInterval(t);
  }, [autosave, save]);

  // Cmd/Ctrl+S outside an editor (inside one, Monaco's own action handles it); a warning before leaving.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.metaKey || e.ctrlKey) && e.key.toLowerCase() === 's' && !e.defaultPrevented) {
        e.preventDefault();
        void save();
      }
    };
    const onUnload = (e: BeforeUnloadEvent) => {
      if (dirtyRef.current.size) e.preventDefault();
    };
    document.addEventListener('keydown', onKey);
    window.addEventListener('beforeunload', onUnload);
    return () => {
      document.removeEventListener('keydown', onKey);
      window.removeEventListener('beforeunload', onUnload);
    };
  }, [save]);

  // ---- executions ----

  const reconcileSoon = useRef<ReturnType<typeof setTimeout> | null>(null);
  const attach = useCallback(
    (info: ExecutionInfo) => {
      if (streams.current.has(info.id)) return;
      setExecutions((e) => ({ ...e, [info.id]: info }));
      const close = followExecution(info, (event) => {
        dispatch({ type: 'event', executionId: info.id, target: info.block_uuid ?? null, event });
        if (event.type === 'done' || event.type === 'lost') {
          streams.current.delete(info.id);
          setExecutions((e) => {
            const next = { ...e };
            delete next[info.id];
            return next;
          });
          if (reconcileSoon.current) clearTimeout(reconcileSoon.current);
          reconcileSoon.current = setTimeout(() => void reconcile(), 150);
        }
      });
      streams.current.set(info.id, close);
    },
    [reconcile],
  );

  useEffect(
    () => () => {
      for (const close of streams.current.values()) close();
      streams.current.clear();
      if (reconcileSoon.current) clearTimeout(reconcileSoon.current);
    },
    [],
  );

  // Re-attach to executions still running (after a reload or coming back to the page).
  useEffect(() => {
    if (!pipeline) return;
    let cancelled = false;
    runningExecutions(pipelineUuid)
      .then((list) => {
        if (cancelled) return;
        for (const info of list) {
          if (info.block_uuid && info.mode !== 'pipeline') dispatch({ type: 'reset', uuids: [info.block_uuid], executionId: info.id, state: 'running' });
          attach(info);
        }
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pipeline !== null, pipelineUuid]);

  const execute = useCallback(
    async (body: StartExecution, clear: string[]) => {
      dispatch({ type: 'reset', uuids: clear, state: 'queued' });
      try {
        const info = await startExecution(pipelineUuid, body);
        dispatch({ type: 'reset', uuids: [...new Set([...clear, ...(info.block_uuids ?? [])])], state: 'queued', executionId: info.id });
        attach({ ...info, block_uuid: info.block_uuid ?? body.block_uuid ?? null, mode: body.mode });
      } catch (err) {
        const message = err instanceof ApiError && err.status === 404 && err.type === 'route_not_found' ? 'This server has no interactive execution API (POST /api/pipelines/{p}/executions).' : (err as Error).message;
        for (const u of clear) dispatch({ type: 'note', uuid: u, note: message, state: 'failed' });
        toast(message, 'error');
      }
    },
    [attach, pipelineUuid, toast],
  );

  const runBlock = useCallback(
    async (uuid: string, kind: RunKind) => {
      const p = pipelineRef.current;
      const block = p?.blocks.find((b) => b.uuid === uuid);
      if (!p || !block) return;
      if (runs[uuid]?.state === 'running' || runs[uuid]?.state === 'queued') return;
      // Other blocks run from their files: save first when they have unsaved edits.
      if (kind !== 'block' && [...dirtyRef.current].some((u) => u !== uuid)) {
        if (!(await save())) return;
      }
      await execute(
        { mode: 'block', block_uuid: uuid, code: drafts.current.get(uuid) ?? block.content ?? '', run_upstream: kind === 'upstream', run_downstream: kind === 'downstream', run_tests: true },
        [uuid],
      );
    },
    [execute, runs, save],
  );

  const runPipeline = useCallback(async () => {
    const p = pipelineRef.current;
    if (!p) return;
    if (dirtyRef.current.size && !(await save())) return;
    await execute({ mode: 'pipeline', run_tests: true }, p.blocks.filter((b) => b.type !== 'markdown').map((b) => b.uuid));
  }, [execute, save]);

  const interrupt = useCallback(
    async (id: string) => {
      try {
        await interruptExecution(id);
      } catch (err) {
        toast(`Interrupt failed: ${(err as Error).message}`, 'error');
      }
    },
    [toast],
  );

  // ---- structure edits ----

  const setUpstream = useCallback(
    async (downstream: string, upstream: string[]) => {
      try {
        await api.put(`/api/pipelines/${seg(pipelineUuid)}/blocks/${seg(downstream)}`, { block: { upstream_blocks: upstream } });
      } catch (err) {
        toast((err as Error).message, 'error');
      }
      await reconcile();
    },
    [pipelineUuid, reconcile, toast],
  );

  const connect = useCallback(
    (up: string, down: string) => {
      const b = pipelineRef.current?.blocks.find((x) => x.uuid === down);
      if (!b || b.upstream_blocks.includes(up)) return;
      void setUpstream(down, [...b.upstream_blocks, up]);
    },
    [setUpstream],
  );
  const disconnect = useCallback(
    (up: string, down: string) => {
      const b = pipelineRef.current?.blocks.find((x) => x.uuid === down);
      if (!b) return;
      void setUpstream(
        down,
        b.upstream_blocks.filter((u) => u !== up),
      );
    },
    [setUpstream],
  );

  const scrollTo = useCallback((uuid: string, focus = false) => {
    setActive(uuid);
    document.getElementById(`cell-${uuid}`)?.scrollIntoView({ behavior: 'smooth', block: 'start' });
    if (focus) editors.current.get(uuid)?.focus();
  }, []);

  const addBlock = useCallback(
    async (input: { name: string; type: string; language: string; upstream: string | null }) => {
      try {
        const res = await api.post<{ block: Block }>(`/api/pipelines/${seg(pipelineUuid)}/blocks`, {
          block: { name: input.name, type: input.type, language: input.language, ...(input.upstream ? { upstream_blocks: [input.upstream] } : {}) },
        });
        await reconcile();
        setTimeout(() => scrollTo(res.block.uuid, true), 80);
        return true;
      } catch (err) {
        toast((err as Error).message, 'error');
        return false;
      }
    },
    [pipelineUuid, reconcile, scrollTo, toast],
  );

  const removeBlock = useCallback(
    async (block: Block) => {
      try {
        await api.del(`/api/pipelines/${seg(pipelineUuid)}/blocks/${seg(block.uuid)}${block.downstream_blocks.length ? '?force=true' : ''}`);
        const next = new Set(dirtyRef.current);
        next.delete(block.uuid);
        dirtyRef.current = next;
        setDirty(next);
        drafts.current.delete(block.uuid);
        persistDraft();
      } catch (err) {
        toast((err as Error).message, 'error');
      }
      setRemoving(null);
      await reconcile();
    },
    [persistDraft, pipelineUuid, reconcile, toast],
  );

  // ---- conflict resolution ----

  const reloadFromServer = async () => {
    const { pipeline: p, etag: tag } = await fetchPipeline();
    etag.current = tag;
    for (const b of p.blocks) {
      const content = b.content ?? '';
      base.current.set(b.uuid, content);
      drafts.current.set(b.uuid, content);
      setEditorText(b.uuid, content);
    }
    dirtyRef.current = new Set();
    setDirty(new Set());
    localStorage.removeItem(draftKey(pipelineUuid));
    setConflict(null);
    setSaveError(null);
    setPipeline(p);
  };

  const overwrite = async () => {
    const { etag: tag } = await fetchPipeline();
    etag.current = tag;
    conflictRef.current = null;
    setConflict(null);
    await save();
  };

  // ---- cell handlers (stable, so cells only re-render for their own changes) ----

  const runsRef = useRef(runs);
  runsRef.current = runs;
  const handlers: CellHandlers = useMemo(
    () => ({
      onChange(uuid, value) {
        if (suppress.current.has(uuid)) return;
        drafts.current.set(uuid, value);
        const isDirty = value !== base.current.get(uuid);
        if (isDirty !== dirtyRef.current.has(uuid)) {
          const next = new Set(dirtyRef.current);
          if (isDirty) next.add(uuid);
          else next.delete(uuid);
          dirtyRef.current = next;
          setDirty(next);
        }
        persistDraft();
      },
      onRun: (uuid, kind) => void runBlockRef.current(uuid, kind),
      onRunAndAdvance(uuid) {
        void runBlockRef.current(uuid, 'block');
        const blocks = pipelineRef.current?.blocks ?? [];
        const next = blocks[blocks.findIndex((b) => b.uuid === uuid) + 1];
        if (next) scrollTo(next.uuid, true);
      },
      onSave: () => void saveRef.current(),
      onInterrupt(uuid) {
        const id = runsRef.current[uuid]?.executionId;
        if (id) void interruptRef.current(id);
      },
      onRemove(uuid) {
        const b = pipelineRef.current?.blocks.find((x) => x.uuid === uuid);
        if (b) setRemoving(b);
      },
      onDisconnect: (up, down) => disconnectRef.current(up, down),
      onFocusCell: (uuid) => setActive(uuid),
      onScrollTo: (uuid) => scrollTo(uuid, true),
      registerEditor(uuid, editor) {
        if (editor) editors.current.set(uuid, editor);
        else editors.current.delete(uuid);
      },
    }),
    [persistDraft, scrollTo],
  );
  const runBlockRef = useRef(runBlock);
  runBlockRef.current = runBlock;
  const saveRef = useRef(save);
  saveRef.current = save;
  const interruptRef = useRef(interrupt);
  interruptRef.current = interrupt;
  const disconnectRef = useRef(disconnect);
  disconnectRef.current = disconnect;

  const statuses = useMemo(() => {
    const out: Record<string, NodeStatus> = {};
    for (const [u, r] of Object.entries(runs)) {
      if (r.state === 'running' || r.state === 'queued' || r.state === 'failed' || r.state === 'cancelled') out[u] = r.state;
      else if (r.state === 'completed') out[u] = 'executed';
    }
    return out;
  }, [runs]);

  if (loadError) {
    return (
      <div className="page">
        <ErrorNote error={loadError} />
        <Link to="/pipelines">Back to pipelines</Link>
      </div>
    );
  }
  if (!pipeline) return <div className="page muted">Loading pipeline…</div>;

  const running = Object.values(executions);
  const pipelineRun = running.find((e) => e.mode === 'pipeline');
  const saveLabel = conflict ? 'Not saved (conflict)' : saving ? 'Saving…' : dirty.size ? `${dirty.size} unsaved` : lastSaved ? `Saved ${lastSaved.toLocaleTimeString()}` : 'All changes saved';

  return (
    <div className="editor-page" data-testid="editor">
      <div className="editor-toolbar">
        <Link to="/pipelines" className="muted small">
          Pipelines
        </Link>
        <span className="muted">/</span>
        <h1 className="pipeline-name">{pipeline.name}</h1>
        <span className={`save-state ${conflict ? 'bad' : dirty.size ? 'warn' : 'ok'}`} data-testid="save-state">
          {saveLabel}
        </span>
        <button className="button small" onClick={() => void save()} disabled={saving || !dirty.size} title="Save (Ctrl/Cmd+S)">
          Save
        </button>
        <label className="small toggle" title="Save every 10 seconds when something changed">
          <input
            type="checkbox"
            checked={autosave}
            onChange={(e) => {
              setAutosave(e.target.checked);
              localStorage.setItem(AUTOSAVE_KEY, e.target.checked ? 'on' : 'off');
            }}
          />{' '}
          Autosave
        </label>
        <span className="spacer" />
        {running.length > 0 && <span className="badge run">{running.length} running</span>}
        {pipelineRun ? (
          <button className="button small danger" onClick={() => void interrupt(pipelineRun.id)}>
            ■ Interrupt pipeline
          </button>
        ) : (
          <button className="button small primary" onClick={() => void runPipeline()} title="Run every block in the editor, in DAG order">
            ▶ Run pipeline
          </button>
        )}
        {running.length > 0 && !pipelineRun && (
          <button className="button small danger" onClick={() => running.forEach((e) => void interrupt(e.id))}>
            ■ Interrupt all
          </button>
        )}
        <button
          className="button small ghost"
          onClick={async () => {
            try {
              const run = await runPipelineNow(pipeline);
              toast(`Triggered run ${run.id} (${run.status}).`);
            } catch (err) {
              toast((err as Error).message, 'error');
            }
          }}
          title="Start a recorded pipeline run through a trigger (like Mage's Run @once)"
        >
          Trigger run
        </button>
      </div>
      {conflict && (
        <div className="banner bad" role="alert" data-testid="conflict" title={conflictDetail ?? undefined}>
          <strong>Conflict.</strong> {conflict} Nothing was overwritten; your edits are still here and in a local draft.
          <span className="spacer" />
          <button className="button small" onClick={() => void reloadFromServer()}>
            Reload server version (drop my edits)
          </button>
          <button className="button small danger" onClick={() => void overwrite()}>
            Overwrite with mine
          </button>
        </div>
      )}
      {saveError && !conflict && (
        <div className="banner warn" role="alert">
          {saveError}
        </div>
      )}
      {draftNotice && (
        <div className="banner info" data-testid="draft-notice">
          {draftNotice.stale.length === 0
            ? `Restored unsaved edits from a local draft (${new Date(draftNotice.at).toLocaleString()}).`
            : `A local draft of ${draftNotice.stale.join(', ')} was not restored: the server version changed since.`}
          <span className="spacer" />
          <button className="button small ghost" onClick={() => setDraftNotice(null)}>
            Dismiss
          </button>
        </div>
      )}
      <div className="editor-body">
        <div className="cells" data-testid="cells">
          {pipeline.blocks.length === 0 && <div className="empty">This pipeline has no blocks yet. Add one below.</div>}
          {pipeline.blocks.map((b) => (
            <ErrorBoundary key={b.uuid} label={`Block ${b.uuid}`}>
              <CodeCell
                pipelineUuid={pipeline.uuid}
                block={b}
                initialContent={initialContent.current.get(b.uuid) ?? b.content ?? ''}
                dirty={dirty.has(b.uuid)}
                active={active === b.uuid}
                run={runs[b.uuid] ?? IDLE}
                handlers={handlers}
              />
            </ErrorBoundary>
          ))}
          <AddBlockBar blocks={pipeline.blocks} onAdd={addBlock} />
          <div className="shortcuts muted small">Shift+Enter run and go to the next block · Ctrl/Cmd+Enter run · Ctrl/Cmd+S save</div>
        </div>
        <aside className="side">
          <div className="tabs" role="tablist">
            <button role="tab" aria-selected={sideTab === 'graph'} className={sideTab === 'graph' ? 'active' : ''} onClick={() => setSideTab('graph')}>
              Tree
            </button>
            <button role="tab" aria-selected={sideTab === 'variables'} className={sideTab === 'variables' ? 'active' : ''} onClick={() => setSideTab('variables')}>
              Variables
            </button>
          </div>
          <ErrorBoundary label={sideTab === 'graph' ? 'The dependency tree' : 'The variables'}>
            {sideTab === 'graph' ? (
              <Dag blocks={pipeline.blocks} statuses={statuses} activeBlock={active} onSelect={(u) => scrollTo(u, true)} onConnect={connect} onDisconnect={disconnect} />
            ) : (
              <VariablesPanel pipelineUuid={pipeline.uuid} onChanged={() => void reconcile()} />
            )}
          </ErrorBoundary>
        </aside>
      </div>
      {removing && (
        <Modal
          title={`Remove ${removing.uuid}?`}
          onClose={() => setRemoving(null)}
          footer={
            <>
              <button className="button ghost" onClick={() => setRemoving(null)}>
                Cancel
              </button>
              <button className="button danger" onClick={() => void removeBlock(removing)}>
                Remove block
              </button>
            </>
          }
        >
          <p>The block leaves this pipeline.{removing.downstream_blocks.length ? ` Its downstream blocks (${removing.downstream_blocks.join(', ')}) are linked to its upstream blocks instead.` : ''}</p>
        </Modal>
      )}
    </div>
  );
}

function AddBlockBar({ blocks, onAdd }: { blocks: Block[]; onAdd: (input: { name: string; type: string; language: string; upstream: string | null }) => Promise<boolean> }) {
  const [type, setType] = useState('data_loader');
  const [language, setLanguage] = useState('python');
  const [name, setName] = useState('');
  const runnable = blocks.filter((b) => b.type !== 'markdown' && b.type !== 'scratchpad');
  const last = runnable[runnable.length - 1]?.uuid ?? '';
  const [upstream, setUpstream] = useState<string>('__last__');
  const [busy, setBusy] = useState(false);
  const chosenUpstream = type === 'markdown' || type === 'scratchpad' ? null : upstream === '__last__' ? last || null : upstream || null;
  return (
    <form
      className="add-block"
      data-testid="add-block"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        const ok = await onAdd({ name: name.trim() || randomName(), type, language, upstream: chosenUpstream });
        setBusy(false);
        if (ok) setName('');
      }}
    >
      <span className="strong small">Add block</span>
      <select
        aria-label="Block type"
        value={type}
        onChange={(e) => {
          setType(e.target.value);
          setLanguage(languageForType(e.target.value, language));
        }}
      >
        <BlockTypeOptions />
      </select>
      <select aria-label="Block language" value={language} onChange={(e) => setLanguage(e.target.value)}>
        <BlockLanguageOptions type={type} />
      </select>
      <input aria-label="Block name" placeholder="name (optional)" value={name} onChange={(e) => setName(e.target.value)} />
      <label className="small">
        upstream{' '}
        <select aria-label="Upstream block" value={upstream} onChange={(e) => setUpstream(e.target.value)} disabled={type === 'markdown' || type === 'scratchpad'}>
          <option value="__last__">{last ? `last block (${last})` : 'none'}</option>
          <option value="">none</option>
          {runnable.map((b) => (
            <option key={b.uuid} value={b.uuid}>
              {b.uuid}
            </option>
          ))}
        </select>
      </label>
      <button className="button small primary" type="submit" disabled={busy}>
        + Add
      </button>
    </form>
  );
}
