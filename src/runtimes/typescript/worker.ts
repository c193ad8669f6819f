/**
 * A warm worker thread of the TypeScript runtime: it runs one block at a time, reading upstream outputs and
 * writing outputs itself so tables never cross the thread boundary. Started by pool.ts.
 */
import { parentPort } from 'node:worker_threads';
import { format } from 'node:util';
import { toMageOutputJson } from '../../variables/json.js';
import { payloadTooDeep } from '../payloadLimits.js';
import { readOutputs } from '../../variables/read.js';
import { writeOutputs } from '../../variables/write.js';
import type { BlockErrorInfo, LogLevel } from '../types.js';
import { blockKwargs, makeLogger, type BlockContext } from './context.js';
import type { FromWorker, RunJob, ToWorker, WorkerResult } from './protocol.js';
import { blockFrames } from './stack.js';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;

interface CurrentRun {
  id: number;
  controller: AbortController;
  failUncaught: (error: unknown) => void;
}

let current: CurrentRun | null = null;
let nextSecretRequest = 1;
const pendingSecrets = new Map<number, { resolve: (v: string | undefined) => void; reject: (e: Error) => void }>();

function post(message: FromWorker): void {
  port.postMessage(message);
}

function emit(level: LogLevel, args: unknown[]): void {
  // Lines printed between runs (stray timers) go out with id 0; the pool drops them.
  post({ type: 'log', id: current?.id ?? 0, line: { level, message: format(...args), timestamp: Date.now() / 1000 } });
}

// Block output goes to the run's log, never to the server's stdout.
console.log = (...args: unknown[]) => emit('INFO', args);
console.info = (...args: unknown[]) => emit('INFO', args);
console.debug = (...args: unknown[]) => emit('DEBUG', args);
console.warn = (...args: unknown[]) => emit('WARNING', args);
console.error = (...args: unknown[]) => emit('ERROR', args);
console.trace = (...args: unknown[]) => emit('DEBUG', [format(...args), new Error().stack?.split('\n').slice(2).join('\n') ?? '']);
const streamWriter = (level: LogLevel) =>
  ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
    const trimmed = text.endsWith('\n') ? text.slice(0, -1) : text;
    if (trimmed.length > 0) emit(level, [trimmed]);
    const cb = typeof encoding === 'function' ? encoding : callback;
    if (typeof cb === 'function') queueMicrotask(() => (cb as () => void)());
    return true;
  }) as typeof process.stdout.write;
process.stdout.write = streamWriter('INFO');
process.stderr.write = streamWriter('ERROR');

function failCurrent(error: unknown): void {
  if (current) current.failUncaught(error);
  else emit('ERROR', ['uncaught error outside a block run:', error]);
}
process.on('uncaughtException', failCurrent);
process.on('unhandledRejection', failCurrent);

class TestFailure extends Error {
  constructor(
    readonly testName: string,
    readonly failure: unknown,
  ) {
    super(`test ${testName} failed`);
  }
}

/** Source files of the block being run, for stack traces. */
let currentSources: readonly string[] = [];

function errorInfo(type: BlockErrorInfo['type'], error: unknown): BlockErrorInfo {
  if (error instanceof Error) {
    const name = error.name && error.name !== 'Error' ? error.name : error.constructor?.name || 'Error';
    return { type, exception: name, message: error.message, traceback: blockFrames(error.stack, currentSources) };
  }
  return { type, exception: 'Error', message: typeof error === 'string' ? error : format(error), traceback: [] };
}

function testFailureInfo(failure: TestFailure): BlockErrorInfo {
  const info = errorInfo('test_failed', failure.failure);
  return { ...info, message: `${failure.testName}: ${info.message}` };
}

/** Mage's normalisation of a return value: a list splits into outputs, nothing is no output, else one output. */
function splitOutputs(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return [...value];
  return [value];
}

async function upstreamValue(dir: string): Promise<unknown> {
  const values = await readOutputs(dir);
  return values.length === 1 ? values[0] : values;
}

function requestSecret(id: number, name: string): Promise<string | undefined> {
  const requestId = nextSecretRequest++;
  return new Promise((resolve, reject) => {
    pendingSecrets.set(requestId, { resolve, reject });
    post({ type: 'secret', id, requestId, name });
  });
}

function makeContext(id: number, job: RunJob, kwargs: Record<string, unknown>, signal: AbortSignal): BlockContext {
  return {
    kwargs,
    logger: makeLogger(emit),
    variables: <T>(name: string) => kwargs[name] as T | undefined,
    secret: async (name: string) => {
      if (!job.hasSecrets) throw new Error(`secret ${JSON.stringify(name)} is not available: no secret store is configured`);
      const value = await requestSecret(id, name);
      if (value === undefined) throw new Error(`secret ${JSON.stringify(name)} does not exist`);
      return value;
    },
    signal,
  };
}

