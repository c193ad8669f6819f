/**
 * One warm Python worker process: spawns python/blockflow_worker.py in its own process group, waits for
 * `ready`, runs one request at a time, answers the worker's secret and YAML questions, and can be killed
 * (the whole group, so subprocesses of the block die too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parse as parseYaml } from 'yaml';
import type { BlockErrorInfo, BlockRunRequest, BlockRunResult, LogLevel } from '../types.js';
import { toWorkerPayload, type FromWorker, type ToWorker } from './protocol.js';

export interface WorkerSpawnOptions {
  python: string;
  script: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Worker stderr lines seen while no request is running (interpreter warnings, crashes). */
  onIdleOutput?: (line: string) => void;
}

const STDERR_TAIL_LINES = 40;
const LOG_LEVELS = new Set<LogLevel>(['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL']);

interface ActiveRequest {
  id: string;
  request: BlockRunRequest;
  settle: (result: BlockRunResult) => void;
  settled: boolean;
}

function serialise(message: ToWorker): string {
  return `${JSON.stringify(message)}\n`;
}

export function failure(type: BlockErrorInfo['type'], exception: string, message: string): BlockRunResult {
  return { ok: false, error: { type, exception, message, traceback: [] } };
}

export class PythonWorker {
  readonly process: ChildProcess;
  /** Resolves when the worker said `ready`; rejects when it exited before. */
  readonly ready: Promise<void>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  requestsServed = 0;
  private isReady = false;
  private hasExited = false;
  private killRequested = false;
  private active: ActiveRequest | null = null;
  private readonly stderrTail: string[] = [];

