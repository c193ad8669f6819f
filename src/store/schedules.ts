/**
 * `pipeline_schedule` (Mage's triggers), their tags (`pipeline_schedule_tag`) and event matcher links.
 * Trigger tokens are stored as `token_hash` (SHA-256 hex); the plain `token` column exists for Mage's shape
 * and stays NULL for rows we create, so reading the database does not give the power to start runs.
 */
import type { ExpressionBuilder, Kysely, SelectQueryBuilder, Selectable } from 'kysely';
import { definedOnly, groupBy, parseJson, toJson, type JsonObject } from './codec.js';
import { EventMatchersRepo, type EventMatcherInput, type EventMatcherRow } from './eventMatchers.js';
import type { Database, PipelineScheduleTable } from './schema.js';
import { dbTime, nowDbTime, type DbTime, type TimeInput } from './time.js';
import { affected, inTransaction, paged, type ListResult, type Page, type SortDirection } from './tx.js';

export type ScheduleType = 'time' | 'event' | 'api';
export type ScheduleStatus = 'active' | 'inactive';

export interface ScheduleRow {
  id: number;
  created_at: DbTime;
  updated_at: DbTime;
  name: string;
  description: string | null;
  pipeline_uuid: string | null;
  schedule_type: string | null;
  start_time: DbTime | null;
  /** `@once`, `@hourly`, `@daily`, `@weekly`, `@monthly`, `@always_on` or a cron expression. */
  schedule_interval: string | null;
  status: string;
  last_enabled_at: DbTime | null;
  variables: JsonObject | null;
  /** Seconds. */
  sla: number | null;
  /** Mage's plain token; NULL for rows created here (see token_hash). */
  token: string | null;
  token_hash: string | null;
  repo_path: string | null;
  settings: JsonObject | null;
  global_data_product_uuid: string | null;
  /** Blockflow: what to do with fire times missed while down. */
  catch_up_policy: string | null;
  /** Blockflow: IANA zone for cron evaluation; null means UTC as Mage. */
  timezone: string | null;
}

export interface NewSchedule {
  /** Required and not blank (Mage rejects an empty name). */
  name: string;
  description?: string | null;
  pipeline_uuid?: string | null;
  schedule_type?: string | null;
  start_time?: TimeInput | null;
  schedule_interval?: string | null;
  /** Default `inactive`. */
  status?: string;
  last_enabled_at?: TimeInput | null;
  variables?: JsonObject | null;
  sla?: number | null;
  token?: string | null;
  token_hash?: string | null;
  repo_path?: string | null;
  settings?: JsonObject | null;
  global_data_product_uuid?: string | null;
  catch_up_policy?: string | null;
  timezone?: string | null;
}

export type SchedulePatch = Partial<NewSchedule>;

/** Columns Mage's list accepts in `order_by`, plus id. */
export const SCHEDULE_ORDER_COLUMNS = ['id', 'created_at', 'name', 'pipeline_uuid', 'status', 'schedule_type'] as const;
export type ScheduleOrderColumn = (typeof SCHEDULE_ORDER_COLUMNS)[number];

export interface ScheduleListFilter extends Page {
  pipelineUuid?: string;
  scheduleType?: readonly string[];
  scheduleInterval?: readonly string[];
  status?: readonly string[];
  /** Schedules carrying any of these tags. */
  tag?: readonly string[];
  globalDataProductUuid?: string;
  /** Default: by id only (idDirection). id is always the final tie-break, so pages are stable. */
  orderBy?: ReadonlyArray<{ column: ScheduleOrderColumn; direction?: SortDirection }>;
  /** Direction of the final id tie-break (default descending, Mage's order under a pipeline). */
  idDirection?: SortDirection;
}

/** Run figures Mage's schedule list shows. */
export interface ScheduleRunStats {
  pipeline_runs_count: number;
  /** Runs in status `running`. */
  pipeline_in_progress_runs_count: number;
  /** Status of the schedule's most recently created run. */
  last_pipeline_run_status: string | null;
}

