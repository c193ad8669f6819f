/**
 * `pipeline_run`. One run per (pipeline_schedule_id, execution_date) is enforced by a unique index and
 * reported as DuplicateRunError. Status changes go through `transition`, a single guarded UPDATE.
 */
import { sql, type Kysely, type SelectQueryBuilder, type Selectable } from 'kysely';
import { BlockRunsRepo, type BlockRunRow } from './blockRuns.js';
import { definedOnly, parseJson, toBool, toJson, type JsonObject } from './codec.js';
import { DuplicateRunError, rethrowDuplicate, uniqueViolation } from './errors.js';
import type { Database, PipelineRunTable } from './schema.js';
import { dbTime, nowDbTime, toDbTime, type DbTime, type TimeInput } from './time.js';
import { affected, inTransaction, paged, type ListResult, type Page, type SortDirection } from './tx.js';

export const RUN_STATUSES = ['initial', 'running', 'completed', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface PipelineRunRow {
  id: number;
  created_at: DbTime;
  updated_at: DbTime;
  pipeline_schedule_id: number | null;
  pipeline_uuid: string | null;
  execution_date: DbTime | null;
  status: RunStatus;
  started_at: DbTime | null;
  completed_at: DbTime | null;
  /** Includes `execution_partition` when set at creation. */
  variables: JsonObject | null;
  passed_sla: boolean;
  event_variables: JsonObject | null;
  /** e.g. `{"previous_runtimes": [...]}`. */
  metrics: JsonObject | null;
  backfill_id: number | null;
  executor_type: string | null;
  /** Blockflow: the server instance that runs it. */
  owner_id: string | null;
  /** Blockflow: last sign of life from the owner. */
  heartbeat_at: DbTime | null;
}

export interface NewPipelineRun {
  pipeline_uuid: string;
  pipeline_schedule_id?: number | null;
  execution_date?: TimeInput | null;
  /** Default `initial`. */
  status?: RunStatus;
  started_at?: TimeInput | null;
  completed_at?: TimeInput | null;
  variables?: JsonObject | null;
  passed_sla?: boolean;
  event_variables?: JsonObject | null;
  metrics?: JsonObject | null;
  backfill_id?: number | null;
  /** Default `local_python`, as Mage. */
  executor_type?: string | null;
  owner_id?: string | null;
  heartbeat_at?: TimeInput | null;
}

/** Fields `update` and `transition` may set (status only through `transition`). */
export type PipelineRunPatch = Partial<Omit<NewPipelineRun, 'pipeline_uuid' | 'pipeline_schedule_id' | 'status'>>;

export const RUN_ORDER_COLUMNS = [
  'id',
  'created_at',
  'updated_at',
  'execution_date',
  'started_at',
  'completed_at',
  'status',
  'pipeline_uuid',
  'pipeline_schedule_id',
] as const;
export type RunOrderColumn = (typeof RUN_ORDER_COLUMNS)[number];

export interface PipelineRunListFilter extends Page {
  /** Any of these pipelines (an empty list matches nothing). */
  pipelineUuids?: readonly string[];
  /** Any of these statuses (empty or unset: all). */
  statuses?: readonly RunStatus[];
  /** Only these run ids (an empty list matches nothing). */
  ids?: readonly number[];
  pipelineScheduleId?: number;
  /** Any of these schedules (an empty list matches nothing). */
  pipelineScheduleIds?: readonly number[];
  backfillId?: number;
  /** created_at at or after (Mage's start_timestamp). */
  createdAfter?: TimeInput;
  /** created_at at or before (Mage's end_timestamp). */
  createdBefore?: TimeInput;
  /** Default: execution_date desc, id desc (Mage). id is always the final tie-break. */
  orderBy?: ReadonlyArray<{ column: RunOrderColumn; direction?: SortDirection }>;
}

function toRow(r: Selectable<PipelineRunTable>): PipelineRunRow {
  return {
    ...r,
    status: r.status as RunStatus,
    passed_sla: toBool(r.passed_sla),
    variables: parseJson<JsonObject>(r.variables, 'pipeline_run.variables'),
    event_variables: parseJson<JsonObject>(r.event_variables, 'pipeline_run.event_variables'),
    metrics: parseJson<JsonObject>(r.metrics, 'pipeline_run.metrics'),
  };
}

function toColumns(p: PipelineRunPatch) {
  return definedOnly({
    execution_date: dbTime(p.execution_date),
    started_at: dbTime(p.started_at),
    completed_at: dbTime(p.completed_at),
    variables: toJson(p.variables),
    passed_sla: p.passed_sla,
    event_variables: toJson(p.event_variables),
    metrics: toJson(p.metrics),
    backfill_id: p.backfill_id,
    executor_type: p.executor_type,
    owner_id: p.owner_id,
    heartbeat_at: dbTime(p.heartbeat_at),
  });
}

function checkStatus(status: string): void {
  if (!(RUN_STATUSES as readonly string[]).includes(status)) throw new Error(`unknown pipeline run status ${JSON.stringify(status)}`);
}

type RunQuery<O> = SelectQueryBuilder<Database, 'pipeline_run', O>;

function applyFilters<O>(q: RunQuery<O>, f: PipelineRunListFilter): RunQuery<O> {
  // `IN ()` is invalid SQL, so an empty id list becomes an always-false condition.
  const none = sql<boolean>`1 = 0`;
  if (f.pipelineUuids) q = f.pipelineUuids.length ? q.where('pipeline_uuid', 'in', f.pipelineUuids) : q.where(none);
  if (f.ids) q = f.ids.length ? q.where('id', 'in', f.ids) : q.where(none);
  if (f.pipelineScheduleIds) q = f.pipelineScheduleIds.length ? q.where('pipeline_schedule_id', 'in', f.pipelineScheduleIds) : q.where(none);
  if (f.statuses?.length) q = q.where('status', 'in', f.statuses);
  if (f.pipelineScheduleId !== undefined) q = q.where('pipeline_schedule_id', '=', f.pipelineScheduleId);
  if (f.backfillId !== undefined) q = q.where('backfill_id', '=', f.backfillId);
  // Fixed-width UTC text: comparing as text compares as time.
  if (f.createdAfter !== undefined) q = q.where('created_at', '>=', dbTime(f.createdAfter));
  if (f.createdBefore !== undefined) q = q.where('created_at', '<=', dbTime(f.createdBefore));
  return q;
}

export class PipelineRunsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Throws DuplicateRunError when the schedule already has a run at this execution_date. */
  async create(input: NewPipelineRun): Promise<PipelineRunRow> {
    checkStatus(input.status ?? 'initial');
    const now = nowDbTime();
    const values = {
      ...toColumns(input),
      pipeline_uuid: input.pipeline_uuid,
      pipeline_schedule_id: input.pipeline_schedule_id ?? null,
      status: input.status ?? 'initial',
      executor_type: input.executor_type === undefined ? 'local_python' : input.executor_type,
      passed_sla: input.passed_sla ?? false,
      created_at: now,
      updated_at: now,
    };
    try {
      return toRow(await this.db.insertInto('pipeline_run').values(values).returningAll().executeTakeFirstOrThrow());
    } catch (err) {
      const constraint = uniqueViolation(err);
      if (constraint !== undefined && /pipeline_run_schedule_execution_date_key|pipeline_run\.pipeline_schedule_id/.test(constraint)) {
        throw new DuplicateRunError(values.pipeline_schedule_id!, values.execution_date ?? null, { cause: err });
      }
      rethrowDuplicate(err, 'pipeline_run');
    }
  }

  /** Creates the run and one `initial` block run per block uuid, atomically. */
  async createWithBlockRuns(input: NewPipelineRun, blockUuids: readonly string[]): Promise<{ run: PipelineRunRow; blockRuns: BlockRunRow[] }> {
    return inTransaction(this.db, async (trx) => {
      const run = await new PipelineRunsRepo(trx).create(input);
      const blockRuns = await new BlockRunsRepo(trx).createForRun(run.id, blockUuids);
      return { run, blockRuns };
    });
  }

  async get(id: number): Promise<PipelineRunRow | undefined> {
    const row = await this.db.selectFrom('pipeline_run').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRow(row);
  }

  /** One page of runs and the number matching the filters. */
  async list(filter: PipelineRunListFilter = {}): Promise<ListResult<PipelineRunRow>> {
    let q = applyFilters(this.db.selectFrom('pipeline_run').selectAll(), filter);
    const order = filter.orderBy ?? [{ column: 'execution_date' as const, direction: 'desc' as const }];
    for (const { column, direction } of order) {
      if (!RUN_ORDER_COLUMNS.includes(column)) throw new Error(`cannot order pipeline runs by ${JSON.stringify(column)}`);
      // NULLS LAST on both dialects: pg puts NULLs first in DESC order, SQLite last.
      q = q.orderBy(column, (ob) => (direction === 'desc' ? ob.desc() : ob.asc()).nullsLast());
    }
    q = q.orderBy('id', order.at(-1)?.direction === 'asc' ? 'asc' : 'desc');
    const rows = (await paged(q, filter).execute()).map(toRow);
    const { n } = await applyFilters(
      this.db.selectFrom('pipeline_run').select((eb) => eb.fn.countAll<number>().as('n')),
      filter,
    ).executeTakeFirstOrThrow();
    return { rows, count: n };
  }

  /** Number of runs in any of these statuses. */
  async countByStatus(statuses: readonly RunStatus[]): Promise<number> {
    if (statuses.length === 0) return 0;
    const { n } = await this.db
      .selectFrom('pipeline_run')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', 'in', statuses)
      .executeTakeFirstOrThrow();
    return n;
  }

  /** Sets fields without touching the status. */
  async update(id: number, patch: PipelineRunPatch): Promise<PipelineRunRow | undefined> {
    try {
      const row = await this.db
        .updateTable('pipeline_run')
        .set({ ...toColumns(patch), updated_at: nowDbTime() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row && toRow(row);
    } catch (err) {
      rethrowDuplicate(err, 'pipeline_run');
    }
  }

  /**
   * Moves the run to `to` only if its status is still one of `from`, in ONE statement
   * (UPDATE ... WHERE id = ? AND status IN (...)): of two racing writers (two servers, or the scheduler and a
   * cancel request) exactly one wins. Returns whether this call won.
   */
  async transition(id: number, from: readonly RunStatus[], to: RunStatus, patch: PipelineRunPatch = {}): Promise<boolean> {
    checkStatus(to);
    if (from.length === 0) return false;
    const r = await this.db
      .updateTable('pipeline_run')
      .set({ ...toColumns(patch), status: to, updated_at: nowDbTime() })
      .where('id', '=', id)
      .where('status', 'in', from)
      .executeTakeFirst();
    return affected(r) === 1;
  }

  /** As {@link transition}, returning the run as the update left it (undefined when the guard refused). */
  async transitionReturning(id: number, from: readonly RunStatus[], to: RunStatus, patch: PipelineRunPatch = {}): Promise<PipelineRunRow | undefined> {
    checkStatus(to);
    if (from.length === 0) return undefined;
    const row = await this.db
      .updateTable('pipeline_run')
      .set({ ...toColumns(patch), status: to, updated_at: nowDbTime() })
      .where('id', '=', id)
      .where('status', 'in', from)
      .returningAll()
      .executeTakeFirst();
    return row && toRow(row);
  }

  /** Runs by id, in no particular order; unknown ids are skipped. */
  async getMany(ids: readonly number[]): Promise<PipelineRunRow[]> {
    if (ids.length === 0) return [];
    return (await this.db.selectFrom('pipeline_run').selectAll().where('id', 'in', ids).execute()).map(toRow);
  }

  /** Every pipeline uuid that has runs, sorted (Mage's `include_pipeline_uuids`). */
  async distinctPipelineUuids(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('pipeline_run')
      .select('pipeline_uuid')
      .distinct()
      .where('pipeline_uuid', 'is not', null)
      .orderBy('pipeline_uuid', 'asc')
      .execute();
    return rows.map((r) => r.pipeline_uuid!);
  }

  /**
   * Sets the status without a guard, for operator actions that override whatever state the run is in
   * (Mage's retry_blocks puts a finished run back to running). Prefer `transition` everywhere else.
   */
  async forceStatus(id: number, to: RunStatus, patch: PipelineRunPatch = {}): Promise<PipelineRunRow | undefined> {
    checkStatus(to);
    const row = await this.db
      .updateTable('pipeline_run')
      .set({ ...toColumns(patch), status: to, updated_at: nowDbTime() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toRow(row);
  }

  /** Marks every running run owned by `ownerId` as alive now. Returns how many were touched. */
  async heartbeat(ownerId: string, at: TimeInput = new Date()): Promise<number> {
    const r = await this.db
      .updateTable('pipeline_run')
      .set({ heartbeat_at: dbTime(at) })
      .where('owner_id', '=', ownerId)
      .where('status', '=', 'running')
      .executeTakeFirst();
    return affected(r);
  }

  /**
   * Takes over running runs whose owner has shown no sign of life for `staleSeconds` (its last heartbeat, or
   * its last update when it never sent one): one UPDATE ... RETURNING, so when two servers recover at once
   * each orphan goes to exactly one of them (the loser's re-check sees the fresh heartbeat). Returns the ids.
   */
  async adoptOrphans(ownerId: string, staleSeconds: number, now: Date = new Date()): Promise<number[]> {
    const cutoff = toDbTime(new Date(now.getTime() - staleSeconds * 1000));
    const rows = await this.db
      .updateTable('pipeline_run')
      .set({ owner_id: ownerId, heartbeat_at: toDbTime(now), updated_at: toDbTime(now) })
      .where('status', '=', 'running')
      // Fixed-width UTC text: comparing as text compares as time.
      .where((eb) => eb(eb.fn.coalesce('heartbeat_at', 'updated_at'), '<', cutoff))
      .returning('id')
      .execute();
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  /** Deletes the run; its block runs go with it (ON DELETE CASCADE). */
  async delete(id: number): Promise<boolean> {
    return affected(await this.db.deleteFrom('pipeline_run').where('id', '=', id).executeTakeFirst()) > 0;
  }
}
