/** `block_run`: one row per block of a pipeline run. Status changes go through guarded transitions. */
import { sql, type Kysely, type SelectQueryBuilder, type Selectable } from 'kysely';
import { definedOnly, parseJson, toJson, type JsonObject } from './codec.js';
import type { BlockRunTable, Database } from './schema.js';
import { dbTime, nowDbTime, type DbTime, type TimeInput } from './time.js';
import { affected, inTransaction, paged, type ListResult, type Page, type SortDirection } from './tx.js';

export const BLOCK_RUN_STATUSES = [
  'initial',
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
  'upstream_failed',
  'condition_failed',
] as const;
export type BlockRunStatus = (typeof BLOCK_RUN_STATUSES)[number];

export interface BlockRunRow {
  id: number;
  created_at: DbTime;
  updated_at: DbTime;
  pipeline_run_id: number;
  block_uuid: string;
  status: BlockRunStatus;
  started_at: DbTime | null;
  completed_at: DbTime | null;
  /** On failure `{"error": {...}}`; dynamic-block bookkeeping also lives here. */
  metrics: JsonObject | null;
  /** Blockflow: how many times the block has been started. */
  attempts: number;
  /** Blockflow: earliest time a retry may start. */
  next_attempt_at: DbTime | null;
  /** Blockflow: the server instance running this block. */
  owner_id: string | null;
}

/** Fields a transition or update may set along with (or instead of) the status. */
export interface BlockRunPatch {
  started_at?: TimeInput | null;
  completed_at?: TimeInput | null;
  metrics?: JsonObject | null;
  attempts?: number;
  next_attempt_at?: TimeInput | null;
  owner_id?: string | null;
}

export interface BlockRunListFilter extends Page {
  pipelineRunId?: number;
  /** Any of these runs (an empty list matches nothing). */
  pipelineRunIds?: readonly number[];
  /** Block runs of runs of this pipeline. */
  pipelineUuid?: string;
  /** Any of these statuses (empty or unset: all). */
  statuses?: readonly BlockRunStatus[];
  /** Any of these blocks (empty or unset: all). */
  blockUuids?: readonly string[];
  /** Default: created_at, then id, ascending. */
  orderBy?: ReadonlyArray<{ column: 'id' | 'created_at' | 'started_at' | 'completed_at' | 'block_uuid' | 'status'; direction?: SortDirection }>;
}

const ORDER_COLUMNS = new Set(['id', 'created_at', 'started_at', 'completed_at', 'block_uuid', 'status']);

export function toBlockRunRow(r: Selectable<BlockRunTable>): BlockRunRow {
  return { ...r, status: r.status as BlockRunStatus, metrics: parseJson<JsonObject>(r.metrics, 'block_run.metrics') };
}

function toColumns(p: BlockRunPatch) {
  return definedOnly({
    started_at: dbTime(p.started_at),
    completed_at: dbTime(p.completed_at),
    metrics: toJson(p.metrics),
    attempts: p.attempts,
    next_attempt_at: dbTime(p.next_attempt_at),
    owner_id: p.owner_id,
  });
}

/**
 * The columns of a status change: a block run that ends completed or failed always has metrics, `{}` when none
 * were set (Mage's on_block_complete / on_block_failure write `block_run.metrics or {}`).
 */
function transitionColumns(p: BlockRunPatch, to: BlockRunStatus) {
  const columns = toColumns(p);
  if ((to === 'completed' || to === 'failed') && p.metrics === undefined) return { ...columns, metrics: sql<string>`coalesce(metrics, '{}')` };
  return columns;
}

type BlockRunQuery<O> = SelectQueryBuilder<Database, 'block_run', O>;

function applyFilters<O>(q: BlockRunQuery<O>, f: BlockRunListFilter): BlockRunQuery<O> {
  if (f.pipelineRunId !== undefined) q = q.where('pipeline_run_id', '=', f.pipelineRunId);
  // `IN ()` is invalid SQL, so an empty id list becomes an always-false condition.
  if (f.pipelineRunIds) q = f.pipelineRunIds.length ? q.where('pipeline_run_id', 'in', f.pipelineRunIds) : q.where(sql<boolean>`1 = 0`);
  if (f.pipelineUuid !== undefined) {
    const uuid = f.pipelineUuid;
    q = q.where('pipeline_run_id', 'in', (eb) => eb.selectFrom('pipeline_run').select('pipeline_run.id').where('pipeline_run.pipeline_uuid', '=', uuid));
  }
  if (f.statuses?.length) q = q.where('status', 'in', f.statuses);
  if (f.blockUuids?.length) q = q.where('block_uuid', 'in', f.blockUuids);
  return q;
}