function exportedFunctions(mod: Record<string, unknown>, name: string): ((...args: unknown[]) => unknown)[] {
  const value = mod[name];
  if (typeof value === 'function') return [value as (...args: unknown[]) => unknown];
  if (Array.isArray(value)) return value.filter((f): f is (...args: unknown[]) => unknown => typeof f === 'function');
  return [];
}

async function execute(id: number, job: RunJob, signal: AbortSignal): Promise<WorkerResult> {
  const mod = (await import(job.moduleUrl)) as Record<string, unknown>;
  const kwargs = blockKwargs(job.kwargs);
  const ctx = makeContext(id, job, kwargs, signal);
  const inputs = job.inlineInputs ?? (await Promise.all(job.upstreamDirs.map(upstreamValue)));
  if (job.mode === 'condition') {
    let passed = true;
    for (const fn of exportedFunctions(mod, 'condition')) if (!(await fn(ctx, ...inputs))) passed = false;
    return { ok: true, outputCount: 0, conditionResult: passed };
  }
  if (job.mode === 'on_success' || job.mode === 'on_failure') {
    for (const fn of exportedFunctions(mod, job.mode === 'on_success' ? 'onSuccess' : 'onFailure')) await fn(ctx, ...inputs);
    return { ok: true, outputCount: 0 };
  }
  const main = mod.default;
  if (typeof main !== 'function') {
    throw new TypeError(`${job.sourcePath} has no default export function: write \`export default function (ctx, ...inputs) { ... }\``);
  }
  const outputs = splitOutputs(await (main as (...args: unknown[]) => unknown)(ctx, ...inputs));
  if (job.runTests) {
    for (const name of Object.keys(mod)) {
      const test = mod[name];
      if (!/^test/.test(name) || typeof test !== 'function') continue;
      try {
        await (test as (...args: unknown[]) => unknown)(...outputs);
      } catch (error) {
        throw new TestFailure(name, error);
      }
    }
  }
  if (job.outputDir !== null) await writeOutputs(job.outputDir, outputs);
  return {
    ok: true,
    outputCount: outputs.length,
    ...(job.returnOutputs ? { outputs: outputs.map(toMageOutputJson) } : {}),
  };
}

function applyEnv(env: Record<string, string> | undefined): () => void {
  if (!env) return () => undefined;
  const previous = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(env)) {
    previous.set(key, process.env[key]);
    process.env[key] = value;
  }
  return () => {
    for (const [key, value] of previous) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

async function runJob(id: number, job: RunJob): Promise<void> {
  const controller = new AbortController();
  let failUncaught: (error: unknown) => void = () => undefined;
  const uncaught = new Promise<never>((_resolve, reject) => (failUncaught = reject));
  current = { id, controller, failUncaught };
  currentSources = job.sourcePaths;
  const restoreEnv = applyEnv(job.env);
  let result: WorkerResult;
  try {
    result = await Promise.race([execute(id, job, controller.signal), uncaught]);
  } catch (error) {
    result =
      error instanceof TestFailure
        ? { ok: false, error: testFailureInfo(error) }
        : { ok: false, error: errorInfo('block_execution_failed', error) };
  } finally {
    restoreEnv();
    current = null;
  }
  // This thread's stack is larger than the main thread's: outputs it can send might not be readable there.
  const tooDeep = result.ok && result.outputs ? payloadTooDeep({ outputs: result.outputs }) : null;
  if (tooDeep) result = { ok: false, error: errorInfo('block_execution_failed', new RangeError(tooDeep)) };
  try {
    post({ type: 'result', id, result });
  } catch (error) {
    post({ type: 'result', id, result: { ok: false, error: errorInfo('block_execution_failed', new Error(`outputs cannot be sent back: ${(error as Error).message}`)) } });
  }
}

// Without this a job that cannot be deserialised here would vanish and its run wait for its timeout.
port.on('messageerror', (error) => post({ type: 'unreadable', error: error instanceof Error ? error.message : String(error) }));

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'run':
      void runJob(message.id, message.job);
      break;
    case 'abort':
      if (current?.id === message.id) current.controller.abort(new Error(message.reason === 'timeout' ? 'block timed out' : 'block cancelled'));
      break;
    case 'secret-result': {
      const pending = pendingSecrets.get(message.requestId);
      pendingSecrets.delete(message.requestId);
      if (!pending) break;
      if (message.error) pending.reject(new Error(message.error));
      else pending.resolve(message.value);
      break;
    }
  }
});

post({ type: 'ready' });
