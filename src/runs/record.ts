/**
 * The audit trail of a synchronous run (`record: true`): one PipelineRun and one BlockRun per block that ran,
 * written once, finished, when the request is done. On PostgreSQL that is a single statement (a data-modifying
 * CTE, atomic by itself); on SQLite one short transaction of two inserts. Nothing is written while the block
 * runs, so a call costs one database round trip on PostgreSQL.
 */
import { sql } from 'kysely';
import type { StoreScope } from '../store/db.js';
import type { BlockRunStatus } from '../store/blockRuns.js';
import type { RunStatus } from '../store/pipelineRuns.js';
import { uniqueViolation } from '../store/errors.js';
import { toDbTime } from '../store/time.js';

/** One block of the run, as it ended. */
export interface BlockRecord {
  blockUuid: string;
  status: BlockRunStatus;
  startedAt: Date | null;
  completedAt: Date | null;
  /** `{"error": {...}}` on failure, as the engine writes it; null otherwise. */
  metrics: Record<string, unknown> | null;
}

export interface RunRecord {
  pipelineUuid: string;
  pipelineScheduleId: number;
  /** Execution date with microseconds (see {@link ExecutionClock}); unique per schedule. */
  executionDate: ExecutionInstant;
  status: RunStatus;
  startedAt: Date;
  completedAt: Date;
  /** The passed variables plus `execution_partition`. */
  variables: Record<string, unknown>;
  blocks: BlockRecord[];
}

export interface RecordedRun {
  pipelineRunId: number;
  /** Block run id per block uuid. */
  blockRunIds: Map<string, number>;
}

/** An instant with microsecond precision, in the two text forms the run needs. */
export interface ExecutionInstant {
  /** Epoch microseconds. */
  micros: number;
  /** The database form, `YYYY-MM-DD HH:MM:SS.ffffff+00:00`. */
  db: string;
  /** ISO 8601 with microseconds, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (the `execution_date` kwarg). */
  iso: string;
  /** Mage's partition form of the date, `YYYYmmddTHHMMSS_ffffff`. */
  partitionDate: string;
}

/**
 * Strictly increasing execution dates in microseconds. `pipeline_run` has one run per (schedule, execution
 * date), and many synchronous calls of one trigger land in the same millisecond.
 */
export class ExecutionClock {
  private last = 0;

  next(): ExecutionInstant {
    this.last = Math.max(Date.now() * 1000, this.last + 1);
    return instant(this.last);
  }
}

function instant(micros: number): ExecutionInstant {
  const ms = Math.floor(micros / 1000);
  const sub = String(micros % 1000).padStart(3, '0');
  // `YYYY-MM-DDTHH:MM:SS.mmm` + the microseconds; the other forms are cut from it (a run without `record`
  // never needs the database form, so it is made on first use).
  const base = new Date(ms).toISOString().slice(0, 23);
  const iso = `${base}${sub}Z`;
  const partitionDate = `${base.slice(0, 4)}${base.slice(5, 7)}${base.slice(8, 10)}T${base.slice(11, 13)}${base.slice(14, 16)}${base.slice(17, 19)}_${base.slice(20, 23)}${sub}`;
  let db: string | undefined;
  return {
    micros,
    iso,
    partitionDate,
    get db() {
      return (db ??= toDbTime(new Date(ms)).replace(/000\+00:00$/, `${sub}+00:00`));
    },
  };
}

const MAX_ATTEMPTS = 5;

/**
 * Inserts the finished run and its block runs atomically. Another server may have used the same execution
 * date for this trigger; the date is then moved on by a microsecond and the insert retried.
 */
export async function recordRun(store: StoreScope, record: RunRecord, clock: ExecutionClock): Promise<RecordedRun> {
  let current = record;
  for (let attempt = 1; ; attempt++) {
    try {
      return store.dialect === 'postgres' ? await insertPg(store, current) : await insertSqlite(store, current);
    } catch (err) {
      if (attempt >= MAX_ATTEMPTS || uniqueViolation(err) === undefined) throw err;
      current = { ...current, executionDate: clock.next() };
    }
  }
}

const dbTimeOrNull = (d: Date | null): string | null => (d ? toDbTime(d) : null);
const jsonOrNull = (v: Record<string, unknown> | null): string | null => (v ? JSON.stringify(v) : null);

async function insertPg(store: StoreScope, r: RunRecord): Promise<RecordedRun> {
  const now = toDbTime(new Date());
  const rows = r.blocks.map(
    (b, i) =>
      sql`(${i}::int, ${b.blockUuid}::text, ${b.status}::text, ${dbTimeOrNull(b.startedAt)}::text, ${dbTimeOrNull(b.completedAt)}::text, ${jsonOrNull(b.metrics)}::text)`,
  );
  const result = await sql<{ id: number; pipeline_run_id: number; block_uuid: string }>`
    WITH r AS (
      INSERT INTO pipeline_run (created_at, updated_at, pipeline_schedule_id, pipeline_uuid, execution_date, status,
                                started_at, completed_at, variables, passed_sla, executor_type)
      VALUES (${now}, ${now}, ${r.pipelineScheduleId}, ${r.pipelineUuid}, ${r.executionDate.db}, ${r.status},
              ${toDbTime(r.startedAt)}, ${toDbTime(r.completedAt)}, ${JSON.stringify(r.variables)}, false, 'local_python')
      RETURNING id
    )
    INSERT INTO block_run (pipeline_run_id, block_uuid, status, started_at, completed_at, metrics, attempts, created_at, updated_at)
    SELECT r.id, v.block_uuid, v.status, v.started_at, v.completed_at, v.metrics, 1, ${now}, ${now}
    FROM r, (VALUES ${sql.join(rows)}) AS v(ord, block_uuid, status, started_at, completed_at, metrics)
    ORDER BY v.ord
    RETURNING id, pipeline_run_id, block_uuid`.execute(store.db);
  if (result.rows.length === 0) throw new Error('recording the run inserted no block run');
  return {
    pipelineRunId: Number(result.rows[0].pipeline_run_id),
    blockRunIds: new Map(result.rows.map((row) => [row.block_uuid, Number(row.id)])),
  };
}

async function insertSqlite(store: StoreScope, r: RunRecord): Promise<RecordedRun> {
  const now = toDbTime(new Date());
  return store.transaction(async ({ db }) => {
    const run = await db
      .insertInto('pipeline_run')
      .values({
        created_at: now,
        updated_at: now,
        pipeline_schedule_id: r.pipelineScheduleId,
        pipeline_uuid: r.pipelineUuid,
        execution_date: r.executionDate.db,
        status: r.status,
        started_at: toDbTime(r.startedAt),
        completed_at: toDbTime(r.completedAt),
        variables: JSON.stringify(r.variables),
        passed_sla: false,
        executor_type: 'local_python',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const blocks = await db
      .insertInto('block_run')
      .values(
        r.blocks.map((b) => ({
          pipeline_run_id: run.id,
          block_uuid: b.blockUuid,
          status: b.status,
          started_at: dbTimeOrNull(b.startedAt),
          completed_at: dbTimeOrNull(b.completedAt),
          metrics: jsonOrNull(b.metrics),
          attempts: 1,
          created_at: now,
          updated_at: now,
        })),
      )
      .returning(['id', 'block_uuid'])
      .execute();
    return { pipelineRunId: Number(run.id), blockRunIds: new Map(blocks.map((b) => [b.block_uuid, Number(b.id)])) };
  });
}
