/**
 * Messages between the pool and python/blockflow_worker.py: one JSON object per line on the worker's
 * stdin/stdout. The worker owns one request at a time; every message about it carries the request `id`.
 */
import type { BlockRunRequest, BlockRunResult, LogLevel } from '../types.js';

/** The part of a BlockRunRequest the worker needs: everything JSON-serialisable. */
export type WorkerRunPayload = Pick<
  BlockRunRequest,
  | 'projectRoot'
  | 'dataDir'
  | 'pipelineUuid'
  | 'blockUuid'
  | 'blockType'
  | 'filePath'
  | 'mode'
  | 'configuration'
  | 'upstream'
  | 'inlineInputs'
  | 'kwargs'
  | 'outputDir'
  | 'returnOutputs'
  | 'runTests'
  | 'env'
>;

export type ToWorker =
  | { type: 'run'; id: string; request: WorkerRunPayload }
  | { type: 'ping'; id: string }
  | { type: 'shutdown' }
  | { type: 'secret_response'; id: string; seq: number; value: string | null; error?: string }
  | { type: 'yaml_response'; id: string; seq: number; value?: unknown; error?: string };

export type FromWorker =
  | { type: 'ready'; pid: number; python: string }
  | { type: 'log'; id: string; level: LogLevel; message: string; timestamp: number }
  | { type: 'secret_request'; id: string; seq: number; name: string }
  | { type: 'yaml_request'; id: string; seq: number; text: string }
  | { type: 'result'; id: string; result: BlockRunResult }
  | { type: 'pong'; id: string };

export function toWorkerPayload(request: BlockRunRequest): WorkerRunPayload {
  return {
    projectRoot: request.projectRoot,
    dataDir: request.dataDir,
    pipelineUuid: request.pipelineUuid,
    blockUuid: request.blockUuid,
    blockType: request.blockType,
    filePath: request.filePath,
    mode: request.mode,
    configuration: request.configuration,
    upstream: request.upstream,
    inlineInputs: request.inlineInputs,
    kwargs: request.kwargs,
    outputDir: request.outputDir,
    returnOutputs: request.returnOutputs,
    runTests: request.runTests,
    env: request.env,
  };
}
