/**
 * PythonRuntime: Mage Python blocks on a pool of warm, long-lived Python worker processes
 * (python/blockflow_worker.py). pandas and pyarrow are imported once per worker, so once warm no interpreter
 * starts on the request path: a request goes to an idle worker or waits in a FIFO queue. A timeout or an abort
 * kills that worker's process group and the pool starts a replacement in the background; so does a crash.
 */
import { availableParallelism } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BlockLanguage, BlockRunRequest, BlockRunResult, BlockRuntime } from '../types.js';
import { findPythonInterpreter } from './interpreter.js';
import { failure, PythonWorker } from './worker.js';

/** The repository's `python/` folder: three levels above this module in both src/ and dist/. */
export const PYTHON_PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'python');

export interface PythonRuntimeOptions {
  /** Interpreter to spawn. Default: {@link findPythonInterpreter} (BLOCKFLOW_PYTHON, the venv, system python3). */
  python?: string;
  /** Managed venv folder consulted when `python` is not given (see venv.ts `ensureVenv`). */
  venvDir?: string;
  /** Number of warm workers. Default: min(2, CPU cores). */
  size?: number;
  /** A worker is replaced after serving this many requests (bounds leaks in long-lived interpreters). Default 500. */
  maxRequestsPerWorker?: number;
  /** Working directory of the workers (each request also switches to its project root). Default: `process.cwd()`. */
  cwd?: string;
  /** Base environment of the workers. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Extra PYTHONPATH entries, after our `python/` folder. */
  pythonPath?: readonly string[];
  /** Worker script. Default: `<python package dir>/blockflow_worker.py`. */
  workerScript?: string;
  /** Worker stderr lines produced while no request runs (startup warnings, crashes between requests). */
  onWorkerOutput?: (line: string) => void;
}

interface Pending {
  request: BlockRunRequest;
  resolve: (result: BlockRunResult) => void;
  onAbort?: () => void;
}

function cancelled(blockUuid: string): BlockRunResult {
  return failure('cancelled', 'CancelledError', `Block ${blockUuid} was cancelled`);
}

export class PythonRuntime implements BlockRuntime {
  readonly languages: readonly BlockLanguage[] = ['python'];
  private readonly size: number;
  private readonly maxRequests: number;
  private readonly workers = new Set<PythonWorker>();
  private readonly idle: PythonWorker[] = [];
  private readonly queue: Pending[] = [];
  private pythonPath: Promise<string> | null = null;
  private spawning = 0;
  private sequence = 0;
  private closed = false;
  private startError: Error | null = null;

  constructor(private readonly options: PythonRuntimeOptions = {}) {
    this.size = Math.max(1, options.size ?? Math.min(2, availableParallelism()));
    this.maxRequests = Math.max(1, options.maxRequestsPerWorker ?? 500);
  }

  /** Process ids of the live workers (for diagnostics and tests). */
  get workerPids(): number[] {
    return [...this.workers].map((w) => w.pid).filter((pid): pid is number => pid !== undefined);
  }

  async warm(): Promise<void> {
    if (this.closed) throw new Error('PythonRuntime is closed');
    this.startError = null;
    await this.fillPool();
    await Promise.all([...this.workers].map((w) => w.ready));
  }

