/**
 * The scheduler's own reads and guarded writes, batched so that one wake-up costs a few queries however many
 * triggers are due. They use the store's Kysely handle; the tables are the store's.
 */

import type { StoreScope } from '../store/db.js';
import { dbTime, fromDbTime, nowDbTime, type DbTime } from '../store/time.js';

const CHUNK = 500;

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `<schedule id>|<execution date>` keys of the runs these schedules have at or after `since`. */
export async function runKeysSince(store: StoreScope, scheduleIds: readonly number[], since: Date): Promise<Set<string>> {
  const out = new Set<string>();
  const from = dbTime(since);
  for (const ids of chunks(scheduleIds)) {
    const rows = await store.db
      .selectFrom('pipeline_run')
      .select(['pipeline_schedule_id', 'execution_date'])
      .where('pipeline_schedule_id', 'in', ids)
      .where('execution_date', '>=', from)
      .execute();
    for (const r of rows) out.add(runKey(r.pipeline_schedule_id!, r.execution_date!));
  }
  return out;
}

export function runKey(scheduleId: number, executionDate: DbTime | Date): string {
  return `${scheduleId}|${dbTime(executionDate)}`;
}

/** The latest execution date of each schedule's runs (schedules without runs are absent). */
export async function lastExecutionDates(store: StoreScope, scheduleIds: readonly number[]): Promise<Map<number, Date>> {
  const out = new Map<number, Date>();
  for (const ids of chunks(scheduleIds)) {
    const rows = await store.db
      .selectFrom('pipeline_run')
      .select((eb) => ['pipeline_schedule_id', eb.fn.max('execution_date').as('last')])
      .where('pipeline_schedule_id', 'in', ids)
      .groupBy('pipeline_schedule_id')
      .execute();
    for (const r of rows) if (r.last) out.set(r.pipeline_schedule_id!, fromDbTime(r.last as string));
  }
  return out;
}

/** Runs waiting to start: `initial` runs of the pipeline's active triggers, oldest execution date first. */
export async function waitingRuns(store: StoreScope, pipelineUuid: string): Promise<Array<{ id: number; pipeline_schedule_id: number }>> {
  const rows = await store.db
    .selectFrom('pipeline_run as r')
    .innerJoin('pipeline_schedule as s', 's.id', 'r.pipeline_schedule_id')
    .select(['r.id', 'r.pipeline_schedule_id'])
    .where('r.pipeline_uuid', '=', pipelineUuid)
    .where('r.status', '=', 'initial')
    .where('s.status', '=', 'active')
    .orderBy('r.execution_date', 'asc')
    .orderBy('r.id', 'asc')
    .execute();
  return rows.map((r) => ({ id: r.id, pipeline_schedule_id: r.pipeline_schedule_id! }));
}

/** Running runs of a pipeline, in total and per trigger. */
export async function runningCounts(store: StoreScope, pipelineUuid: string): Promise<{ total: number; bySchedule: Map<number, number> }> {
  const rows = await store.db
    .selectFrom('pipeline_run')
    .select((eb) => ['pipeline_schedule_id', eb.fn.countAll<number>().as('n')])
    .where('pipeline_uuid', '=', pipelineUuid)
    .where('status', '=', 'running')
    .groupBy('pipeline_schedule_id')
    .execute();
  const bySchedule = new Map<number, number>();
  let total = 0;
  for (const r of rows) {
    total += Number(r.n);
    if (r.pipeline_schedule_id !== null) bySchedule.set(r.pipeline_schedule_id, Number(r.n));
  }
  return { total, bySchedule };
}