  constructor(private readonly options: WorkerSpawnOptions) {
    this.process = spawn(options.python, ['-u', options.script], {
      cwd: options.cwd,
      // The worker exits on its own when this process dies, even in the middle of a block (its own process group
      // is not killed with ours): it watches its parent pid, and this one tells it which pid that should be.
      env: { ...options.env, BLOCKFLOW_PARENT_PID: String(process.pid) },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let markReady: () => void = () => {};
    let failStart: (error: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    this.ready.catch(() => {});
    this.process.stdin!.on('error', () => {});
    const stdoutLines = createInterface({ input: this.process.stdout!, crlfDelay: Infinity });
    const stdoutClosed = new Promise<void>((resolve) => stdoutLines.once('close', resolve));
    stdoutLines.on('line', (line) => {
      if (!line.trim()) return;
      let message: FromWorker;
      try {
        message = JSON.parse(line) as FromWorker;
      } catch {
        this.onStderrLine(`(unparsable worker output) ${line}`);
        return;
      }
      if (message.type === 'ready') {
        this.isReady = true;
        markReady();
      } else {
        this.onMessage(message);
      }
    });
    createInterface({ input: this.process.stderr!, crlfDelay: Infinity }).on('line', (line) => this.onStderrLine(line));
    this.exited = new Promise<void>((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
        if (this.hasExited) return;
        this.hasExited = true;
        const how = spawnError ? spawnError.message : signal ? `signal ${signal}` : `exit code ${code}`;
        const tail = this.stderrTail.length ? `\n${this.stderrTail.join('\n')}` : '';
        if (!this.isReady) failStart(new Error(`The Python worker (${options.python}) failed to start (${how})${tail}`));
        const active = this.active;
        if (active) {
          this.finish(
            active,
            failure(
              'block_execution_failed',
              'WorkerCrashed',
              `The Python worker running block ${active.request.blockUuid} exited unexpectedly (${how})${tail}`,
            ),
          );
        }
        resolve();
      };
      // Lines the worker wrote just before dying are still in the pipe at 'exit': read them first. A grandchild
      // holding the pipe open must not delay the verdict for long, hence the bound.
      this.process.on('exit', (code, signal) => {
        const bound = setTimeout(() => finish(code, signal), 500);
        void stdoutClosed.then(() => {
          clearTimeout(bound);
          finish(code, signal);
        });
      });
      this.process.on('error', (error) => finish(null, null, error));
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** True once the worker said `ready`. */
  get hasStarted(): boolean {
    return this.isReady;
  }

  get busy(): boolean {
    return this.active !== null;
  }

  /** False once the process exited or a kill was requested: such a worker takes no more requests. */
  get alive(): boolean {
    return !this.hasExited && !this.killRequested;
  }

  /** Runs one request; resolves with the worker's result, or a failure when the process dies first. */
  run(id: string, request: BlockRunRequest): Promise<BlockRunResult> {
    if (this.active) throw new Error('PythonWorker.run called while the worker is busy');
    if (this.hasExited) return Promise.resolve(failure('block_execution_failed', 'WorkerCrashed', 'The Python worker has exited'));
    let line: string;
    try {
      line = serialise({ type: 'run', id, request: toWorkerPayload(request) });
    } catch (error) {
      // Serialising first means a request that cannot be written fails alone and the worker stays free for the next.
      const reason = error instanceof Error ? error.message : String(error);
      return Promise.resolve(failure('block_execution_failed', error instanceof Error ? error.name : 'Error', `The request of block ${request.blockUuid} cannot be sent to the Python worker: ${reason}`));
    }
    return new Promise<BlockRunResult>((resolve) => {
      this.active = { id, request, settle: resolve, settled: false };
      this.write(line);
    });
  }

  /** Ends the running request with `result` and kills the process group. */
  abort(result: BlockRunResult): void {
    if (this.active) this.finish(this.active, result);
    this.kill();
  }

  kill(): void {
    this.killRequested = true;
    if (this.hasExited) return;
    const pid = this.process.pid;
    try {
      if (pid !== undefined) process.kill(-pid, 'SIGKILL');
      else this.process.kill('SIGKILL');
    } catch {
      this.process.kill('SIGKILL');
    }
  }

  /** Asks the worker to stop (closing its stdin), then kills it if it has not exited after `graceMs`. */
  async shutdown(graceMs = 2000): Promise<void> {
    this.killRequested = true;
    if (this.hasExited) return;
    this.process.stdin!.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private finish(active: ActiveRequest, result: BlockRunResult): void {
    if (active.settled) return;
    active.settled = true;
    if (this.active === active) this.active = null;
    active.settle(result);
  }

  private send(message: ToWorker): void {
    this.write(serialise(message));
  }

  /** Write errors (a worker that died) arrive on stdin's 'error' event, handled above; its exit ends the request. */
  private write(line: string): void {
    if (this.hasExited || !this.process.stdin!.writable) return;
    this.process.stdin!.write(line);
  }

  private onStderrLine(line: string): void {
    this.stderrTail.push(line);
    if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    const active = this.active;
    if (active?.request.onLog) {
      active.request.onLog({ level: 'WARNING', message: line, timestamp: Date.now() / 1000 });
    } else {
      this.options.onIdleOutput?.(line);
    }
  }

  private onMessage(message: FromWorker): void {
    const active = this.active;
    if (!active || !('id' in message) || message.id !== active.id) return;
    switch (message.type) {
      case 'log':
        active.request.onLog?.({
          level: LOG_LEVELS.has(message.level) ? message.level : 'INFO',
          message: message.message,
          timestamp: message.timestamp,
        });
        break;
      case 'secret_request':
        this.answerSecret(active, message.seq, message.name);
        break;
      case 'yaml_request':
        this.answerYaml(active, message.seq, message.text);
        break;
      case 'result':
        this.requestsServed += 1;
        this.finish(active, message.result);
        break;
      default:
        break;
    }
  }

  private answerSecret(active: ActiveRequest, seq: number, name: string): void {
    const lookup = active.request.getSecret ? active.request.getSecret(name) : Promise.resolve(undefined);
    lookup.then(
      (value) => this.send({ type: 'secret_response', id: active.id, seq, value: value ?? null }),
      (error: unknown) =>
        this.send({
          type: 'secret_response',
          id: active.id,
          seq,
          value: null,
          error: error instanceof Error ? error.message : String(error),
        }),
    );
  }

  private answerYaml(active: ActiveRequest, seq: number, text: string): void {
    try {
      this.send({ type: 'yaml_response', id: active.id, seq, value: parseYaml(text) ?? null });
    } catch (error) {
      this.send({ type: 'yaml_response', id: active.id, seq, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