function checkStatus(status: string): void {
  if (!(BLOCK_RUN_STATUSES as readonly string[]).includes(status)) throw new Error(`unknown block run status ${JSON.stringify(status)}`);
}

export class BlockRunsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Adds block runs (status `initial`) to a pipeline run, in the given order. */
  async createForRun(pipelineRunId: number, blockUuids: readonly string[]): Promise<BlockRunRow[]> {
    if (blockUuids.length === 0) return [];
    const now = nowDbTime();
    const rows = await this.db
      .insertInto('block_run')
      .values(blockUuids.map((block_uuid) => ({ pipeline_run_id: pipelineRunId, block_uuid, status: 'initial', created_at: now, updated_at: now })))
      .returningAll()
      .execute();
    return rows.map(toBlockRunRow).sort((a, b) => a.id - b.id);
  }

  async create(pipelineRunId: number, blockUuid: string, status: BlockRunStatus = 'initial'): Promise<BlockRunRow> {
    checkStatus(status);
    const now = nowDbTime();
    const row = await this.db
      .insertInto('block_run')
      .values({ pipeline_run_id: pipelineRunId, block_uuid: blockUuid, status, created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toBlockRunRow(row);
  }

  async get(id: number): Promise<BlockRunRow | undefined> {
    const row = await this.db.selectFrom('block_run').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toBlockRunRow(row);
  }

  /** One page of block runs and the number matching the filters. */
  async list(filter: BlockRunListFilter = {}): Promise<ListResult<BlockRunRow>> {
    let q = applyFilters(this.db.selectFrom('block_run').selectAll(), filter);
    for (const { column, direction } of filter.orderBy ?? [{ column: 'created_at' as const }]) {
      if (!ORDER_COLUMNS.has(column)) throw new Error(`cannot order block runs by ${JSON.stringify(column)}`);
      // NULLS LAST on both dialects: pg puts NULLs first in DESC order, SQLite last.
      q = q.orderBy(column, (ob) => (direction === 'desc' ? ob.desc() : ob.asc()).nullsLast());
    }
    q = q.orderBy('id', 'asc');
    const rows = (await paged(q, filter).execute()).map(toBlockRunRow);
    const { n } = await applyFilters(
      this.db.selectFrom('block_run').select((eb) => eb.fn.countAll<number>().as('n')),
      filter,
    ).executeTakeFirstOrThrow();
    return { rows, count: n };
  }

  /** A run's block runs in creation order. */
  async listForRun(pipelineRunId: number): Promise<BlockRunRow[]> {
    return (await this.list({ pipelineRunId })).rows;
  }

  /** The block runs of many runs in creation order (callers group by pipeline_run_id). */
  async listForRuns(pipelineRunIds: readonly number[]): Promise<BlockRunRow[]> {
    if (pipelineRunIds.length === 0) return [];
    return (await this.list({ pipelineRunIds })).rows;
  }

  async countForRun(pipelineRunId: number): Promise<number> {
    const { n } = await this.db
      .selectFrom('block_run')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('pipeline_run_id', '=', pipelineRunId)
      .executeTakeFirstOrThrow();
    return n;
  }

  /** Sets fields without touching the status (metrics, heartbeat-like bookkeeping). */
  async update(id: number, patch: BlockRunPatch): Promise<BlockRunRow | undefined> {
    const row = await this.db
      .updateTable('block_run')
      .set({ ...toColumns(patch), updated_at: nowDbTime() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toBlockRunRow(row);
  }

  /**
   * Moves one block run to `to` only if its status is still one of `from`, in ONE statement
   * (UPDATE ... WHERE id = ? AND status IN (...)), so of two racing writers exactly one wins. Returns whether
   * this call won.
   */
  async transition(id: number, from: readonly BlockRunStatus[], to: BlockRunStatus, patch: BlockRunPatch = {}): Promise<boolean> {
    checkStatus(to);
    if (from.length === 0) return false;
    const r = await this.db
      .updateTable('block_run')
      .set({ ...transitionColumns(patch, to), status: to, updated_at: nowDbTime() })
      .where('id', '=', id)
      .where('status', 'in', from)
      .executeTakeFirst();
    return affected(r) === 1;
  }

  /**
   * A dynamic block's run finishing: the guarded transition of `id` (as `transition`) and, only if it won, the
   * block runs it spawns (status `initial`, with their metrics), in ONE transaction, so the run is never seen
   * completed without its children (the planner would end the pipeline run) nor children created twice by two
   * racing writers. Children whose uuid the pipeline run already has are not created again (Mage's
   * skip_if_exists, e.g. after retry_blocks). Returns whether the transition won.
   */
  async transitionWithChildren(
    id: number,
    from: readonly BlockRunStatus[],
    to: BlockRunStatus,
    patch: BlockRunPatch,
    children: ReadonlyArray<{ block_uuid: string; metrics: JsonObject }>,
  ): Promise<boolean> {
    // Nothing to spawn (every block but a completed dynamic one): the plain one-statement transition.
    if (children.length === 0) return this.transition(id, from, to, patch);
    checkStatus(to);
    if (from.length === 0) return false;
    return inTransaction(this.db, async (trx) => {
      const r = await trx
        .updateTable('block_run')
        .set({ ...transitionColumns(patch, to), status: to, updated_at: nowDbTime() })
        .where('id', '=', id)
        .where('status', 'in', from)
        .returning(['pipeline_run_id'])
        .executeTakeFirst();
      if (!r) return false;
      const existing = await trx.selectFrom('block_run').select('block_uuid').where('pipeline_run_id', '=', r.pipeline_run_id).execute();
      const have = new Set(existing.map((e) => e.block_uuid));
      const now = nowDbTime();
      const rows = children
        .filter((c) => !have.has(c.block_uuid))
        .map((c) => ({ pipeline_run_id: r.pipeline_run_id, block_uuid: c.block_uuid, status: 'initial', metrics: toJson(c.metrics), created_at: now, updated_at: now }));
      // In slices: one INSERT binds 7 values a row, and SQLite caps the bound values of a statement.
      for (let i = 0; i < rows.length; i += 500) await trx.insertInto('block_run').values(rows.slice(i, i + 500)).execute();
      return true;
    });
  }

  /** The guarded transition for every block run of a pipeline run (e.g. cancel). Returns how many moved. */
  async transitionAll(pipelineRunId: number, from: readonly BlockRunStatus[], to: BlockRunStatus, patch: BlockRunPatch = {}): Promise<number> {
    checkStatus(to);
    if (from.length === 0) return 0;
    const r = await this.db
      .updateTable('block_run')
      .set({ ...transitionColumns(patch, to), status: to, updated_at: nowDbTime() })
      .where('pipeline_run_id', '=', pipelineRunId)
      .where('status', 'in', from)
      .executeTakeFirst();
    return affected(r);
  }

  /**
   * Puts a run's in-flight block runs (queued, running) back to `initial`, after their server died.
   * Returns how many were reset.
   */
  async resetUnfinished(pipelineRunId: number): Promise<number> {
    return this.transitionAll(pipelineRunId, ['queued', 'running'], 'initial', { started_at: null, owner_id: null });
  }

  /** Puts these block runs back to `initial` whatever their status (Mage's retry_blocks). Returns how many. */
  async resetToInitial(ids: readonly number[]): Promise<number> {
    if (ids.length === 0) return 0;
    const r = await this.db
      .updateTable('block_run')
      .set({ status: 'initial', started_at: null, completed_at: null, next_attempt_at: null, owner_id: null, updated_at: nowDbTime() })
      .where('id', 'in', ids)
      .executeTakeFirst();
    return affected(r);
  }

  /** Records that attempt number `attempts` (1-based) of the block has started. */
  async recordAttempt(id: number, attempts: number): Promise<boolean> {
    const r = await this.db.updateTable('block_run').set({ attempts, updated_at: nowDbTime() }).where('id', '=', id).executeTakeFirst();
    return affected(r) > 0;
  }

  /** Block run totals and completed counts per pipeline run, in one query (runs without block runs are absent). */
  async countsByRun(pipelineRunIds: readonly number[]): Promise<Map<number, { block_runs_count: number; completed_block_runs_count: number }>> {
    const out = new Map<number, { block_runs_count: number; completed_block_runs_count: number }>();
    if (pipelineRunIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('block_run')
      .where('pipeline_run_id', 'in', pipelineRunIds)
      .groupBy('pipeline_run_id')
      .select((eb) => [
        'pipeline_run_id',
        eb.fn.countAll<number>().as('total'),
        // count() skips the NULLs the CASE yields for other statuses.
        eb.fn.count<number>(eb.case().when('status', '=', 'completed').then(1).end()).as('completed'),
      ])
      .execute();
    for (const r of rows) out.set(r.pipeline_run_id, { block_runs_count: r.total, completed_block_runs_count: r.completed });
    return out;
  }
}
