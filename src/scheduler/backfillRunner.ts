/**
 * Backfills (mage-api.md §3.13): starting one creates a dedicated trigger (type `time`, no interval, so it
 * never fires on its own) and one run per date of Mage's date list, each carrying Mage's backfill variables;
 * the runs then start under the usual run limits. The trigger's unique (trigger, execution date) makes a
 * repeated or resumed start create only the runs that are missing. The backfill becomes `completed` when
 * every run completed, `failed` when every run finished and one did not complete; cancelling cancels its
 * unfinished runs.
 */
import type { Engine } from '../engine/engine.js';
import type { Project } from '../project/projectConfig.js';
import type { Store } from '../store/db.js';
import type { BackfillRow } from '../store/backfills.js';
import { DuplicateRunError } from '../store/errors.js';
import { fromDbTime } from '../store/time.js';
import type { Admission } from './admission.js';
import { activeBackfillRunIds, backfillRunCounts, runKey, runKeysSince } from './queries.js';
import { backfillDates, type BackfillIntervalType } from './schedule.js';
import { backfillRunVariables } from './intervalVariables.js';

/** The most runs one backfill may create. */
export const MAX_BACKFILL_RUNS = 10_000;

export class BackfillError extends Error {
  constructor(
    readonly code: 400 | 404 | 409 | 422,
    message: string,
  ) {
    super(message);
    this.name = 'BackfillError';
  }
}

export interface BackfillProgress {
  total_run_count: number;
  /** Runs per status, e.g. `{"completed": 3, "running": 1}`. */
  run_status_counts: Record<string, number>;
  completed_run_count: number;
  failed_run_count: number;
  cancelled_run_count: number;
  /** Completed share of the planned runs, 0..1 (null before the dates are known). */
  progress: number | null;
}

/** The execution dates and per-run variables of a backfill. @throws BackfillError (422) for a bad range. */
export function backfillPlan(b: BackfillRow): Array<{ executionDate: Date; variables: Record<string, unknown> }> {
  if (!b.start_datetime || !b.end_datetime) throw new BackfillError(422, 'A backfill needs start_datetime and end_datetime.');
  const start = fromDbTime(b.start_datetime);
  const end = fromDbTime(b.end_datetime);
  if (end.getTime() < start.getTime()) throw new BackfillError(422, 'end_datetime is before start_datetime.');
  let dates: Date[];
  try {
    dates = backfillDates({
      start,
      end,
      intervalType: (b.interval_type ?? 'day') as BackfillIntervalType,
      intervalUnits: b.interval_units ?? 1,
      limit: MAX_BACKFILL_RUNS,
    });
  } catch (err) {
    throw new BackfillError(422, (err as Error).message);
  }
  const vars = backfillRunVariables(dates);
  return dates.map((executionDate, i) => ({ executionDate, variables: { ...(b.variables ?? {}), ...vars[i] } }));
}

export class BackfillRunner {
  constructor(
    private readonly project: Project,
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly admission: Admission,
  ) {}

  /** Starts a backfill that has not started yet. @throws BackfillError */
  async start(id: number): Promise<BackfillRow> {
    const b = await this.store.backfills.get(id);
    if (!b) throw new BackfillError(404, `Backfill ${id} not found.`);
    if (!b.pipeline_uuid) throw new BackfillError(422, `Backfill ${id} has no pipeline.`);
    const plan = backfillPlan(b);
    if (!(await this.store.backfills.transition(id, [null, 'initial'], 'running', { started_at: new Date() }))) {
      throw new BackfillError(409, `Backfill ${id} is ${b.status}; only a backfill that has not started can be started.`);
    }
    await this.createRuns(id, plan);
    await this.checkCompletion(id);
    return (await this.store.backfills.get(id))!;
  }

