/**
 * PythonRuntime: Mage Python blocks on a pool of warm, long-lived Python worker processes
 * (python/blockflow_worker.py). pandas and pyarrow are imported once per worker, so once warm no interpreter
 * starts on the request path: a request goes to an idle worker or waits in a FIFO queue. A timeout or an abort
 * kills that worker's process group and the pool starts a replacement in the background; so does a crash.
 *
 * Recycling never makes a request wait for a spawn: a worker that reached its request limit keeps serving while
 * its replacement starts (the pool's one extra process), and is retired once the replacement is ready and its
 * own current request has finished.
 */
import { availableParallelism } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { payloadTooDeep } from '../payloadLimits.js';
import type { BlockLanguage, BlockRunRequest, BlockRunResult, BlockRuntime } from '../types.js';
import { findPythonInterpreter } from './interpreter.js';
import { failure, PythonWorker } from './worker.js';

/** The repository's `python/` folder: three levels above this module in both src/ and dist/. */
export const PYTHON_PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'python');

/**
 * Default of {@link PythonRuntimeOptions.maxRequestsPerWorker}. Each block runs in fresh module namespaces, so
 * what a long-lived worker can accumulate is native memory and library-level caches; 10,000 requests bounds that
 * while a replacement (about a second of CPU to import pandas and pyarrow) stays rare even under sustained load
 * (gunicorn, uWSGI and Celery leave their equivalents off by default).
 */
export const DEFAULT_MAX_REQUESTS_PER_WORKER = 10_000;

/** Default of {@link PythonRuntimeOptions.recycleJitter}: limits spread by ±10%. */
export const DEFAULT_RECYCLE_JITTER = 0.1;

/** A replacement that failed to start is tried again at the earliest after this long; the old worker serves on. */
const REPLACEMENT_RETRY_MS = 10_000;

export interface PythonRuntimeOptions {
  /** Interpreter to spawn. Default: {@link findPythonInterpreter} (BLOCKFLOW_PYTHON, the venv, system python3). */
  python?: string;
  /** Managed venv folder consulted when `python` is not given (see venv.ts `ensureVenv`). */
  venvDir?: string;
  /** Number of warm workers. Default: min(2, CPU cores). A positive integer. */
  size?: number;
  /**
   * A worker is recycled after serving about this many requests, which bounds leaks in long-lived interpreters.
   * Its replacement starts in the background while it keeps serving; it exits once the replacement is ready and
   * its current request has finished. `0` or `Infinity` disables recycling.
   * Default: {@link DEFAULT_MAX_REQUESTS_PER_WORKER} (10,000).
   */
  maxRequestsPerWorker?: number;
  /**
   * Relative spread of each worker's request limit: a worker's limit is drawn uniformly from
   * `maxRequestsPerWorker × (1 ± recycleJitter)` and rounded (at least 1), so workers started together do not
   * all recycle at the same moment. Between 0 and 1. Default: {@link DEFAULT_RECYCLE_JITTER} (±10%).
   */
  recycleJitter?: number;
  /** Working directory of the workers (each request also switches to its project root). Default: `process.cwd()`. */
  cwd?: string;
  /** Base environment of the workers. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Extra PYTHONPATH entries, after our `python/` folder. */
  pythonPath?: readonly string[];
  /** Worker script. Default: `<python package dir>/blockflow_worker.py`. */
  workerScript?: string;
  /**
   * Worker stderr lines produced while no request runs (startup warnings, crashes between requests), and the
   * error of a recycling replacement that failed to start.
   */
  onWorkerOutput?: (line: string) => void;
}

/** Counters since the pool was created (diagnostics, tests). */
export interface PythonPoolStats {
  /** Worker processes started: the initial fill, replacements of crashed or killed workers, recycling. */
  spawned: number;
  /** Workers retired for reaching their request limit (counted when their replacement took over). */
  recycled: number;
  /**
   * Requests that sat in the queue at a moment when fewer than `size` workers were ready to serve, i.e. that
   * waited (at least partly) for a worker to start: before the pool is warm, or after a crash, timeout or abort.
   * Recycling never adds to it.
   */
  waitedForSpawn: number;
}

interface Pending {
  request: BlockRunRequest;
  resolve: (result: BlockRunResult) => void;
  onAbort?: () => void;
  /** Already counted in {@link PythonPoolStats.waitedForSpawn}. */
  waitedForSpawn?: boolean;
}