function toRow(r: Selectable<PipelineScheduleTable>): ScheduleRow {
  return {
    ...r,
    variables: parseJson<JsonObject>(r.variables, 'pipeline_schedule.variables'),
    settings: parseJson<JsonObject>(r.settings, 'pipeline_schedule.settings'),
  };
}

function toColumns(input: SchedulePatch) {
  if (input.name !== undefined && (typeof input.name !== 'string' || input.name.trim() === '')) {
    throw new Error('pipeline_schedule.name must not be empty');
  }
  return definedOnly({
    ...input,
    start_time: dbTime(input.start_time),
    last_enabled_at: dbTime(input.last_enabled_at),
    variables: toJson(input.variables),
    settings: toJson(input.settings),
  });
}

type ScheduleQuery<O> = SelectQueryBuilder<Database, 'pipeline_schedule', O>;

function applyFilters<O>(q: ScheduleQuery<O>, f: ScheduleListFilter): ScheduleQuery<O> {
  if (f.pipelineUuid !== undefined) q = q.where('pipeline_schedule.pipeline_uuid', '=', f.pipelineUuid);
  if (f.scheduleType?.length) q = q.where('pipeline_schedule.schedule_type', 'in', f.scheduleType);
  if (f.scheduleInterval?.length) q = q.where('pipeline_schedule.schedule_interval', 'in', f.scheduleInterval);
  if (f.status?.length) q = q.where('pipeline_schedule.status', 'in', f.status);
  if (f.globalDataProductUuid !== undefined) q = q.where('pipeline_schedule.global_data_product_uuid', '=', f.globalDataProductUuid);
  if (f.tag?.length) {
    const tags = f.tag;
    // A subquery rather than a join, so a schedule with several matching tags is listed (and counted) once.
    q = q.where('pipeline_schedule.id', 'in', (eb: ExpressionBuilder<Database, 'pipeline_schedule'>) =>
      eb.selectFrom('pipeline_schedule_tag').select('pipeline_schedule_tag.pipeline_schedule_id').where('pipeline_schedule_tag.tag', 'in', tags),
    );
  }
  return q;
}