/** Whether the trigger has a run in `initial` or `running` other than `exceptRunId`. */
export async function hasActiveRun(store: StoreScope, scheduleId: number, exceptRunId: number): Promise<boolean> {
  const row = await store.db
    .selectFrom('pipeline_run')
    .select('id')
    .where('pipeline_schedule_id', '=', scheduleId)
    .where('status', 'in', ['initial', 'running'])
    .where('id', '!=', exceptRunId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Pipelines that have runs waiting in `initial` under an active trigger. */
export async function pipelinesWithWaitingRuns(store: StoreScope): Promise<string[]> {
  const rows = await store.db
    .selectFrom('pipeline_run as r')
    .innerJoin('pipeline_schedule as s', 's.id', 'r.pipeline_schedule_id')
    .select('r.pipeline_uuid')
    .distinct()
    .where('r.status', '=', 'initial')
    .where('s.status', '=', 'active')
    .execute();
  return rows.map((r) => r.pipeline_uuid!).filter(Boolean);
}

/** In-progress runs of triggers with an SLA that have not passed it yet, with their deadline. */
export async function slaCandidates(store: StoreScope): Promise<Array<{ runId: number; scheduleId: number; deadline: Date }>> {
  const rows = await store.db
    .selectFrom('pipeline_run as r')
    .innerJoin('pipeline_schedule as s', 's.id', 'r.pipeline_schedule_id')
    .select(['r.id', 'r.pipeline_schedule_id', 'r.execution_date', 'r.created_at', 's.sla'])
    .where('r.status', 'in', ['initial', 'running'])
    .where('r.passed_sla', '=', false)
    .where('s.sla', '>', 0)
    .execute();
  return rows.map((r) => ({
    runId: r.id,
    scheduleId: r.pipeline_schedule_id!,
    deadline: new Date(fromDbTime(r.execution_date ?? r.created_at).getTime() + Number(r.sla) * 1000),
  }));
}

/**
 * Sets `passed_sla` on a run still in progress, once: of several servers only the first gets true, so the
 * notification goes out once.
 */
export async function markPassedSla(store: StoreScope, runId: number): Promise<boolean> {
  const r = await store.db
    .updateTable('pipeline_run')
    .set({ passed_sla: true, updated_at: nowDbTime() })
    .where('id', '=', runId)
    .where('status', 'in', ['initial', 'running'])
    .where('passed_sla', '=', false)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** A cheap fingerprint of the trigger table: it changes whenever a trigger is created, updated or deleted. */
export async function schedulesFingerprint(store: StoreScope): Promise<string> {
  const row = await store.db
    .selectFrom('pipeline_schedule')
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('updated_at').as('u'), eb.fn.max('id').as('m')])
    .executeTakeFirstOrThrow();
  return `${row.n}|${row.u ?? ''}|${row.m ?? ''}`;
}

/** Runs of a backfill by status. */
export async function backfillRunCounts(store: StoreScope, backfillId: number): Promise<Record<string, number>> {
  const rows = await store.db
    .selectFrom('pipeline_run')
    .select((eb) => ['status', eb.fn.countAll<number>().as('n')])
    .where('backfill_id', '=', backfillId)
    .groupBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** A schedule by pipeline and name (the key triggers.yaml syncs on). */
export async function scheduleIdByName(store: StoreScope, pipelineUuid: string, name: string): Promise<number | undefined> {
  const row = await store.db
    .selectFrom('pipeline_schedule')
    .select('id')
    .where('pipeline_uuid', '=', pipelineUuid)
    .where('name', '=', name)
    .orderBy('id', 'asc')
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}

/** Runs of a backfill still initial or running. */
export async function activeBackfillRunIds(store: StoreScope, backfillId: number): Promise<number[]> {
  const rows = await store.db
    .selectFrom('pipeline_run')
    .select('id')
    .where('backfill_id', '=', backfillId)
    .where('status', 'in', ['initial', 'running'])
    .execute();
  return rows.map((r) => r.id);
}


/** Whether the pipeline has a run waiting to start under an active trigger (see waitingRuns). */
export async function hasWaitingRun(store: StoreScope, pipelineUuid: string): Promise<boolean> {
  const row = await store.db
    .selectFrom('pipeline_run as r')
    .innerJoin('pipeline_schedule as s', 's.id', 'r.pipeline_schedule_id')
    .select('r.id')
    .where('r.pipeline_uuid', '=', pipelineUuid)
    .where('r.status', '=', 'initial')
    .where('s.status', '=', 'active')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
