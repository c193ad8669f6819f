/**
 * The contract between the engine (and the synchronous /api/runs endpoint) and the language runtimes.
 * A runtime runs one block file once: it loads upstream outputs, calls the block's function with Mage's
 * calling convention, runs its @test functions, and persists or returns the outputs.
 */

export type BlockLanguage = 'python' | 'sql' | 'typescript' | 'javascript' | 'markdown' | 'r' | 'yaml';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';

export interface LogLine {
  level: LogLevel;
  message: string;
  /** Epoch seconds (float), when the line was produced. */
  timestamp: number;
}

/**
 * What a block file is asked to do.
 * - `run`: the main decorated function (@data_loader, @transformer, @data_exporter, @custom, @sensor, or the
 *   default export of a TypeScript block; the query of a SQL block).
 * - `condition`: every @condition function; the result is their logical AND.
 * - `on_success` / `on_failure`: the callback functions of a callback block.
 */
export type BlockMode = 'run' | 'condition' | 'on_success' | 'on_failure';

export interface UpstreamInput {
  blockUuid: string;
  /**
   * Absolute folder holding this upstream's variables for the partition in Mage's layout:
   * `<variables_dir>/pipelines/<pipeline>/.variables/<partition>/<block_uuid>/` with `output_0/`, `output_1/`...
   * A positional argument is `output_0` when there is exactly one output, else the list of outputs.
   */
  variablesDir: string;
  /**
   * One item of a dynamic upstream whose item list only the Python runtime reads as it was returned (a pickled
   * list, a polars DataFrame): the input is entry `item` of output_0 in variablesDir (a row for a DataFrame).
   */
  item?: number;
  /**
   * Mage's reduce_output over outputs only the Python runtime reads as they were returned: every child run's
   * folder, in order; the input is their outputs gathered into one list (list outputs contribute their entries,
   * DataFrames alone are concatenated). variablesDir is then the first of them.
   */
  gather?: string[];
}

export interface BlockRunRequest {
  /** Absolute project root (the folder holding metadata.yaml). */
  projectRoot: string;
  /** Absolute data dir of the project (Mage's variables_dir resolved), holding pipelines/<uuid>/.variables. */
  dataDir: string;
  pipelineUuid: string;
  blockUuid: string;
  blockType: string;
  language: BlockLanguage;
  /** Absolute path of the block file (already checked to be under the project root). */
  filePath: string;
  mode: BlockMode;
  /** The block's `configuration` from the pipeline metadata. */
  configuration: Record<string, unknown>;
  /** Positional inputs, one per upstream block, in `upstream_blocks` order. */
  upstream: UpstreamInput[];
  /**
   * Inline positional inputs, used instead of `upstream` when set (callbacks and conditions receive these;
   * /api/runs can pass values it already holds). JSON values only.
   */
  inlineInputs?: unknown[];
  /**
   * Keyword arguments, JSON-serialisable: global/trigger/run variables, `execution_date` (ISO 8601 string; the
   * Python runtime turns it into a datetime), `ds`, `hr`, `env`, `event`, `pipeline_uuid`, `block_uuid`,
   * `configuration`, `execution_partition`, `pipeline_run_id`, `trigger_name`, interval variables.
   * `logger` is added by the runtime.
   */
  kwargs: Record<string, unknown>;
  /**
   * Folder to write this block's outputs to (`.../.variables/<partition>/<block_uuid>`), replacing what is
   * there. `null` means do not persist.
   */
  outputDir: string | null;
  /** Return the outputs inline in the result, as JSON (DataFrames as arrays of row objects). */
  returnOutputs: boolean;
  /** Run the block's @test functions after it (default in the engine: true). */
  runTests: boolean;
  /** Kill the block's code at this deadline. Undefined: no limit. */
  timeoutMs?: number;
  /** Aborting cancels the block: its code is stopped (worker killed or terminated). */
  signal?: AbortSignal;
  /** Receives every log line the block produces (print, logger, stderr). */
  onLog?: (line: LogLine) => void;
  /** Resolves a secret by name for get_secret_value / mage_secret_var. Undefined when absent. */
  getSecret?: (name: string) => Promise<string | undefined>;
  /** Extra environment variables for the block (merged over the worker's environment where possible). */
  env?: Record<string, string>;
}

export interface BlockErrorInfo {
  /** `block_execution_failed`, `test_failed`, `timeout`, `cancelled`. */
  type: 'block_execution_failed' | 'test_failed' | 'timeout' | 'cancelled';
  /** The exception's class name, e.g. `ValueError`, `TypeError`. */
  exception: string;
  message: string;
  /** Traceback lines of the block's own code (no runtime internals). */
  traceback: string[];
}

export type BlockRunResult =
  | {
      ok: true;
      /** Number of outputs produced (output_0..N-1). */
      outputCount: number;
      /** Present when returnOutputs was set: Mage's `output` list shape (see mage-api.md §4). */
      outputs?: unknown[];
      /** For mode `condition`: the AND of the condition functions. */
      conditionResult?: boolean;
    }
  | { ok: false; error: BlockErrorInfo };

/** A runtime for one or more languages. Implementations keep warm workers; `close` stops them. */
export interface BlockRuntime {
  readonly languages: readonly BlockLanguage[];
  run(request: BlockRunRequest): Promise<BlockRunResult>;
  /** Start workers ahead of the first request, so no interpreter starts on a request path. */
  warm(): Promise<void>;
  close(): Promise<void>;
}
