/** `backfill` (mage-api.md §3.13): a range of execution dates to run a pipeline for. */
import type { Kysely, SelectQueryBuilder, Selectable } from 'kysely';
import { definedOnly, parseJson, toJson, type JsonObject } from './codec.js';
import type { BackfillTable, Database } from './schema.js';
import { dbTime, nowDbTime, type DbTime, type TimeInput } from './time.js';
import { affected, paged, type ListResult, type Page } from './tx.js';

export const BACKFILL_STATUSES = ['initial', 'running', 'completed', 'failed', 'cancelled'] as const;
export type BackfillStatus = (typeof BACKFILL_STATUSES)[number];
export const BACKFILL_INTERVAL_TYPES = ['second', 'minute', 'hour', 'day', 'week', 'month', 'year', 'custom'] as const;

export interface BackfillRow {
  id: number;
  created_at: DbTime;
  updated_at: DbTime;
  name: string | null;
  pipeline_uuid: string | null;
  pipeline_schedule_id: number | null;
  block_uuid: string | null;
  start_datetime: DbTime | null;
  end_datetime: DbTime | null;
  /** One of BACKFILL_INTERVAL_TYPES. */
  interval_type: string | null;
  interval_units: number | null;
  settings: JsonObject | null;
  variables: JsonObject | null;
  /** Null until started (Mage creates backfills without a status). */
  status: BackfillStatus | null;
  started_at: DbTime | null;
  completed_at: DbTime | null;
  failed_at: DbTime | null;
  metrics: JsonObject | null;
}

export interface NewBackfill {
  name?: string | null;
  pipeline_uuid?: string | null;
  pipeline_schedule_id?: number | null;
  block_uuid?: string | null;
  start_datetime?: TimeInput | null;
  end_datetime?: TimeInput | null;
  interval_type?: string | null;
  interval_units?: number | null;
  settings?: JsonObject | null;
  variables?: JsonObject | null;
  status?: BackfillStatus | null;
  started_at?: TimeInput | null;
  completed_at?: TimeInput | null;
  failed_at?: TimeInput | null;
  metrics?: JsonObject | null;
}

export type BackfillPatch = Omit<NewBackfill, 'status'>;

export interface BackfillListFilter extends Page {
  pipelineUuid?: string;
  status?: readonly BackfillStatus[];
}

function toRow(r: Selectable<BackfillTable>): BackfillRow {
  return {
    ...r,
    status: r.status as BackfillStatus | null,
    settings: parseJson<JsonObject>(r.settings, 'backfill.settings'),
    variables: parseJson<JsonObject>(r.variables, 'backfill.variables'),
    metrics: parseJson<JsonObject>(r.metrics, 'backfill.metrics'),
  };
}

function toColumns(input: NewBackfill) {
  if (input.interval_type != null && !(BACKFILL_INTERVAL_TYPES as readonly string[]).includes(input.interval_type)) {
    throw new Error(`backfill interval_type must be one of ${BACKFILL_INTERVAL_TYPES.join(', ')}; got ${JSON.stringify(input.interval_type)}`);
  }
  if (input.status != null) checkStatus(input.status);
  return definedOnly({
    ...input,
    start_datetime: dbTime(input.start_datetime),
    end_datetime: dbTime(input.end_datetime),
    started_at: dbTime(input.started_at),
    completed_at: dbTime(input.completed_at),
    failed_at: dbTime(input.failed_at),
    settings: toJson(input.settings),
    variables: toJson(input.variables),
    metrics: toJson(input.metrics),
  });
}

function checkStatus(status: string): void {
  if (!(BACKFILL_STATUSES as readonly string[]).includes(status)) throw new Error(`unknown backfill status ${JSON.stringify(status)}`);
}

type BackfillQuery<O> = SelectQueryBuilder<Database, 'backfill', O>;

function applyFilters<O>(q: BackfillQuery<O>, f: BackfillListFilter): BackfillQuery<O> {
  if (f.pipelineUuid !== undefined) q = q.where('pipeline_uuid', '=', f.pipelineUuid);
  if (f.status?.length) q = q.where('status', 'in', f.status);
  return q;
}

export class BackfillsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(input: NewBackfill): Promise<BackfillRow> {
    const now = nowDbTime();
    const row = await this.db
      .insertInto('backfill')
      .values({ ...toColumns(input), created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRow(row);
  }

  async get(id: number): Promise<BackfillRow | undefined> {
    const row = await this.db.selectFrom('backfill').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRow(row);
  }

  /** Newest first, with the number matching the filters. */
  async list(filter: BackfillListFilter = {}): Promise<ListResult<BackfillRow>> {
    const q = applyFilters(this.db.selectFrom('backfill').selectAll(), filter).orderBy('id', 'desc');
    const rows = (await paged(q, filter).execute()).map(toRow);
    const { n } = await applyFilters(
      this.db.selectFrom('backfill').select((eb) => eb.fn.countAll<number>().as('n')),
      filter,
    ).executeTakeFirstOrThrow();
    return { rows, count: n };
  }

  /** Sets fields without touching the status. */
  async update(id: number, patch: BackfillPatch): Promise<BackfillRow | undefined> {
    const { status: _ignored, ...rest } = patch as NewBackfill;
    const row = await this.db
      .updateTable('backfill')
      .set({ ...toColumns(rest), updated_at: nowDbTime() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toRow(row);
  }

  /**
   * Moves the backfill to `to` only if its status is one of `from` (`null` matches a never-started
   * backfill), in one UPDATE, so concurrent start/cancel requests cannot both win. Returns whether this won.
   */
  async transition(id: number, from: ReadonlyArray<BackfillStatus | null>, to: BackfillStatus, patch: BackfillPatch = {}): Promise<boolean> {
    checkStatus(to);
    const statuses = from.filter((s): s is BackfillStatus => s !== null);
    const fromNull = from.includes(null);
    if (!statuses.length && !fromNull) return false;
    const r = await this.db
      .updateTable('backfill')
      .set({ ...toColumns(patch), status: to, updated_at: nowDbTime() })
      .where('id', '=', id)
      // `IN` never matches NULL, so a never-started backfill needs its own IS NULL arm.
      .where((eb) => {
        const arms = [];
        if (statuses.length) arms.push(eb('status', 'in', statuses));
        if (fromNull) arms.push(eb('status', 'is', null));
        return eb.or(arms);
      })
      .executeTakeFirst();
    return affected(r) === 1;
  }

  async delete(id: number): Promise<boolean> {
    return affected(await this.db.deleteFrom('backfill').where('id', '=', id).executeTakeFirst()) > 0;
  }
}