  run(request: BlockRunRequest): Promise<BlockRunResult> {
    if (this.closed) return Promise.reject(new Error('PythonRuntime is closed'));
    if (request.language !== 'python') {
      return Promise.reject(new Error(`PythonRuntime cannot run ${request.language} blocks`));
    }
    if (request.signal?.aborted) return Promise.resolve(cancelled(request.blockUuid));
    return new Promise<BlockRunResult>((resolveRun) => {
      const pending: Pending = { request, resolve: resolveRun };
      if (request.signal) {
        pending.onAbort = () => {
          const index = this.queue.indexOf(pending);
          if (index >= 0) {
            this.queue.splice(index, 1);
            resolveRun(cancelled(request.blockUuid));
          }
        };
        request.signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.queue.push(pending);
      if (this.startError) this.startError = null;
      void this.fillPool().catch((error: unknown) => this.failQueue(error));
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pending of this.queue.splice(0)) {
      if (pending.onAbort) pending.request.signal?.removeEventListener('abort', pending.onAbort);
      pending.resolve(cancelled(pending.request.blockUuid));
    }
    const stopping = [...this.workers].map((worker) => {
      if (worker.busy) {
        worker.abort(failure('cancelled', 'CancelledError', 'The Python runtime was closed'));
        return worker.exited;
      }
      return worker.shutdown();
    });
    this.idle.length = 0;
    await Promise.all(stopping);
  }

  private resolvePython(): Promise<string> {
    if (!this.pythonPath) {
      this.pythonPath = this.options.python
        ? Promise.resolve(this.options.python)
        : findPythonInterpreter({ env: this.options.env, venvDir: this.options.venvDir });
      this.pythonPath.catch(() => (this.pythonPath = null));
    }
    return this.pythonPath;
  }

  /** Starts workers until the pool has `size` of them (live or starting). */
  private async fillPool(): Promise<void> {
    if (this.closed || this.startError) return;
    const missing = this.size - this.workers.size - this.spawning;
    if (missing <= 0) return;
    this.spawning += missing;
    let python: string;
    try {
      python = await this.resolvePython();
    } finally {
      this.spawning -= missing;
    }
    for (let i = 0; i < missing && !this.closed && this.workers.size < this.size; i++) this.spawnWorker(python);
  }

  private spawnWorker(python: string): void {
    const base = this.options.env ?? process.env;
    const pythonPath = [PYTHON_PACKAGE_DIR, ...(this.options.pythonPath ?? []), base.PYTHONPATH]
      .filter((p): p is string => Boolean(p))
      .join(delimiter);
    const worker = new PythonWorker({
      python,
      script: this.options.workerScript ?? join(PYTHON_PACKAGE_DIR, 'blockflow_worker.py'),
      cwd: this.options.cwd ?? process.cwd(),
      env: { ...base, PYTHONPATH: pythonPath, PYTHONUNBUFFERED: '1' },
      onIdleOutput: this.options.onWorkerOutput,
    });
    this.workers.add(worker);
    worker.ready.then(
      () => {
        if (this.closed) {
          void worker.shutdown();
          return;
        }
        this.idle.push(worker);
        this.dispatch();
      },
      (error: Error) => {
        // A worker that cannot start would fail the same way again: stop spawning and fail what waits, until the
        // next run() or warm() tries again.
        this.startError = error;
        this.failQueue(error);
      },
    );
    void worker.exited.then(() => {
      const wasStarted = this.workers.delete(worker);
      const index = this.idle.indexOf(worker);
      if (index >= 0) this.idle.splice(index, 1);
      if (wasStarted && !this.closed && !this.startError) {
        void this.fillPool().catch((error: unknown) => this.failQueue(error));
      }
    });
  }

  private failQueue(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    for (const pending of this.queue.splice(0)) {
      if (pending.onAbort) pending.request.signal?.removeEventListener('abort', pending.onAbort);
      pending.resolve(failure('block_execution_failed', 'WorkerStartError', message));
    }
  }

  private dispatch(): void {
    while (this.queue.length > 0 && this.idle.length > 0) {
      const worker = this.idle.shift()!;
      if (!worker.alive) continue;
      const pending = this.queue.shift()!;
      if (pending.onAbort) pending.request.signal?.removeEventListener('abort', pending.onAbort);
      void this.execute(worker, pending);
    }
  }

  private async execute(worker: PythonWorker, pending: Pending): Promise<void> {
    const { request } = pending;
    const id = String(++this.sequence);
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => worker.abort(cancelled(request.blockUuid));
    if (request.timeoutMs !== undefined) {
      timer = setTimeout(
        () =>
          worker.abort(
            failure('timeout', 'TimeoutError', `Block ${request.blockUuid} exceeded its timeout of ${request.timeoutMs} ms`),
          ),
        request.timeoutMs,
      );
    }
    request.signal?.addEventListener('abort', onAbort, { once: true });
    const running = worker.run(id, request);
    if (request.signal?.aborted) onAbort();
    const result = await running;
    if (timer) clearTimeout(timer);
    request.signal?.removeEventListener('abort', onAbort);
    pending.resolve(result);
    if (this.closed) return;
    if (!worker.alive) {
      // A killed worker (timeout, abort) is replaced now, not when its exit is noticed, so the next requests
      // never wait for a process that is going away.
      if (this.workers.delete(worker) && !this.startError) void this.fillPool().catch((error: unknown) => this.failQueue(error));
      return;
    }
    if (worker.busy) return;
    if (worker.requestsServed >= this.maxRequests) {
      this.workers.delete(worker);
      void worker.shutdown();
      void this.fillPool().catch((error: unknown) => this.failQueue(error));
      return;
    }
    this.idle.push(worker);
    this.dispatch();
  }
}
