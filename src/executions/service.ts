/**
 * The interactive execution service (the server side of the notebook): starts executions, keeps them in memory
 * per scope (the user who started them, or one anonymous scope without authentication), interrupts them, and
 * forgets finished ones after a while.
 *
 * Bounds (settings.ts): finished executions are kept `retainMs` (15 min) and at most `retainCount` (50) per
 * user; one user has at most `maxActive` (10) queued or running; each keeps its last `bufferEvents` events
 * (5,000) younger than `bufferAgeMs` (10 min) for replay.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { PipelineConfig } from '../project/pipeline.js';
import type { Project } from '../project/projectConfig.js';
import { blockFilePath } from '../project/blocks.js';
import { joinUnderRoot } from '../project/paths.js';
import { writeFileAtomic } from '../project/yamlFiles.js';
import type { RuntimeRegistry } from '../runtimes/registry.js';
import { hasLatestOutputs } from '../runs/persist.js';
import { Execution, type ExecutionStatus } from './execution.js';
import { ExecutionRequestError, planExecution, type ExecutionRequest } from './plan.js';
import { runExecution, type CodeFile } from './run.js';
import type { ExecutionSettings } from './settings.js';

export interface ExecutionServiceOptions {
  project: Project;
  runtimes: RuntimeRegistry;
  getSecret?: (name: string) => Promise<string | undefined>;
  settings: ExecutionSettings;
}

const SWEEP_INTERVAL_MS = 30_000;

export class ExecutionService {
  private readonly executions = new Map<string, Execution>();
  /** Closers of the open event streams, ended when the server stops. */
  private readonly streams = new Set<() => void>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: ExecutionServiceOptions) {
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  get settings(): ExecutionSettings {
    return this.options.settings;
  }

  /**
   * Plans and starts an execution of `pipeline` for `scope`; the blocks start running after this returns, so the
   * first event (`status` queued) is always in the log. Throws ExecutionRequestError for a request that cannot
   * run, and the project's errors (a refused block path) as they are.
   */
  start(scope: string, pipeline: PipelineConfig, request: ExecutionRequest): Execution {
    if (this.closed) throw new ExecutionRequestError(409, 'The server is stopping; no execution can start.');
    this.sweep();
    const { project, runtimes, settings } = this.options;
    const plan = planExecution(pipeline, request, (uuid) => hasLatestOutputs(project.dataDir, pipeline.uuid, uuid));
    if (plan.order.length === 0) throw new ExecutionRequestError(422, `Pipeline ${pipeline.uuid} has no block to run.`);
    for (const b of plan.order) {
      if (!runtimes.has(b.language)) throw new ExecutionRequestError(422, `Block ${b.uuid} is written in ${b.language}, which this server cannot run.`);
    }
    const active = [...this.executions.values()].filter((e) => e.scope === scope && e.active);
    if (active.length >= settings.maxActive) {
      throw new ExecutionRequestError(429, `You already have ${active.length} executions queued or running (the limit is ${settings.maxActive}); wait for one to finish or interrupt it.`);
    }
    for (const other of active) {
      if (other.pipelineUuid !== pipeline.uuid) continue;
      const busy = new Set(other.busyBlocks());
      const clash = plan.order.find((b) => busy.has(b.uuid));
      if (clash) {
        throw new ExecutionRequestError(
          409,
          `Block ${clash.uuid} is already executing in execution ${other.id}; wait for it to finish or interrupt it (DELETE ${`/api/executions/${other.id}`}).`,
        );
      }
    }
    let codeFile: CodeFile | null = null;
    if (request.code !== null && plan.target) {
      const blockPath = blockFilePath(project, plan.target);
      const dir = joinUnderRoot(project.dataDir, '.executions', { kind: 'execution scope', value: scope }, { kind: 'block uuid', value: plan.target.uuid, nested: true });
      mkdirSync(dir, { recursive: true });
      // One file per user and block: a second execution of the same block waits (409), so none shares it.
      const path = join(dir, `code${extname(blockPath)}`);
      writeFileAtomic(path, request.code);
      codeFile = { blockUuid: plan.target.uuid, path, blockPath };
    }
    const execution = new Execution(randomBytes(16).toString('hex'), scope, pipeline.uuid, request.blockUuid, request.mode, plan.order, {
      maxEvents: settings.bufferEvents,
      maxAgeMs: settings.bufferAgeMs,
    });
    this.executions.set(execution.id, execution);
    execution.emit('status', { state: 'queued', status: 'queued', block_uuid: execution.blockUuid });
    execution.done = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => runExecution(execution, { project, pipeline, order: plan.order, request, runtimes, getSecret: this.options.getSecret, settings, codeFile }))
      .finally(() => {
        if (codeFile) rmSync(codeFile.path, { force: true });
      })
      .catch(() => undefined);
    return execution;
  }

  /** The execution `id` when `scope` started it; undefined otherwise (another user's is not revealed). */
  get(scope: string, id: string): Execution | undefined {
    this.sweep();
    const execution = this.executions.get(id);
    return execution && execution.scope === scope ? execution : undefined;
  }

  /** The scope's executions of a pipeline, newest first, optionally only those with one of `statuses`. */
  list(scope: string, pipelineUuid: string, statuses?: ReadonlySet<ExecutionStatus>): Execution[] {
    this.sweep();
    return [...this.executions.values()]
      .filter((e) => e.scope === scope && e.pipelineUuid === pipelineUuid && (!statuses || statuses.has(e.status)))
      .reverse();
  }

  /** Interrupts the execution (its running block's worker is killed); resolves when it has finished or after `waitMs`. */
  async cancel(scope: string, id: string, waitMs = 5_000): Promise<Execution | undefined> {
    const execution = this.get(scope, id);
    if (!execution) return undefined;
    if (execution.active) {
      execution.controller.abort();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([execution.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
    }
    return execution;
  }

  /** Registers an open event stream's closer; returns the function that unregisters it. */
  trackStream(close: () => void): () => void {
    this.streams.add(close);
    return () => this.streams.delete(close);
  }

  /** Ends every open event stream (server shutdown: an open stream would keep the HTTP server from closing). */
  closeStreams(): void {
    for (const close of [...this.streams]) close();
    this.streams.clear();
  }

  /** Interrupts every running execution and ends the streams. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    const running = [...this.executions.values()].filter((e) => e.active);
    for (const e of running) e.controller.abort();
    await Promise.allSettled(running.map((e) => e.done));
    this.closeStreams();
  }

  /** Forgets finished executions older than retainMs, and the oldest beyond retainCount per scope. */
  private sweep(): void {
    const { retainMs, retainCount } = this.options.settings;
    const now = Date.now();
    const finishedByScope = new Map<string, Execution[]>();
    for (const e of this.executions.values()) {
      if (e.active || !e.finishedAt) continue;
      if (now - e.finishedAt.getTime() > retainMs) {
        this.executions.delete(e.id);
        continue;
      }
      const list = finishedByScope.get(e.scope) ?? [];
      list.push(e);
      finishedByScope.set(e.scope, list);
    }
    for (const list of finishedByScope.values()) {
      if (list.length <= retainCount) continue;
      list.sort((a, b) => a.finishedAt!.getTime() - b.finishedAt!.getTime());
      for (const e of list.slice(0, list.length - retainCount)) this.executions.delete(e.id);
    }
  }
}
