/**
 * Creating trigger runs and deciding which of them start (mage-api.md §6.1): a run starts when its trigger
 * has fewer than its `pipeline_run_limit` runs running and its pipeline fewer than
 * `pipeline_run_limit_all_triggers`; otherwise it waits in `initial` (`on_pipeline_run_limit_reached: wait`,
 * the default) or is cancelled (`skip`). Waiting runs start oldest execution date first.
 *
 * Decisions for one pipeline are serialised: in this process by a promise chain, and across processes on
 * PostgreSQL by a transaction-scoped advisory lock held while the runs are started, so two servers never start
 * more runs than the limits allow. Starting itself is the engine's guarded `initial -> running`, which only one
 * caller wins.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Engine } from '../engine/engine.js';
import type { Store } from '../store/db.js';
import type { PipelineRunRow } from '../store/pipelineRuns.js';
import type { ScheduleRow } from '../store/schedules.js';
import { DuplicateRunError } from '../store/errors.js';
import { PipelineConfigCache } from '../project/pipelineConfigCache.js';
import { hasActiveRun, runningCounts, waitingRuns } from './queries.js';
import { hasLimits, runLimits } from './triggerConfig.js';

export interface TriggerRunInput {
  /** Default: now. Without an explicit date, a collision with a run of the same millisecond moves it on by 1 ms. */
  executionDate?: Date;
  /** Merged over the trigger's own variables. */
  variables?: Record<string, unknown>;
  eventVariables?: Record<string, unknown>;
  backfillId?: number | null;
}

export interface AdmitResult {
  started: number[];
  skipped: number[];
  waiting: number[];
}

export interface AdmissionOptions {
  store: Store;
  engine: Engine;
  pipelines: PipelineConfigCache;
  /** Called for every run this module created (for SLA timers and activity). */
  onCreated?: (run: PipelineRunRow, schedule: ScheduleRow) => void;
}

export class Admission {
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Pipelines that had runs left waiting at the last decision: a finished run there calls for another. */
  readonly waitingPipelines = new Set<string>();

  constructor(private readonly options: AdmissionOptions) {}

  /**
   * Creates a run of `schedule` in `initial` with its block runs, and cancels it at once when the trigger has
   * `skip_if_previous_running` and another run of it is in progress.
   * @throws DuplicateRunError when an explicit execution date already has a run of this trigger.
   */
  async createRun(schedule: ScheduleRow, input: TriggerRunInput = {}): Promise<PipelineRunRow> {
    const { engine, store } = this.options;
    let executionDate = input.executionDate ?? new Date();
    for (let attempt = 0; ; attempt++) {
      try {
        const run = await engine.createRun({
          pipelineUuid: schedule.pipeline_uuid!,
          scheduleId: schedule.id,
          executionDate,
          variables: { ...(schedule.variables ?? {}), ...(input.variables ?? {}) },
          eventVariables: input.eventVariables,
          backfillId: input.backfillId ?? null,
          start: false,
        });
        this.options.onCreated?.(run, schedule);
        if (schedule.settings?.skip_if_previous_running && (await hasActiveRun(store, schedule.id, run.id))) {
          await engine.cancelRun(run.id);
          return (await store.pipelineRuns.get(run.id)) ?? run;
        }
        return run;
      } catch (err) {
        if (err instanceof DuplicateRunError && input.executionDate === undefined && attempt < 5) {
          executionDate = new Date(executionDate.getTime() + 1);
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * Starts `run` now when no limit applies to its trigger; otherwise decides for its whole pipeline.
   * Returns the run as it is afterwards.
   */
  async startOrQueue(schedule: ScheduleRow, run: PipelineRunRow): Promise<PipelineRunRow> {
    await this.start(schedule, run);
    return (await this.options.store.pipelineRuns.get(run.id)) ?? run;
  }

  /**
   * As {@link startOrQueue}, for a caller that does not need the run back (the scheduler's due triggers). A run
   * that cannot be started (its pipeline no longer loads) is failed with the reason rather than left initial.
   */
  async start(schedule: ScheduleRow, run: PipelineRunRow): Promise<void> {
    if (run.status !== 'initial') return;
    if (schedule.status !== 'active') return;
    let pipeline;
    try {
      pipeline = this.options.pipelines.get(schedule.pipeline_uuid!);
    } catch (err) {
      await this.options.engine.failRun(run.id, `Pipeline run ${run.id} could not start: ${(err as Error).message}`);
      return;
    }
    if (!hasLimits(runLimits(schedule, pipeline))) {
      await this.options.engine.startRun(run.id, schedule);
    } else {
      await this.admit(schedule.pipeline_uuid!);
    }
  }

  /** Starts, skips or leaves waiting every `initial` run of the pipeline's active triggers. */
  admit(pipelineUuid: string): Promise<AdmitResult> {
    const previous = this.chains.get(pipelineUuid) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.crossProcess(pipelineUuid, () => this.decide(pipelineUuid)));
    this.chains.set(pipelineUuid, next);
    void next.finally(() => {
      if (this.chains.get(pipelineUuid) === next) this.chains.delete(pipelineUuid);
    }).catch(() => undefined);
    return next;
  }

  /** Waits for every decision in flight. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }

  private async crossProcess<T>(pipelineUuid: string, fn: () => Promise<T>): Promise<T> {
    const { store } = this.options;
    if (store.dialect !== 'postgres') return fn();
    const digest = createHash('sha256').update(`blockflow-admission:${pipelineUuid}`).digest();
    return store.transaction(async (tx) => {
      await sql`select pg_advisory_xact_lock(${digest.readInt32BE(0)}::int4, ${digest.readInt32BE(4)}::int4)`.execute(tx.db);
      return fn();
    });
  }

  private async decide(pipelineUuid: string): Promise<AdmitResult> {
    const { store, engine } = this.options;
    const result: AdmitResult = { started: [], skipped: [], waiting: [] };
    const waiting = await waitingRuns(store, pipelineUuid);
    if (waiting.length === 0) {
      this.waitingPipelines.delete(pipelineUuid);
      return result;
    }
    let pipeline;
    try {
      pipeline = this.options.pipelines.get(pipelineUuid);
    } catch {
      // A deleted or broken pipeline cannot run; its runs stay initial until it is fixed.
      return { ...result, waiting: waiting.map((w) => w.id) };
    }
    const schedules = new Map((await store.schedules.getMany([...new Set(waiting.map((w) => w.pipeline_schedule_id))])).map((s) => [s.id, s]));
    const counts = await runningCounts(store, pipelineUuid);
    for (const w of waiting) {
      const limits = runLimits(schedules.get(w.pipeline_schedule_id) ?? null, pipeline);
      const mine = counts.bySchedule.get(w.pipeline_schedule_id) ?? 0;
      const fits = (limits.perTrigger === null || mine < limits.perTrigger) && (limits.perPipeline === null || counts.total < limits.perPipeline);
      if (fits) {
        if (await engine.startRun(w.id)) {
          result.started.push(w.id);
          counts.total += 1;
          counts.bySchedule.set(w.pipeline_schedule_id, mine + 1);
        }
      } else if (limits.onLimitReached === 'skip') {
        if (await engine.cancelRun(w.id)) result.skipped.push(w.id);
      } else {
        result.waiting.push(w.id);
      }
    }
    if (result.waiting.length) this.waitingPipelines.add(pipelineUuid);
    else this.waitingPipelines.delete(pipelineUuid);
    return result;
  }
}
