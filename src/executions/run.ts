/**
 * Runs an execution's blocks one after the other on the warm runtimes and turns what happens into events:
 * `status` running, then per block `block_start`, `stdout`/`stderr` (logBatcher.ts), `output` (one per output,
 * sampling.ts), `test_result` (with run_tests), `error`, `block_end`; at the end `status` idle and `done`.
 *
 * Each block is run as a notebook run in Mage: its upstream inputs are the upstream blocks' notebook outputs
 * (`.variables/<block>/`, no partition) and its own outputs replace its notebook outputs there, which is what the
 * pipeline and block APIs show (`outputs`) and what the next execution of a downstream block reads. The first
 * block that fails or is cancelled ends the execution; the blocks after it are `skipped`. A block's callbacks run
 * after it, as Mage's execute_with_callback; conditionals are not evaluated (Mage's notebook does not either).
 */
import { performance } from 'node:perf_hooks';
import type { BlockConfig, PipelineConfig } from '../project/pipeline.js';
import type { Project } from '../project/projectConfig.js';
import { blockFilePath, blockFileProblem } from '../project/blocks.js';
import type { RuntimeRegistry } from '../runtimes/registry.js';
import type { BlockErrorInfo, BlockLanguage, BlockMode, BlockRunRequest, BlockRunResult, LogLine } from '../runtimes/types.js';
import { blockRequestFields, callbackErrorKwargs, findBlock } from '../engine/blockRequest.js';
import { buildKwargs } from '../engine/kwargs.js';
import { latestOutputsDir } from '../runs/persist.js';
import type { Execution, ExecutionStatus, TestResult } from './execution.js';
import { LogBatcher } from './logBatcher.js';
import type { ExecutionRequest } from './plan.js';
import { readOutputItems } from './sampling.js';
import type { ExecutionSettings } from './settings.js';

/** The unsaved text of one block, written to a temp file for the duration of the execution. */
export interface CodeFile {
  blockUuid: string;
  /** The temp file run instead of the block file. */
  path: string;
  /** The block's own file, named in tracebacks instead of the temp file. */
  blockPath: string;
}

export interface RunInput {
  project: Project;
  pipeline: PipelineConfig;
  order: BlockConfig[];
  request: ExecutionRequest;
  runtimes: RuntimeRegistry;
  getSecret?: (name: string) => Promise<string | undefined>;
  settings: ExecutionSettings;
  codeFile: CodeFile | null;
}

type BlockOutcome = 'completed' | 'failed' | 'cancelled';

const PYTHON_TESTS_PASSED = /^(\d+)\/(\d+) tests passed\.$/;
const PYTHON_TESTS_FAILED = /^(\d+) of (\d+) tests failed\. ([\s\S]*)$/;

function failure(err: unknown): BlockRunResult {
  const e = err instanceof Error ? err : new Error(String(err));
  return { ok: false, error: { type: 'block_execution_failed', exception: e.name || 'Error', message: e.message, traceback: [] } };
}

/** The failures named in Python's `k of n tests failed. name: Exc: msg; name: Exc: msg` summary. */
function pythonFailures(summary: string): Array<{ name: string; message: string }> {
  return summary
    .split(/; (?=[A-Za-z_]\w*: )/)
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const colon = part.indexOf(': ');
      return colon < 0 ? { name: part, message: '' } : { name: part.slice(0, colon), message: part.slice(colon + 2) };
    });
}

/**
 * The test_result of a block run with run_tests. Python reports `N/M tests passed.` on its log and, on failure,
 * `k of n tests failed. <name: error; ...>`; TypeScript stops at the first failing test and does not count the
 * passing ones (`passed: null`).
 */
