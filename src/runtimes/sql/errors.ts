/**
 * The failure a SQL block reports. `exception` is the class name shown to users (Mage shows the Python
 * exception class; SQL engines get a name per engine), `traceback` holds the SQL lines that failed.
 */
export class SqlBlockError extends Error {
  constructor(
    /** e.g. `DuckDBError`, `PostgresError`, `MySQLError`, `TemplateError`, `ValueError`. */
    readonly exception: string,
    message: string,
    /** The failing SQL statement's lines (rendered), or the template line for a TemplateError. */
    readonly traceback: string[] = [],
  ) {
    super(message);
    this.name = exception;
  }
}

/** Raised by the template renderer; `line` is 1-based in the template source. */
export class TemplateError extends SqlBlockError {
  constructor(message: string, sourceLine?: string, line?: number) {
    super('TemplateError', message, sourceLine === undefined ? [] : [`line ${line ?? '?'}: ${sourceLine}`]);
  }
}

/** Why a run was stopped from outside. */
export type StopReason = 'timeout' | 'cancelled';

/** Thrown inside an engine once the run has been stopped, so the engine unwinds without writing outputs. */
export class RunStoppedError extends Error {
  constructor(readonly reason: StopReason) {
    super(reason === 'timeout' ? 'Block run timed out' : 'Block run was cancelled');
    this.name = 'RunStoppedError';
  }
}
