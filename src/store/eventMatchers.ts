/**
 * `event_matcher` and its link table `pipeline_schedule_event_matcher` (many to many, as in Mage): event
 * triggers start a schedule when an incoming event matches one of its matchers' patterns.
 */
import type { Kysely, Selectable } from 'kysely';
import { definedOnly, groupBy, parseJson, toJson, type JsonObject } from './codec.js';
import type { Database, EventMatcherTable } from './schema.js';
import { nowDbTime, type DbTime } from './time.js';
import { affected, inTransaction } from './tx.js';

export interface EventMatcherRow {
  id: number;
  created_at: DbTime;
  updated_at: DbTime;
  /** e.g. `aws_event`. */
  event_type: string | null;
  name: string | null;
  /** Every key must match; a list value means "any of". */
  pattern: JsonObject | null;
  repo_path: string | null;
}

export interface EventMatcherInput {
  /** Set to update (and link) an existing matcher; unset to create one. */
  id?: number;
  event_type?: string | null;
  name?: string | null;
  pattern?: JsonObject | null;
  repo_path?: string | null;
}

function toRow(r: Selectable<EventMatcherTable>): EventMatcherRow {
  return { ...r, pattern: parseJson<JsonObject>(r.pattern, 'event_matcher.pattern') };
}

function toColumns(input: Omit<EventMatcherInput, 'id'>) {
  return definedOnly({
    event_type: input.event_type,
    name: input.name,
    pattern: toJson(input.pattern),
    repo_path: input.repo_path,
  });
}

export class EventMatchersRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(input: Omit<EventMatcherInput, 'id'>): Promise<EventMatcherRow> {
    const now = nowDbTime();
    const row = await this.db
      .insertInto('event_matcher')
      .values({ ...toColumns(input), created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRow(row);
  }

  async get(id: number): Promise<EventMatcherRow | undefined> {
    const row = await this.db.selectFrom('event_matcher').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRow(row);
  }

  /** All matchers, optionally of one event type, by id. */
  async list(filter: { eventType?: string } = {}): Promise<EventMatcherRow[]> {
    let q = this.db.selectFrom('event_matcher').selectAll().orderBy('id', 'asc');
    if (filter.eventType !== undefined) q = q.where('event_type', '=', filter.eventType);
    return (await q.execute()).map(toRow);
  }

  async update(id: number, patch: Omit<EventMatcherInput, 'id'>): Promise<EventMatcherRow | undefined> {
    const row = await this.db
      .updateTable('event_matcher')
      .set({ ...toColumns(patch), updated_at: nowDbTime() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toRow(row);
  }

  /** Deletes the matcher and its links. */
  async delete(id: number): Promise<boolean> {
    return affected(await this.db.deleteFrom('event_matcher').where('id', '=', id).executeTakeFirst()) > 0;
  }

  /**
   * Links the matcher to exactly these schedules (Mage's legacy `pipeline_schedule_ids`), unlinking the others.
   * Atomic. The caller checks that the schedules exist (the foreign key refuses unknown ids).
   */
  async setSchedules(matcherId: number, scheduleIds: readonly number[]): Promise<void> {
    const ids = [...new Set(scheduleIds)];
    await inTransaction(this.db, async (trx) => {
      await trx.deleteFrom('pipeline_schedule_event_matcher').where('event_matcher_id', '=', matcherId).execute();
      if (ids.length) {
        await trx
          .insertInto('pipeline_schedule_event_matcher')
          .values(ids.map((pipeline_schedule_id) => ({ pipeline_schedule_id, event_matcher_id: matcherId })))
          .execute();
      }
    });
  }

  /** The matchers linked to each schedule (schedules without matchers are absent from the map). */
  async forSchedules(scheduleIds: readonly number[]): Promise<Map<number, EventMatcherRow[]>> {
    if (scheduleIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('pipeline_schedule_event_matcher as l')
      .innerJoin('event_matcher as m', 'm.id', 'l.event_matcher_id')
      .selectAll('m')
      .select('l.pipeline_schedule_id')
      .where('l.pipeline_schedule_id', 'in', scheduleIds)
      .orderBy('m.id', 'asc')
      .execute();
    return groupBy(rows, (r) => r.pipeline_schedule_id, ({ pipeline_schedule_id: _, ...m }) => toRow(m));
  }

  /** The schedules linked to each matcher (for dispatching an incoming event). */
  async scheduleIdsFor(matcherIds: readonly number[]): Promise<Map<number, number[]>> {
    if (matcherIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('pipeline_schedule_event_matcher')
      .selectAll()
      .where('event_matcher_id', 'in', matcherIds)
      .orderBy('pipeline_schedule_id', 'asc')
      .execute();
    return groupBy(rows, (r) => r.event_matcher_id, (r) => r.pipeline_schedule_id);
  }

  /**
   * Mage's `event_matchers: [...]` update: matchers with an id are updated and linked, matchers without one are
   * created and linked, and the schedule's other matchers are unlinked (not deleted: they may serve other
   * schedules). Atomic. Returns the schedule's matchers afterwards. Throws when an id names no matcher.
   */
  async replaceForSchedule(scheduleId: number, matchers: readonly EventMatcherInput[]): Promise<EventMatcherRow[]> {
    return inTransaction(this.db, async (trx) => {
      const repo = new EventMatchersRepo(trx);
      const keep: number[] = [];
      for (const { id, ...fields } of matchers) {
        const row = id === undefined ? await repo.create(fields) : await repo.update(id, fields);
        if (!row) throw new Error(`event matcher ${id} does not exist`);
        keep.push(row.id);
      }
      let unlink = trx.deleteFrom('pipeline_schedule_event_matcher').where('pipeline_schedule_id', '=', scheduleId);
      if (keep.length) unlink = unlink.where('event_matcher_id', 'not in', keep);
      await unlink.execute();
      if (keep.length) {
        await trx
          .insertInto('pipeline_schedule_event_matcher')
          .values([...new Set(keep)].map((event_matcher_id) => ({ pipeline_schedule_id: scheduleId, event_matcher_id })))
          // Links that already exist stay as they are.
          .onConflict((oc) => oc.columns(['pipeline_schedule_id', 'event_matcher_id']).doNothing())
          .execute();
      }
      return (await repo.forSchedules([scheduleId])).get(scheduleId) ?? [];
    });
  }
}