export class SchedulesRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(input: NewSchedule): Promise<ScheduleRow> {
    if (typeof input.name !== 'string') throw new Error('pipeline_schedule.name must not be empty');
    const now = nowDbTime();
    const row = await this.db
      .insertInto('pipeline_schedule')
      .values({ ...toColumns(input), name: input.name, created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRow(row);
  }

  async get(id: number): Promise<ScheduleRow | undefined> {
    const row = await this.db.selectFrom('pipeline_schedule').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRow(row);
  }

  async update(id: number, patch: SchedulePatch): Promise<ScheduleRow | undefined> {
    const row = await this.db
      .updateTable('pipeline_schedule')
      .set({ ...toColumns(patch), updated_at: nowDbTime() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toRow(row);
  }

  /** Deletes the schedule with its tags and matcher links. Its pipeline runs are kept (Mage §3.3). */
  async delete(id: number): Promise<boolean> {
    return affected(await this.db.deleteFrom('pipeline_schedule').where('id', '=', id).executeTakeFirst()) > 0;
  }

  /** One page of schedules and the number matching the filters. */
  async list(filter: ScheduleListFilter = {}): Promise<ListResult<ScheduleRow>> {
    let q = applyFilters(this.db.selectFrom('pipeline_schedule').selectAll(), filter);
    for (const { column, direction } of filter.orderBy ?? []) {
      if (!SCHEDULE_ORDER_COLUMNS.includes(column)) throw new Error(`cannot order schedules by ${JSON.stringify(column)}`);
      q = q.orderBy(column, direction === 'desc' ? 'desc' : 'asc');
    }
    q = q.orderBy('id', filter.idDirection ?? 'desc');
    const rows = (await paged(q, filter).execute()).map(toRow);
    const { n } = await applyFilters(
      this.db.selectFrom('pipeline_schedule').select((eb) => eb.fn.countAll<number>().as('n')),
      filter,
    ).executeTakeFirstOrThrow();
    return { rows, count: n };
  }

  /** Schedules by id, in no particular order; unknown ids are skipped. */
  async getMany(ids: readonly number[]): Promise<ScheduleRow[]> {
    if (ids.length === 0) return [];
    return (await this.db.selectFrom('pipeline_schedule').selectAll().where('id', 'in', ids).execute()).map(toRow);
  }

  /** All schedules of a pipeline, newest first (Mage's nested list order). */
  async listForPipeline(pipelineUuid: string): Promise<ScheduleRow[]> {
    return (await this.list({ pipelineUuid })).rows;
  }

  /** The `api` schedule whose token hashes to `tokenHash`, if any. */
  async findApiScheduleByTokenHash(tokenHash: string): Promise<ScheduleRow | undefined> {
    const row = await this.db
      .selectFrom('pipeline_schedule')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .where('schedule_type', '=', 'api')
      .executeTakeFirst();
    return row && toRow(row);
  }

  async getTags(id: number): Promise<string[]> {
    return (await this.tagsFor([id])).get(id) ?? [];
  }

  /** Tags of each schedule, sorted (schedules without tags are absent). */
  async tagsFor(ids: readonly number[]): Promise<Map<number, string[]>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('pipeline_schedule_tag')
      .selectAll()
      .where('pipeline_schedule_id', 'in', ids)
      .orderBy('tag', 'asc')
      .execute();
    return groupBy(rows, (r) => r.pipeline_schedule_id, (r) => r.tag);
  }

  /** Replaces the schedule's tags (Mage's `tags: [...]` update). Atomic; duplicates and blanks are dropped. */
  async setTags(id: number, tags: readonly string[]): Promise<string[]> {
    const clean = [...new Set(tags.map((t) => String(t).trim()).filter(Boolean))].sort();
    await inTransaction(this.db, async (trx) => {
      await trx.deleteFrom('pipeline_schedule_tag').where('pipeline_schedule_id', '=', id).execute();
      if (clean.length) {
        await trx.insertInto('pipeline_schedule_tag').values(clean.map((tag) => ({ pipeline_schedule_id: id, tag }))).execute();
      }
    });
    return clean;
  }

  /** See EventMatchersRepo.replaceForSchedule: upsert these matchers, link them, unlink the others. */
  async replaceEventMatchers(id: number, matchers: readonly EventMatcherInput[]): Promise<EventMatcherRow[]> {
    return new EventMatchersRepo(this.db).replaceForSchedule(id, matchers);
  }

  /**
   * Run figures for many schedules in one query. Schedules without runs are absent from the map (Mage shows
   * null for all three then).
   */
  async runStats(ids: readonly number[]): Promise<Map<number, ScheduleRunStats>> {
    const out = new Map<number, ScheduleRunStats>();
    if (ids.length === 0) return out;
    const rows = await this.db
      .selectFrom('pipeline_run as r')
      .where('r.pipeline_schedule_id', 'in', ids)
      .groupBy('r.pipeline_schedule_id')
      .select((eb) => [
        'r.pipeline_schedule_id',
        eb.fn.countAll<number>().as('runs'),
        // count() skips the NULLs the CASE yields for other statuses.
        eb.fn.count<number>(eb.case().when('r.status', '=', 'running').then(1).end()).as('running'),
        // Correlated on the grouped column: the latest-created run's status per schedule.
        eb
          .selectFrom('pipeline_run as last')
          .select('last.status')
          .whereRef('last.pipeline_schedule_id', '=', 'r.pipeline_schedule_id')
          .orderBy('last.id', 'desc')
          .limit(1)
          .as('last_status'),
      ])
      .execute();
    for (const r of rows) {
      out.set(r.pipeline_schedule_id!, {
        pipeline_runs_count: r.runs,
        pipeline_in_progress_runs_count: r.running,
        last_pipeline_run_status: r.last_status ?? null,
      });
    }
    return out;
  }
}
