/** Typed errors the store raises, so callers can answer "already exists" without reading driver codes. */

/** A write hit a UNIQUE constraint. `constraint` is the index/constraint name (pg) or the column list (SQLite). */
export class DuplicateRecordError extends Error {
  constructor(
    readonly table: string,
    readonly constraint: string,
    message = `A ${table} row with the same ${constraint} already exists.`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DuplicateRecordError';
  }
}

/** A pipeline run for this (pipeline_schedule_id, execution_date) already exists. */
export class DuplicateRunError extends DuplicateRecordError {
  constructor(
    readonly pipelineScheduleId: number,
    readonly executionDate: string | null,
    options?: { cause?: unknown },
  ) {
    super(
      'pipeline_run',
      'pipeline_schedule_id, execution_date',
      `A pipeline run for schedule ${pipelineScheduleId} at ${executionDate} already exists.`,
      options,
    );
    this.name = 'DuplicateRunError';
  }
}

/**
 * The name of the violated unique constraint when `err` is a unique violation, else undefined.
 * pg: SQLSTATE 23505 with `constraint`. better-sqlite3: SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY, whose message
 * lists the columns ("UNIQUE constraint failed: pipeline_run.pipeline_schedule_id, pipeline_run.execution_date").
 */
export function uniqueViolation(err: unknown): string | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; constraint?: unknown; message?: unknown };
  if (e.code === '23505') return typeof e.constraint === 'string' ? e.constraint : 'unique';
  if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const m = /constraint failed: (.*)$/.exec(String(e.message));
    return m ? m[1] : 'unique';
  }
  return undefined;
}

/** Rethrows a unique violation as DuplicateRecordError for `table`; any other error unchanged. */
export function rethrowDuplicate(err: unknown, table: string): never {
  const constraint = uniqueViolation(err);
  if (constraint !== undefined) throw new DuplicateRecordError(table, constraint, undefined, { cause: err });
  throw err;
}
