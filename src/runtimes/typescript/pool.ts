/**
 * A pool of warm worker threads for the TypeScript runtime. A run is posted to an idle worker; a run that times
 * out or is cancelled gets its answer at once, and its worker is retired (terminated after a short grace period
 * in which `ctx.signal` has fired) and replaced, so even `while (true) {}` really stops.
 *
 * Nothing here throws out of an event handler or timer: dispatch runs from worker messages, and an exception
 * there would end the process. A run whose job cannot be sent (too deep, not cloneable) fails alone and leaves
 * its worker idle; a message that cannot be read fails the run it belonged to.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { payloadTooDeep } from '../payloadLimits.js';
import type { BlockErrorInfo, LogLine } from '../types.js';
import type { FromWorker, RunJob, ToWorker, WorkerResult } from './protocol.js';

export interface PoolOptions {
  /** Worker threads kept running. Default 2. */
  size?: number;
  /** Milliseconds a timed-out or cancelled block may run its abort handlers before its thread is terminated. Default 50. */
  abortGraceMs?: number;
  /** V8 old-generation heap limit per worker, in MB. Default: Node's. */
  maxOldGenerationSizeMb?: number;
}

export interface RunHooks {
  timeoutMs?: number;
  signal?: AbortSignal;
  onLog?: (line: LogLine) => void;
  getSecret?: (name: string) => Promise<string | undefined>;
}

interface ActiveRun {
  id: number;
  hooks: RunHooks;
  finish: (result: WorkerResult) => void;
}

interface PoolWorker {
  worker: Worker;
  ready: Promise<void>;
  active: ActiveRun | null;
  retired: boolean;
  isReady: boolean;
  dead: boolean;
}

interface QueuedRun {
  job: RunJob;
  hooks: RunHooks;
  resolve: (result: WorkerResult) => void;
  cancelQueued: () => void;
}

function failure(type: BlockErrorInfo['type'], exception: string, message: string): WorkerResult {
  return { ok: false, error: { type, exception, message, traceback: [] } };
}