  /** Creates the runs of a running backfill that do not exist yet, then lets the admission start them. */
  async createRuns(id: number, plan?: ReturnType<typeof backfillPlan>): Promise<number> {
    const b = await this.store.backfills.get(id);
    if (!b || b.status !== 'running' || !b.pipeline_uuid) return 0;
    plan ??= backfillPlan(b);
    let schedule = b.pipeline_schedule_id ? await this.store.schedules.get(b.pipeline_schedule_id) : undefined;
    if (!schedule) {
      const limit = Number(b.settings?.pipeline_run_limit);
      schedule = await this.store.schedules.create({
        name: `Backfill ${b.name ?? b.id}`,
        pipeline_uuid: b.pipeline_uuid,
        schedule_type: 'time',
        schedule_interval: null,
        status: 'active',
        last_enabled_at: new Date(),
        variables: b.variables ?? {},
        settings: Number.isInteger(limit) && limit > 0 ? { pipeline_run_limit: limit } : {},
        repo_path: this.project.root,
      });
      await this.store.backfills.update(id, { pipeline_schedule_id: schedule.id });
    }
    let created = 0;
    const existing = plan.length ? await runKeysSince(this.store, [schedule.id], plan[0].executionDate) : new Set<string>();
    for (const item of plan) {
      if (existing.has(runKey(schedule.id, item.executionDate))) continue;
      try {
        await this.admission.createRun(schedule, { executionDate: item.executionDate, variables: item.variables, backfillId: id });
        created++;
      } catch (err) {
        if (!(err instanceof DuplicateRunError)) throw err;
      }
    }
    await this.admission.admit(b.pipeline_uuid);
    return created;
  }

  /** Cancels a backfill and its unfinished runs. @throws BackfillError */
  async cancel(id: number): Promise<BackfillRow> {
    const b = await this.store.backfills.get(id);
    if (!b) throw new BackfillError(404, `Backfill ${id} not found.`);
    if (!(await this.store.backfills.transition(id, [null, 'initial', 'running'], 'cancelled', { completed_at: new Date() }))) {
      throw new BackfillError(409, `Backfill ${id} is ${b.status}; only a backfill that has not finished can be cancelled.`);
    }
    if (b.pipeline_schedule_id) await this.store.schedules.update(b.pipeline_schedule_id, { status: 'inactive' });
    for (const runId of await activeBackfillRunIds(this.store, id)) await this.engine.cancelRun(runId);
    return (await this.store.backfills.get(id))!;
  }

  /** Finishes a running backfill whose runs have all finished. */
  async checkCompletion(id: number): Promise<void> {
    const b = await this.store.backfills.get(id);
    if (!b || b.status !== 'running') return;
    const counts = await backfillRunCounts(this.store, id);
    const total = Object.values(counts).reduce((a, n) => a + n, 0);
    let planned: number;
    try {
      planned = backfillPlan(b).length;
    } catch {
      planned = total;
    }
    if (total < planned || (counts.initial ?? 0) > 0 || (counts.running ?? 0) > 0) return;
    const allCompleted = (counts.completed ?? 0) === total;
    if (allCompleted) await this.store.backfills.transition(id, ['running'], 'completed', { completed_at: new Date() });
    else await this.store.backfills.transition(id, ['running'], 'failed', { failed_at: new Date(), completed_at: new Date() });
    if (b.pipeline_schedule_id) await this.store.schedules.update(b.pipeline_schedule_id, { status: 'inactive' });
  }

  /** Run counts of a backfill, for the API. */
  async progress(b: BackfillRow): Promise<BackfillProgress> {
    const counts = await backfillRunCounts(this.store, b.id);
    const total = Object.values(counts).reduce((a, n) => a + n, 0);
    let planned: number | null = null;
    try {
      planned = backfillPlan(b).length;
    } catch {
      planned = null;
    }
    return {
      total_run_count: planned ?? total,
      run_status_counts: counts,
      completed_run_count: counts.completed ?? 0,
      failed_run_count: counts.failed ?? 0,
      cancelled_run_count: counts.cancelled ?? 0,
      progress: planned ? (counts.completed ?? 0) / planned : planned === 0 ? 1 : null,
    };
  }

  /** Resumes every running backfill (after a restart or a takeover) and finishes the ones that are done. */
  async sweep(): Promise<void> {
    const { rows } = await this.store.backfills.list({ status: ['running'] });
    for (const b of rows) {
      try {
        await this.createRuns(b.id);
        await this.checkCompletion(b.id);
      } catch {
        // One broken backfill (e.g. its pipeline was deleted) must not stop the others.
      }
    }
  }
}