function cancelled(blockUuid: string): BlockRunResult {
  return failure('cancelled', 'CancelledError', `Block ${blockUuid} was cancelled`);
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`PythonRuntime: ${name} must be a positive integer, got ${value}`);
  return value;
}

export class PythonRuntime implements BlockRuntime {
  readonly languages: readonly BlockLanguage[] = ['python'];
  private readonly size: number;
  /** Infinity when recycling is off. */
  private readonly maxRequests: number;
  private readonly jitter: number;
  /** Every worker process of the pool that has not been removed: starting, serving, retiring or draining. */
  private readonly workers = new Set<PythonWorker>();
  private readonly idle: PythonWorker[] = [];
  private readonly queue: Pending[] = [];
  private readonly requestLimits = new WeakMap<PythonWorker, number>();
  /** Workers past their request limit that keep serving until a replacement is ready, oldest first. */
  private readonly retiring: PythonWorker[] = [];
  /** Replaced workers: they take no new request and exit once their current one has finished. */
  private readonly draining = new Set<PythonWorker>();
  /** The worker starting ahead of a retiring one: the pool's one extra process. */
  private replacement: PythonWorker | null = null;
  private resolvingReplacement = false;
  private replacementRetryAt = 0;
  private readonly counters: PythonPoolStats = { spawned: 0, recycled: 0, waitedForSpawn: 0 };
  private pythonPath: Promise<string> | null = null;
  private spawning = 0;
  private sequence = 0;
  private closed = false;
  private startError: Error | null = null;

  constructor(private readonly options: PythonRuntimeOptions = {}) {
    this.size = positiveInteger('size', options.size ?? Math.min(2, availableParallelism()));
    const maxRequests = options.maxRequestsPerWorker ?? DEFAULT_MAX_REQUESTS_PER_WORKER;
    if (maxRequests === 0 || maxRequests === Infinity) this.maxRequests = Infinity;
    else this.maxRequests = positiveInteger('maxRequestsPerWorker', maxRequests);
    this.jitter = options.recycleJitter ?? DEFAULT_RECYCLE_JITTER;
    if (!(this.jitter >= 0 && this.jitter <= 1)) {
      throw new RangeError(`PythonRuntime: recycleJitter must be between 0 and 1, got ${options.recycleJitter}`);
    }
  }

  /** Process ids of the live workers, including one that is starting or finishing during a recycle. */
  get workerPids(): number[] {
    return [...this.workers].map((w) => w.pid).filter((pid): pid is number => pid !== undefined);
  }

