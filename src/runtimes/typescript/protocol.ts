/** Messages between the TypeScript runtime (main thread) and its worker threads. */
import type { BlockErrorInfo, BlockMode, LogLine } from '../types.js';

/** Everything a worker needs to run one block; the non-cloneable parts of the request stay in the main thread. */
export interface RunJob {
  moduleUrl: string;
  sourcePath: string;
  /** The block file and the TypeScript files it imports (for stack traces). */
  sourcePaths: string[];
  pipelineUuid: string;
  blockUuid: string;
  mode: BlockMode;
  upstreamDirs: string[];
  inlineInputs?: unknown[];
  kwargs: Record<string, unknown>;
  outputDir: string | null;
  returnOutputs: boolean;
  runTests: boolean;
  env?: Record<string, string>;
  hasSecrets: boolean;
}

export type WorkerResult =
  | { ok: true; outputCount: number; outputs?: unknown[]; conditionResult?: boolean }
  | { ok: false; error: BlockErrorInfo };

export type ToWorker =
  | { type: 'run'; id: number; job: RunJob }
  | { type: 'abort'; id: number; reason: 'timeout' | 'cancelled' }
  | { type: 'secret-result'; requestId: number; value?: string; error?: string };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'log'; id: number; line: LogLine }
  | { type: 'secret'; id: number; requestId: number; name: string }
  | { type: 'result'; id: number; result: WorkerResult }
  /** A message from the pool could not be deserialised in the worker ('messageerror'); `error` says why. */
  | { type: 'unreadable'; error: string };