function errorName(error: unknown): string {
  return error instanceof Error && error.name ? error.name : 'Error';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** How to start worker.ts: compiled (dist/*.js) directly, or under tsx (tests, dev) through tsx's ESM API. */
function workerSpec(): { target: string | URL; options: WorkerOptions } {
  const self = import.meta.url;
  if (self.endsWith('.ts')) {
    const entry = new URL('./worker.ts', self).href;
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
    return { target: code, options: { eval: true, execArgv: [] } };
  }
  return { target: new URL('./worker.js', self), options: {} };
}

export class WorkerPool {
  private readonly size: number;
  private readonly abortGraceMs: number;
  private readonly workerOptions: WorkerOptions;
  private readonly target: string | URL;
  private readonly workers: PoolWorker[] = [];
  private readonly queue: QueuedRun[] = [];
  private nextId = 1;
  private closed = false;

  constructor(options: PoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? 2));
    this.abortGraceMs = Math.max(0, options.abortGraceMs ?? 50);
    const spec = workerSpec();
    this.target = spec.target;
    this.workerOptions = {
      ...spec.options,
      ...(options.maxOldGenerationSizeMb ? { resourceLimits: { maxOldGenerationSizeMb: options.maxOldGenerationSizeMb } } : {}),
    };
  }

  /** Starts the workers (if not running) and waits until each has loaded. */
  async start(): Promise<void> {
    if (this.closed) throw new Error('the TypeScript runtime is closed');
    while (this.workers.length < this.size) this.spawn();
    await Promise.all(this.workers.map((w) => w.ready));
  }

  private spawn(): PoolWorker {
    const worker = new Worker(this.target, { ...this.workerOptions, stdout: false, stderr: false });
    let markReady: () => void = () => undefined;
    let markFailed: (error: Error) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => ((markReady = resolve), (markFailed = reject)));
    ready.catch(() => undefined);
    const entry: PoolWorker = { worker, ready, active: null, retired: false, isReady: false, dead: false };
    worker.unref();
    worker.on('message', (message: FromWorker) => {
      switch (message.type) {
        case 'ready':
          entry.isReady = true;
          markReady();
          this.dispatch();
          break;
        case 'log':
          if (entry.active?.id === message.id) this.deliverLog(entry.active.hooks, message.line);
          break;
        case 'secret':
          if (entry.active?.id === message.id) this.answerSecret(entry, message.requestId, message.name, entry.active.hooks);
          break;
        case 'result':
          if (entry.active?.id === message.id) {
            const active = entry.active;
            entry.active = null;
            active.finish(message.result);
            this.dispatch();
          }
          break;
        case 'unreadable': {
          // The worker missed a message (a job, an abort or a secret): what it is doing is unknown, so it goes.
          const active = entry.active;
          entry.active = null;
          if (!entry.retired) this.retire(entry, 0);
          active?.finish(failure('block_execution_failed', 'DataCloneError', `the block's worker thread could not read a message: ${message.error}`));
          break;
        }
      }
    });
    // A result too deep for this thread's (smaller) stack arrives as 'messageerror' instead of 'message'. Only a
    // result can carry such a value (log lines and secret requests are strings), so the worker has finished
    // that run and is idle: only the run fails.
    worker.on('messageerror', (error) => {
      if (!entry.active) return;
      const active = entry.active;
      entry.active = null;
      active.finish(failure('block_execution_failed', errorName(error), `the block's result could not be received from its worker thread: ${errorMessage(error)}`));
      this.dispatch();
    });
    const onDeath = (reason: string): void => {
      if (entry.dead) return;
      entry.dead = true;
      markFailed(new Error(reason));
      this.remove(entry);
      if (entry.active) {
        const active = entry.active;
        entry.active = null;
        active.finish(failure('block_execution_failed', 'WorkerExited', reason));
      }
      if (!this.closed && !entry.retired) this.replace();
    };
    worker.on('error', (error) => onDeath(`the block's worker thread failed: ${error.message}`));
    worker.on('exit', (code) => onDeath(`the block's worker thread exited with code ${code}`));
    this.workers.push(entry);
    return entry;
  }

  /**
   * Starts a worker in place of one that left. Called from event handlers and timers, so a failure to start
   * fails what is queued (when no worker is left to serve it) instead of being thrown.
   */
  private replace(): void {
    try {
      this.spawn();
    } catch (error) {
      if (this.workers.length > 0) return;
      for (const queued of this.queue.splice(0)) {
        queued.hooks.signal?.removeEventListener('abort', queued.cancelQueued);
        queued.resolve(failure('block_execution_failed', 'WorkerStartError', `no worker thread could be started: ${errorMessage(error)}`));
      }
    }
  }

  /** Takes `entry` out of service: no new runs, terminated after `graceMs`, replaced now. */
  private retire(entry: PoolWorker, graceMs: number): void {
    entry.retired = true;
    this.remove(entry);
    const kill = (): void => void entry.worker.terminate().catch(() => undefined);
    if (graceMs > 0) setTimeout(kill, graceMs).unref();
    else kill();
    if (!this.closed) this.replace();
  }

  /** Posts `message`; false when it could not be serialised (or the thread is gone). */
  private send(entry: PoolWorker, message: ToWorker): boolean {
    try {
      entry.worker.postMessage(message);
      return true;
    } catch {
      return false;
    }
  }

  /** A log sink that fails must cost the line, not the process (this runs in a message handler). */
  private deliverLog(hooks: RunHooks, line: LogLine): void {
    try {
      hooks.onLog?.(line);
    } catch {
      // The line is lost; the run goes on.
    }
  }

  private remove(entry: PoolWorker): void {
    const index = this.workers.indexOf(entry);
    if (index >= 0) this.workers.splice(index, 1);
  }

  private answerSecret(entry: PoolWorker, requestId: number, name: string, hooks: RunHooks): void {
    const reply = (message: ToWorker): void => {
      if (!entry.retired) this.send(entry, message);
    };
    if (!hooks.getSecret) {
      reply({ type: 'secret-result', requestId, error: 'no secret store is configured' });
      return;
    }
    hooks.getSecret(name).then(
      (value) => reply({ type: 'secret-result', requestId, value }),
      (error: unknown) => reply({ type: 'secret-result', requestId, error: error instanceof Error ? error.message : String(error) }),
    );
  }

  /** Runs `job` on the next idle worker. */
  run(job: RunJob, hooks: RunHooks): Promise<WorkerResult> {
    if (this.closed) return Promise.resolve(failure('cancelled', 'RuntimeClosed', 'the TypeScript runtime is closed'));
    if (hooks.signal?.aborted) return Promise.resolve(failure('cancelled', 'CancelledError', 'the block run was cancelled before it started'));
    // Checked before queueing, for every caller: values stored or read from files reach here without HTTP's limits.
    const tooDeep = payloadTooDeep({ kwargs: job.kwargs, 'inline inputs': job.inlineInputs });
    if (tooDeep) return Promise.resolve(failure('block_execution_failed', 'PayloadTooDeep', tooDeep));
    return new Promise<WorkerResult>((resolve) => {
      const queued: QueuedRun = {
        job,
        hooks,
        resolve,
        cancelQueued: () => {
          const index = this.queue.indexOf(queued);
          if (index >= 0) {
            this.queue.splice(index, 1);
            resolve(failure('cancelled', 'CancelledError', 'the block run was cancelled before it started'));
          }
        },
      };
      hooks.signal?.addEventListener('abort', queued.cancelQueued, { once: true });
      this.queue.push(queued);
      if (this.workers.length < this.size && !this.closed) this.replace();
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const idle = this.workers.find((w) => w.active === null && !w.retired && w.isReady);
      if (!idle) return;
      const queued = this.queue.shift() as QueuedRun;
      queued.hooks.signal?.removeEventListener('abort', queued.cancelQueued);
      this.start1(idle, queued);
    }
  }

  private start1(entry: PoolWorker, queued: QueuedRun): void {
    const id = this.nextId++;
    const { hooks } = queued;
    try {
      entry.worker.postMessage({ type: 'run', id, job: queued.job } satisfies ToWorker);
    } catch (error) {
      // Cloning failed before anything was queued to the thread, so the worker never saw this run and stays idle.
      queued.resolve(failure('block_execution_failed', errorName(error), `the block's job could not be sent to its worker thread: ${errorMessage(error)}`));
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => stop('cancelled');
    const active: ActiveRun = {
      id,
      hooks,
      finish: (result) => {
        // An idle worker must not keep the process alive; a busy one must, or an awaited run could be dropped.
        entry.worker.unref();
        if (timer) clearTimeout(timer);
        hooks.signal?.removeEventListener('abort', onAbort);
        queued.resolve(result);
      },
    };
    const stop = (reason: 'timeout' | 'cancelled'): void => {
      if (entry.active !== active) return;
      entry.active = null;
      this.send(entry, { type: 'abort', id, reason });
      this.retire(entry, this.abortGraceMs);
      active.finish(
        reason === 'timeout'
          ? failure('timeout', 'TimeoutError', `the block ran longer than ${hooks.timeoutMs} ms and was stopped`)
          : failure('cancelled', 'CancelledError', 'the block run was cancelled'),
      );
    };
    entry.active = active;
    entry.worker.ref();
    if (hooks.timeoutMs !== undefined && Number.isFinite(hooks.timeoutMs)) timer = setTimeout(() => stop('timeout'), Math.max(0, hooks.timeoutMs));
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
  }

  /** Stops every worker; queued runs are answered `cancelled`. */
  async close(): Promise<void> {
    this.closed = true;
    for (const queued of this.queue.splice(0)) queued.resolve(failure('cancelled', 'RuntimeClosed', 'the TypeScript runtime was closed'));
    const workers = this.workers.splice(0);
    await Promise.all(
      workers.map(async (w) => {
        w.retired = true;
        if (w.active) {
          const active = w.active;
          w.active = null;
          active.finish(failure('cancelled', 'RuntimeClosed', 'the TypeScript runtime was closed'));
        }
        await w.worker.terminate();
      }),
    );
  }
}