  get stats(): PythonPoolStats {
    return { ...this.counters };
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
    // Python's json decoder recurses: a request nested past its recursion limit would kill the worker that reads
    // it. Values stored or read from files reach here without HTTP's limits, so every request is checked.
    const tooDeep = payloadTooDeep({ kwargs: request.kwargs, configuration: request.configuration, 'inline inputs': request.inlineInputs });
    if (tooDeep) return Promise.resolve(failure('block_execution_failed', 'PayloadTooDeep', tooDeep));
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
      this.noteSpawnWaits();
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

  /** Pool slots held: draining workers have handed theirs over, and a replacement does not hold one yet. */
  private slotsTaken(): number {
    return this.workers.size - this.draining.size - (this.replacement ? 1 : 0);
  }

  /** Workers able to take a request now or after their current one. */
  private servingCount(): number {
    let serving = 0;
    for (const worker of this.workers) if (worker.hasStarted && worker.alive && !this.draining.has(worker)) serving++;
    return serving;
  }

  /** Starts workers until the pool has `size` of them (live or starting). */
  private async fillPool(): Promise<void> {
    if (this.closed || this.startError) return;
    const missing = this.size - this.slotsTaken() - this.spawning;
    if (missing <= 0) return;
    this.spawning += missing;
    let python: string;
    try {
      python = await this.resolvePython();
    } finally {
      this.spawning -= missing;
    }
    for (let i = 0; i < missing && !this.closed && this.slotsTaken() < this.size; i++) this.spawnWorker(python);
  }

  /**
   * Starts the replacement of the oldest retiring worker, unless one is already starting or a replaced worker is
   * still finishing its request: the pool never holds more than `size + 1` processes because of recycling.
   */
  private startReplacement(): void {
    if (this.closed || this.replacement || this.resolvingReplacement || this.retiring.length === 0) return;
    if (this.workers.size > this.size || Date.now() < this.replacementRetryAt) return;
    this.resolvingReplacement = true;
    this.resolvePython().then(
      (python) => {
        this.resolvingReplacement = false;
        if (this.closed || this.replacement || this.retiring.length === 0 || this.workers.size > this.size) return;
        this.replacement = this.spawnWorker(python);
      },
      (error: unknown) => {
        this.resolvingReplacement = false;
        this.replacementFailed(error);
      },
    );
  }

  private replacementFailed(error: unknown): void {
    this.replacementRetryAt = Date.now() + REPLACEMENT_RETRY_MS;
    const message = error instanceof Error ? error.message : String(error);
    this.options.onWorkerOutput?.(`The replacement of a recycled Python worker failed to start; the old worker keeps serving: ${message}`);
  }

  private spawnWorker(python: string): PythonWorker {
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
    this.counters.spawned++;
    this.requestLimits.set(worker, this.drawRequestLimit());
    this.workers.add(worker);
    worker.ready.then(
      () => {
        if (this.closed) {
          void worker.shutdown();
          return;
        }
        if (worker === this.replacement) {
          this.replacement = null;
          this.retireOldest();
        }
        this.idle.push(worker);
        this.dispatch();
        this.startReplacement();
      },
      (error: Error) => {
        if (worker === this.replacement) {
          this.replacement = null;
          this.replacementFailed(error);
          return;
        }
        // A worker that cannot start would fail the same way again: stop spawning and fail what waits, until the
        // next run() or warm() tries again.
        this.startError = error;
        this.failQueue(error);
      },
    );
    void worker.exited.then(() => {
      const wasMember = this.workers.has(worker);
      this.removeWorker(worker);
      if (wasMember) this.replenish();
    });
    return worker;
  }

  private drawRequestLimit(): number {
    if (this.maxRequests === Infinity) return Infinity;
    return Math.max(1, Math.round(this.maxRequests * (1 + this.jitter * (2 * Math.random() - 1))));
  }

  /** The replacement is ready: the oldest live retiring worker drains (now when idle, else after its request). */
  private retireOldest(): void {
    for (let old = this.retiring.shift(); old; old = this.retiring.shift()) {
      if (!old.alive) continue;
      this.counters.recycled++;
      this.draining.add(old);
      if (!old.busy) {
        this.removeWorker(old);
        void old.shutdown();
      }
      return;
    }
  }

  /** Forgets a worker that exited, was killed or is being shut down. */
  private removeWorker(worker: PythonWorker): void {
    this.workers.delete(worker);
    this.draining.delete(worker);
    const idleIndex = this.idle.indexOf(worker);
    if (idleIndex >= 0) this.idle.splice(idleIndex, 1);
    const retiringIndex = this.retiring.indexOf(worker);
    if (retiringIndex >= 0) {
      this.retiring.splice(retiringIndex, 1);
      // The worker it was meant to replace is gone: the replacement takes that slot instead of being extra.
      if (this.retiring.length === 0) this.replacement = null;
    }
  }

  /** After a worker left: refill missing slots and continue pending recycles. */
  private replenish(): void {
    if (this.closed) return;
    if (!this.startError) void this.fillPool().catch((error: unknown) => this.failQueue(error));
    this.startReplacement();
    this.noteSpawnWaits();
  }

  private noteSpawnWaits(): void {
    if (this.queue.length === 0 || this.servingCount() >= this.size) return;
    for (const pending of this.queue) {
      if (pending.waitedForSpawn) continue;
      pending.waitedForSpawn = true;
      this.counters.waitedForSpawn++;
    }
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
      this.execute(worker, pending).catch((error: unknown) => this.executeFailed(worker, pending, error));
    }
  }

  /**
   * A request that threw on its way to or from the worker (rather than failing in it) fails alone; the worker's
   * state is then unknown, so it is killed and replaced. Never rethrown: dispatch runs from process events.
   */
  private executeFailed(worker: PythonWorker, pending: Pending, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    pending.resolve(failure('block_execution_failed', 'WorkerProtocolError', `Block ${pending.request.blockUuid} could not be run: ${message}`));
    worker.kill();
    if (this.workers.has(worker)) {
      this.removeWorker(worker);
      this.replenish();
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
      if (this.workers.has(worker)) {
        this.removeWorker(worker);
        this.replenish();
      }
      return;
    }
    if (worker.busy) return;
    if (this.draining.has(worker)) {
      this.removeWorker(worker);
      void worker.shutdown();
      this.replenish();
      return;
    }
    if (worker.requestsServed >= (this.requestLimits.get(worker) ?? Infinity) && !this.retiring.includes(worker)) {
      this.retiring.push(worker);
    }
    this.idle.push(worker);
    this.dispatch();
    this.startReplacement();
  }
}