function testResult(block: BlockConfig, result: BlockRunResult, passedLine: RegExpExecArray | null): TestResult | null {
  const base = { block_uuid: block.uuid };
  if (result.ok) {
    if (passedLine) return { ...base, passed: Number(passedLine[1]), failed: Number(passedLine[2]) - Number(passedLine[1]), failures: [] };
    return { ...base, passed: block.language === 'python' ? 0 : null, failed: 0, failures: [] };
  }
  if (result.error.type !== 'test_failed') return null;
  const counted = PYTHON_TESTS_FAILED.exec(result.error.message);
  if (counted) {
    const failed = Number(counted[1]);
    return { ...base, passed: Number(counted[2]) - failed, failed, failures: pythonFailures(counted[3]) };
  }
  const colon = result.error.message.indexOf(': ');
  const name = colon < 0 ? 'test' : result.error.message.slice(0, colon);
  const message = colon < 0 ? result.error.message : result.error.message.slice(colon + 2);
  return { ...base, passed: null, failed: 1, failures: [{ name, message: `${result.error.exception}: ${message}` }] };
}

export async function runExecution(execution: Execution, input: RunInput): Promise<void> {
  const { project, pipeline, request, settings, codeFile } = input;
  const signal = execution.controller.signal;
  const started = performance.now();
  const executionDate = new Date();
  const limits = { rows: settings.sampleRows, columns: settings.sampleColumns, maxJsonBytes: settings.maxJsonBytes };
  /** The temp file's path replaced by the block file's in what the user reads. */
  const shown = (text: string) => (codeFile ? text.split(codeFile.path).join(codeFile.blockPath) : text);

  const kwargsFor = (b: BlockConfig) =>
    buildKwargs({
      globalVariables: pipeline.variables as Record<string, unknown> | undefined,
      runVariables: request.variables,
      executionDate,
      executionPartition: '',
      pipelineRunId: null,
      pipelineUuid: pipeline.uuid,
      blockUuid: b.uuid,
      configuration: (b.configuration ?? {}) as Record<string, unknown>,
      repoPath: project.root,
    });

  /** The request for `b` (or a callback of `parent`, which gets the parent's inputs and kwargs). */
  const requestFor = (b: BlockConfig, filePath: string, mode: BlockMode, parent: BlockConfig, onLog: (line: LogLine) => void, extra: Partial<BlockRunRequest> = {}): BlockRunRequest => ({
    ...blockRequestFields(project, pipeline.uuid, b, filePath, mode),
    upstream: (parent.upstream_blocks ?? []).map((u) => ({ blockUuid: u, variablesDir: latestOutputsDir(project.dataDir, pipeline.uuid, u) })),
    kwargs: kwargsFor(parent),
    outputDir: null,
    returnOutputs: false,
    runTests: false,
    signal,
    onLog,
    getSecret: input.getSecret,
    ...extra,
  });

  const runBlock = async (b: BlockConfig): Promise<BlockOutcome> => {
    const state = execution.blocks.get(b.uuid)!;
    state.status = 'running';
    state.started_at = new Date().toISOString();
    execution.emit('block_start', { block_uuid: b.uuid, block_type: b.type, language: b.language });
    const t0 = performance.now();
    const batcher = new LogBatcher(b.uuid, (stream, data) => execution.emit(stream, data), {
      batchMs: settings.logBatchMs,
      maxLines: settings.maxLinesPerBlock,
      maxLineChars: settings.maxLineChars,
    });
    let passedLine: RegExpExecArray | null = null;
    const onLog = (line: LogLine) => {
      if (line.level === 'INFO') passedLine = PYTHON_TESTS_PASSED.exec(line.message) ?? passedLine;
      batcher.write(line.level === 'DEBUG' || line.level === 'INFO' ? 'stdout' : 'stderr', shown(line.message));
    };
    const outputDir = latestOutputsDir(project.dataDir, pipeline.uuid, b.uuid);
    let result: BlockRunResult;
    try {
      const ownCode = codeFile?.blockUuid === b.uuid;
      const problem = ownCode ? null : blockFileProblem(project, b);
      if (problem) {
        result = { ok: false, error: { type: 'block_execution_failed', exception: 'FileNotFoundError', message: problem.message, traceback: [] } };
      } else {
        const filePath = ownCode ? codeFile!.path : blockFilePath(project, b);
        const timeoutMs = typeof b.timeout === 'number' && b.timeout > 0 ? b.timeout * 1000 : undefined;
        const runtime = await input.runtimes.get(b.language as BlockLanguage);
        result = await runtime.run(requestFor(b, filePath, 'run', b, onLog, { outputDir, runTests: request.runTests, timeoutMs }));
      }
      // Callbacks, as Mage's execute_with_callback: none for a block that timed out or was cancelled.
      const error: BlockErrorInfo | undefined = result.ok ? undefined : result.error;
      if (!problem && (!error || error.type === 'block_execution_failed' || error.type === 'test_failed')) {
        const mode = error ? 'on_failure' : 'on_success';
        for (const uuid of b.callback_blocks ?? []) {
          const callback = findBlock(pipeline, uuid);
          if (!callback || signal.aborted) continue;
          // As Mage, a failing callback is reported and changes nothing about the block's own result.
          let cb: BlockRunResult;
          try {
            cb = await (await input.runtimes.get(callback.language as BlockLanguage)).run(
              requestFor(callback, blockFilePath(project, callback), mode, b, onLog, { kwargs: { ...kwargsFor(b), ...(error ? callbackErrorKwargs(error) : {}) } }),
            );
          } catch (err) {
            cb = failure(err);
          }
          if (!cb.ok) batcher.write('stderr', `Failed to execute ${mode} callback block ${uuid} for block ${b.uuid}: ${cb.error.exception}: ${cb.error.message}`);
        }
      }
    } catch (err) {
      result = failure(err);
    }
    batcher.close();
    let outcome: BlockOutcome;
    if (result.ok) {
      try {
        state.outputs = await readOutputItems(outputDir, limits);
      } catch (err) {
        state.outputs = [];
        execution.emit('stderr', { block_uuid: b.uuid, lines: [`The outputs of block ${b.uuid} could not be read: ${(err as Error).message}`], truncated: false });
      }
      for (const [index, item] of state.outputs.entries()) execution.emit('output', { block_uuid: b.uuid, index, ...item });
      outcome = 'completed';
    } else if (result.error.type === 'cancelled' || signal.aborted) {
      outcome = 'cancelled';
    } else {
      outcome = 'failed';
    }
    if (request.runTests && outcome !== 'cancelled') {
      state.test_result = testResult(b, result, passedLine);
      if (state.test_result) execution.emit('test_result', { ...state.test_result });
    }
    if (!result.ok && outcome === 'failed') {
      state.error = {
        block_uuid: b.uuid,
        name: result.error.exception,
        message: shown(result.error.message),
        stack: result.error.traceback.map(shown),
        type: result.error.type,
      };
      execution.emit('error', { ...state.error });
    }
    state.status = outcome;
    state.completed_at = new Date().toISOString();
    state.duration_ms = Math.round(performance.now() - t0);
    execution.emit('block_end', { block_uuid: b.uuid, status: outcome, duration_ms: state.duration_ms });
    return outcome;
  };

  let final: ExecutionStatus = 'completed';
  execution.status = 'running';
  execution.startedAt = new Date();
  execution.emit('status', { state: 'running', status: 'running', block_uuid: execution.blockUuid });
  try {
    for (const block of input.order) {
      if (signal.aborted) {
        final = 'cancelled';
        break;
      }
      const outcome = await runBlock(block);
      if (outcome !== 'completed') {
        final = outcome;
        break;
      }
    }
  } catch (err) {
    // Nothing above should throw; if it does, the execution still ends with its events.
    final = 'failed';
    const e = err instanceof Error ? err : new Error(String(err));
    execution.emit('error', { block_uuid: null, name: e.name, message: e.message, stack: [], type: 'block_execution_failed' });
  }
  for (const state of execution.blocks.values()) if (state.status === 'pending' || state.status === 'running') state.status = 'skipped';
  execution.status = final;
  execution.finishedAt = new Date();
  execution.durationMs = Math.round(performance.now() - started);
  execution.emit('status', { state: 'idle', status: final, block_uuid: execution.blockUuid });
  execution.emit('done', { status: final, duration_ms: execution.durationMs });
}
