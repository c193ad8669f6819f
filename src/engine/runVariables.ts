/**
 * Run variables the engine reads as parts of paths. Only `execution_partition` is one: it names the folder of a
 * run's outputs and logs (`.variables/<partition>/`, `.logs/<partition>/`). Mage honours a run's own value, so
 * a run may carry one, but only as plain folder names; the other reserved keys (`execution_date`,
 * `pipeline_uuid`, `block_uuid`, `repo_path`, ...) are overwritten by the engine's own values before a block
 * sees them (kwargs.ts) and never become paths.
 *
 * Requests are refused with a 400 naming the variable (api/resources/pipelineSchedules.ts
 * `checkRunVariables`); a value that arrives from a database row or a file fails the run with the reason
 * (engine.ts).
 */
import { MAX_NAME_BYTES } from '../project/names.js';
import { PathRefusedError, checkPathName } from '../project/paths.js';

/** The run variables that become parts of paths. */
export const PATH_VARIABLES = ['execution_partition'] as const;

/** At most this many folders in a partition: Mage's has 2 (`<trigger>/<date>`), synchronous runs 3. */
export const MAX_PARTITION_SEGMENTS = 8;

/** A run variable that cannot be used; `variable` is its name. */
export class RunVariableError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'RunVariableError';
  }
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** Why `value` cannot be a partition, or null when it is `/`-separated plain folder names. */
function partitionProblem(value: unknown): string | null {
  if (typeof value !== 'string') return `is ${value === null ? 'null' : typeof value}, not a string`;
  const segments = value.split('/');
  if (segments.length > MAX_PARTITION_SEGMENTS) return `has more than ${MAX_PARTITION_SEGMENTS} folders`;
  // Control characters make names no one can type; the path rules themselves are paths.ts's.
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'contains a control character';
  if (segments.some((s) => s.trim() !== s)) return 'has a folder name that starts or ends with a space';
  try {
    checkPathName('execution partition', value);
  } catch (err) {
    if (err instanceof PathRefusedError) return `is refused: ${err.message}`;
    throw err;
  }
  if (segments.some((s) => Buffer.byteLength(s, 'utf8') > MAX_NAME_BYTES)) return `has a folder longer than ${MAX_NAME_BYTES} bytes`;
  return null;
}

/**
 * The first problem with the path variables of `variables`, as a RunVariableError, or null when there is none.
 * An absent or null value is no problem: the engine then uses `<trigger id>/<execution date>`.
 */
export function runVariableProblem(variables: Record<string, unknown> | null | undefined): RunVariableError | null {
  if (!variables) return null;
  for (const name of PATH_VARIABLES) {
    const value = variables[name];
    if (value === undefined || value === null) continue;
    const problem = partitionProblem(value);
    if (problem) {
      return new RunVariableError(
        name,
        `Run variable ${name} ${show(value)} ${problem}. It names the folder of the run's outputs and logs, so it must be ` +
          `folder names separated by "/" (each at most ${MAX_NAME_BYTES} bytes); leave it out to use <trigger id>/<execution date>.`,
      );
    }
  }
  return null;
}

/** True when the partition is one `runVariableProblem` accepts (readers fall back to the default otherwise). */
export function isUsablePartition(value: unknown): value is string {
  return partitionProblem(value) === null;
}
