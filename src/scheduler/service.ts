/**
 * The scheduler service: one per server process.
 *
 * Every process creates and starts the runs asked for through it (API trigger, manual runs, events,
 * backfills) at once, under the run limits (admission.ts), and re-decides waiting runs when one of its runs
 * finishes. One process at a time, the leader (leaderLock.ts), also runs the loop for time triggers:
 * - it keeps the active time triggers in memory with the time each is next due, and sleeps until the earliest
 *   of them, or until `wake()` (a trigger changed through the API, a trigger file changed, a run of an
 *   `@always_on` trigger finished);
 * - on PostgreSQL it listens to the change feed (changeFeed.ts): `wake('triggers')` in any process, and a run
 *   finished in any process while its pipeline has runs waiting for a run-limit slot, reach the leader at once
 *   rather than at its next sweep; on SQLite the leader polls the file's `data_version` and looks for changed
 *   triggers and waiting runs when another process committed;
 * - at each wake-up it syncs changed triggers.yaml files, plans the due triggers (triggerPlan.ts) with a few
 *   batched queries, creates their runs (the database's unique (trigger, execution date) turns a second
 *   creation into a no-op) and lets the admission start them;
 * - every `sweepMs` it also re-reads the trigger table when it changed elsewhere, starts runs left waiting by
 *   other processes, resumes running backfills and checks SLAs.
 * A standby retries the lock every `standbyRetryMs` and takes over when the leader dies (at once on PostgreSQL,
 * after the lease expires on SQLite unless the leader's process is known to be gone).
 *
 * SLA: a run whose trigger has `sla` seconds and is still initial/running at execution date + sla gets
 * `passed_sla = true` once (a guarded update) and the service emits `notification`
 * `{type: 'trigger_passed_sla', ...}`.
 *
 * Events emitted: `leader` (this process became leader), `standby`, `notification`, `catch_up`
 * (`{scheduleId, skipped}` when a policy dropped missed intervals), `feed` (`'listening'` when the leader's
 * change feed connection is up, `'lost'` when it failed and is being retried), `error` is never emitted: failures are
 * kept in `errors` and `lastError` so the loop never stops.
 */
import { EventEmitter } from 'node:events';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { Engine, EngineEvent } from '../engine/engine.js';
import type { Project } from '../project/projectConfig.js';
import { resolveDatabaseUrl, type Store } from '../store/db.js';
import type { PipelineRunRow } from '../store/pipelineRuns.js';
import type { ScheduleRow } from '../store/schedules.js';
import { DuplicateRunError } from '../store/errors.js';
import { Admission, type TriggerRunInput } from './admission.js';
import { BackfillRunner } from './backfillRunner.js';
import { changeFeedFor, pgConnectionString, type ChangeFeed, type SchedulerChange } from './changeFeed.js';
import { leaderLockFor, type LeaderLock, type LeaderLockOptions } from './leaderLock.js';
import type { PipelineConfigCache } from '../project/pipelineConfigCache.js';
import { hasWaitingRun, lastExecutionDates, markPassedSla, pipelinesWithWaitingRuns, runKey, runKeysSince, schedulesFingerprint, slaCandidates } from './queries.js';
import { currentExecutionDate, isRecurring, toParsedInterval } from './schedule.js';
import { catchUpOf } from './triggerConfig.js';
import { TriggerFileSync } from './triggerFiles.js';
import { planTrigger } from './triggerPlan.js';

export interface SchedulerServiceOptions {
  project: Project;
  store: Store;
  engine: Engine;
  /** The leader lock. Default: a PostgreSQL advisory lock, or a lease row on SQLite (leaderLock.ts). */
  lock?: LeaderLock;
  /** Timings of the default leader lock (`checkMs` on PostgreSQL, `renewMs`/`leaseMs` on SQLite). Ignored with `lock`. */
  lockOptions?: LeaderLockOptions;
  /**
   * How changes made by other processes reach the leader before its sweep. Default: on PostgreSQL a
   * LISTEN/NOTIFY feed listening with `databaseUrl`; on SQLite a poll of `data_version` (SqliteChangeFeed).
   * `false`: none, the sweep alone.
   */
  changeFeed?: ChangeFeed | false;
  /**
   * URL of the store's database, for the default change feed's listening connection. Default: the URL the
   * server resolves, `resolveDatabaseUrl(process.env, project.dataDir)`. The feed checks that a notification
   * sent through the store arrives on it before relying on it; a URL that is not PostgreSQL leaves the leader
   * with its sweep alone.
   */
  databaseUrl?: string;
  /** The clock. Default `() => new Date()`. */
  now?: () => Date;
  /** Milliseconds between a standby's tries of the leader lock. Default 2000. */
  standbyRetryMs?: number;
  /** Milliseconds between the leader's sweeps (changes made by other processes, waiting runs, SLA, backfills). Default 15000. */
  sweepMs?: number;
  /** Milliseconds between checks of triggers.yaml files when no file event arrives. Default 2000. */
  fileScanMs?: number;
  /** Watch the pipelines folder for file events so trigger file edits apply at once. Default true. */
  watchFiles?: boolean;
  /** Environment matched against triggers' `envs`. Default Mage's get_env() of `ENV` (engine/kwargs.ts mageEnv). */
  env?: string;
  /** Run the leader loop. False makes a process that only starts the runs asked of it. Default true. */
  loop?: boolean;
}

interface Entry {
  row: ScheduleRow;
  nextCheck: number;
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

export class SchedulerService extends EventEmitter {
  readonly admission: Admission;
  readonly files: TriggerFileSync;
  readonly backfills: BackfillRunner;
  readonly pipelines: PipelineConfigCache;
  /** Problems of single triggers (bad interval, missing pipeline), by trigger id. */
  readonly errors = new Map<number, string>();
  lastError: string | null = null;

  private readonly lock: LeaderLock;
  private readonly clock: () => Date;
  private readonly index = new Map<number, Entry>();
  private readonly slaTimers = new Map<number, NodeJS.Timeout>();
  private started = false;
  private leading = false;
  private triggersDirty = true;
  private filesDirty = true;
  private wakeRequested = false;
  private wakeUp?: () => void;
  private sleepTimer?: NodeJS.Timeout;
  private nextSweep = 0;
  private nextFileScan = 0;
  private fingerprint = '';
  private activity: Date | null = null;
  private campaign?: Promise<void>;
  private watcher?: FSWatcher;
  private readonly feed?: ChangeFeed;
  private readonly onEngineEvent = (event: EngineEvent) => {
    if (event.type === 'run' && FINAL.has(event.status)) void this.onRunFinished(event.runId).catch((err) => this.noteError(err));
  };

  constructor(private readonly options: SchedulerServiceOptions) {
    super();
    this.clock = options.now ?? (() => new Date());
    const projectKey = options.project.projectUuid ?? options.project.name;
    this.lock = options.lock ?? leaderLockFor(options.store, projectKey, options.lockOptions);
    if (options.changeFeed !== false) {
      const url = pgConnectionString(options.databaseUrl ?? resolveDatabaseUrl(process.env, options.project.dataDir)) ?? undefined;
      this.feed = options.changeFeed ?? changeFeedFor(options.store, projectKey, { url, onError: (err) => this.noteError(err) });
    }
    this.pipelines = options.engine.pipelines;
    this.admission = new Admission({
      store: options.store,
      engine: options.engine,
      pipelines: this.pipelines,
      onCreated: (run, schedule) => this.armSla(run, schedule),
    });
    this.files = new TriggerFileSync(options.project, options.store, { env: options.env, now: this.clock });
    this.backfills = new BackfillRunner(options.project, options.store, options.engine, this.admission);
  }

  /** `running` once started (leader or standby), `stopped` otherwise (Mage's scheduler_status). */
  status(): 'running' | 'stopped' {
    return this.started && this.options.loop !== false ? 'running' : 'stopped';
  }

  /** Whether this process runs the time-trigger loop now. */
  isLeader(): boolean {
    return this.leading;
  }

  /** The last time the loop did work (Mage's last_scheduler_activity). */
  lastActivity(): Date | null {
    return this.activity;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.options.engine.on('event', this.onEngineEvent);
    if (this.options.loop === false) return;
    this.lock.onLost(() => {
      this.leading = false;
      this.wakeLoop();
    });
    this.campaign = this.campaignLoop();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.options.engine.off('event', this.onEngineEvent);
    this.wakeLoop();
    await this.campaign?.catch(() => undefined);
    this.watcher?.close();
    this.watcher = undefined;
    for (const t of this.slaTimers.values()) clearTimeout(t);
    this.slaTimers.clear();
    await this.admission.idle();
    await this.lock.release();
  }

  /**
   * Something changed (a trigger, a file): the leader re-reads its triggers before sleeping again. A trigger
   * change is also published on the change feed, so the leader hears of it wherever it runs.
   */
  wake(reason: 'triggers' | 'files' | 'other' = 'other'): void {
    this.wakeLoop(reason);
    if (reason === 'triggers') void this.feed?.publish({ kind: 'triggers' });
  }

  /** Wakes this process's loop only. */
  private wakeLoop(reason: 'triggers' | 'files' | 'other' = 'other'): void {
    if (reason === 'triggers') this.triggersDirty = true;
    if (reason === 'files') this.filesDirty = true;
    this.wakeRequested = true;
    this.wakeUp?.();
  }

  /**
   * Creates a run of the trigger now (API trigger, manual run, event) and starts it at once unless a run
   * limit says wait or skip. @throws DuplicateRunError for an explicit execution date that has a run.
   */
  async triggerRun(schedule: ScheduleRow, input: TriggerRunInput = {}): Promise<PipelineRunRow> {
    const run = await this.admission.createRun(schedule, input);
    return this.admission.startOrQueue(schedule, run);
  }

  /** One pass of the leader's work, whatever the time; for tests and for the loop. */
  async tick(): Promise<void> {
    const now = this.clock();
    this.activity = now;
    if (this.filesDirty || now.getTime() >= this.nextFileScan) {
      this.filesDirty = false;
      this.nextFileScan = now.getTime() + (this.options.fileScanMs ?? 2000);
      const report = await this.files.syncChanged();
      if (report.changed > 0) this.triggersDirty = true;
    }
    if (now.getTime() >= this.nextSweep) {
      this.nextSweep = now.getTime() + (this.options.sweepMs ?? 15_000);
      const fp = await schedulesFingerprint(this.options.store);
      if (fp !== this.fingerprint) this.triggersDirty = true;
      for (const uuid of await pipelinesWithWaitingRuns(this.options.store)) await this.admission.admit(uuid).catch((err) => this.noteError(err));
      await this.backfills.sweep();
      await this.sweepSla(now);
    }
    if (this.triggersDirty) await this.reloadTriggers();
    const due = [...this.index.values()].filter((e) => e.nextCheck <= now.getTime());
    if (due.length) await this.evaluate(due, now);
  }

  /** Milliseconds until the loop has work, from the triggers' next checks, the sweep and the file scan. */
  private msToNextWork(): number {
    let next = Math.min(this.nextSweep, this.nextFileScan);
    for (const e of this.index.values()) if (e.nextCheck < next) next = e.nextCheck;
    return Math.max(0, next - this.clock().getTime());
  }

  private async campaignLoop(): Promise<void> {
    while (this.started) {
      let won = false;
      try {
        won = await this.lock.tryAcquire();
      } catch (err) {
        this.noteError(err);
      }
      if (won && this.started) {
        await this.lead();
        if (this.started) this.emit('standby');
      } else {
        await this.sleep(this.options.standbyRetryMs ?? 2000);
      }
    }
  }

  private async lead(): Promise<void> {
    this.leading = true;
    this.triggersDirty = true;
    this.filesDirty = true;
    this.nextSweep = 0;
    this.files.reset();
    this.startWatching();
    this.feed?.subscribe({
      change: (change) => this.onFeedChange(change),
      listening: () => {
        // Notifications sent before the feed listened are lost: sweep once to pick their changes up.
        this.nextSweep = 0;
        this.emit('feed', 'listening');
        this.wakeLoop();
      },
      lost: (err) => {
        this.noteError(err);
        this.emit('feed', 'lost');
      },
    });
    this.emit('leader');
    while (this.started && this.leading && this.lock.held()) {
      try {
        await this.tick();
      } catch (err) {
        this.noteError(err);
        await this.sleep(1000);
        continue;
      }
      await this.sleep(this.msToNextWork());
    }
    this.leading = false;
    await this.feed?.unsubscribe();
    this.watcher?.close();
    this.watcher = undefined;
  }

  private onFeedChange(change: SchedulerChange): void {
    if (!this.leading) return;
    if (change.kind === 'triggers') this.wakeLoop('triggers');
    else void this.admission.admit(change.pipelineUuid).catch((err) => this.noteError(err));
  }

  private sleep(ms: number): Promise<void> {
    if (this.wakeRequested || !this.started) {
      this.wakeRequested = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(this.sleepTimer);
        this.wakeUp = undefined;
        this.wakeRequested = false;
        resolve();
      };
      this.wakeUp = done;
      // setTimeout takes at most 2^31-1 ms; the loop just wakes and sleeps again.
      this.sleepTimer = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
    });
  }

  private startWatching(): void {
    if (this.options.watchFiles === false || this.watcher) return;
    const dir = join(this.options.project.root, 'pipelines');
    if (!existsSync(dir)) return;
    try {
      this.watcher = watch(dir, { recursive: true, persistent: false }, (_event, file) => {
        if (file && String(file).endsWith('triggers.yaml')) this.wakeLoop('files');
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // Without file events the periodic scan still picks changes up.
    }
  }

  private async reloadTriggers(): Promise<void> {
    this.triggersDirty = false;
    this.fingerprint = await schedulesFingerprint(this.options.store);
    const { rows } = await this.options.store.schedules.list({ status: ['active'], scheduleType: ['time'] });
    const seen = new Set<number>();
    for (const row of rows) {
      if (row.schedule_interval === null) continue;
      seen.add(row.id);
      const old = this.index.get(row.id);
      if (old && old.row.updated_at === row.updated_at) continue;
      this.index.set(row.id, { row, nextCheck: 0 });
      this.errors.delete(row.id);
    }
    for (const id of [...this.index.keys()]) if (!seen.has(id)) this.index.delete(id);
  }

  private async evaluate(due: Entry[], now: Date): Promise<void> {
    const { store } = this.options;
    const valid: Entry[] = [];
    let earliest = now.getTime();
    for (const e of due) {
      try {
        const interval = toParsedInterval(e.row.schedule_interval);
        if (isRecurring(interval)) {
          const current = currentExecutionDate(interval, now, e.row.timezone ?? 'UTC');
          if (current) earliest = Math.min(earliest, current.getTime());
        }
        valid.push(e);
      } catch (err) {
        this.errors.set(e.row.id, `Trigger ${e.row.id} (${e.row.name}) cannot be scheduled: ${(err as Error).message}`);
        e.nextCheck = Infinity;
      }
    }
    if (!valid.length) return;
    const ids = valid.map((e) => e.row.id);
    const existing = await runKeysSince(store, ids, new Date(earliest));
    const needsLast = valid.filter((e) => catchUpOf(e.row).policy !== 'none').map((e) => e.row.id);
    const last = needsLast.length ? await lastExecutionDates(store, needsLast) : new Map<number, Date>();
    const nonRecurring = valid.filter((e) => !isRecurring(toParsedInterval(e.row.schedule_interval))).map((e) => e.row.id);
    const stats = nonRecurring.length ? await store.schedules.runStats(nonRecurring) : new Map();
    const touched = new Set<string>();
    for (const e of valid) {
      const row = e.row;
      try {
        const plan = planTrigger({
          schedule: row,
          now,
          hasRun: (d) => existing.has(runKey(row.id, d)),
          lastExecutionDate: last.get(row.id) ?? null,
          runCount: stats.get(row.id)?.pipeline_runs_count ?? 0,
          lastRunStatus: stats.get(row.id)?.last_pipeline_run_status ?? null,
          previousRuntimesSeconds: row.settings?.landing_time_enabled ? await this.previousRuntimes(row.id) : undefined,
          executorCount: row.schedule_interval === '@once' ? this.streamingExecutors(row.pipeline_uuid!) : undefined,
        });
        e.nextCheck = plan.nextCheck;
        if (plan.skipped > 0) this.emit('catch_up', { scheduleId: row.id, skipped: plan.skipped });
        for (const executionDate of plan.executionDates) {
          try {
            // Each run starts as soon as it exists, rather than after every due trigger has its run.
            await this.admission.start(row, await this.admission.createRun(row, { executionDate }));
            touched.add(row.pipeline_uuid!);
          } catch (err) {
            if (!(err instanceof DuplicateRunError)) throw err;
          }
        }
        this.errors.delete(row.id);
      } catch (err) {
        this.errors.set(row.id, `Trigger ${row.id} (${row.name}) of pipeline ${row.pipeline_uuid}: ${(err as Error).message}`);
        // A broken pipeline is retried at the trigger's next interval rather than in a hot loop.
        if (e.nextCheck <= now.getTime()) e.nextCheck = now.getTime() + 60_000;
      }
    }
    for (const uuid of touched) await this.admission.admit(uuid).catch((err) => this.noteError(err));
  }

  /** Mage's streaming `@once` triggers fire until the pipeline has `executor_count` runs. */
  private streamingExecutors(pipelineUuid: string): number {
    const pipeline = this.pipelines.get(pipelineUuid);
    return pipeline.type === 'streaming' ? Math.max(1, pipeline.executor_count) : 1;
  }

  /** Runtimes of the trigger's latest completed runs, newest first (landing time). */
  private async previousRuntimes(scheduleId: number): Promise<number[]> {
    const { rows } = await this.options.store.pipelineRuns.list({
      pipelineScheduleId: scheduleId,
      statuses: ['completed'],
      orderBy: [{ column: 'completed_at', direction: 'desc' }],
      limit: 7,
    });
    return rows
      .filter((r) => r.started_at && r.completed_at)
      .map((r) => (new Date(r.completed_at!.replace(' ', 'T')).getTime() - new Date(r.started_at!.replace(' ', 'T')).getTime()) / 1000);
  }

  private async onRunFinished(runId: number): Promise<void> {
    const run = await this.options.store.pipelineRuns.get(runId);
    if (!run) return;
    const uuid = run.pipeline_uuid;
    if (uuid && this.admission.waitingPipelines.has(uuid)) {
      await this.admission.admit(uuid);
    } else if (uuid && this.feed?.publishes && run.pipeline_schedule_id !== null && (await hasWaitingRun(this.options.store, uuid))) {
      // Another process left these runs waiting and only re-decides when one of its own runs finishes; the
      // leader decides at once.
      if (this.leading) await this.admission.admit(uuid);
      else await this.feed.publish({ kind: 'waiting', pipelineUuid: uuid });
    }
    const entry = run.pipeline_schedule_id !== null ? this.index.get(run.pipeline_schedule_id) : undefined;
    if (entry && this.leading && entry.row.schedule_interval === '@always_on') {
      entry.nextCheck = 0;
      this.wakeLoop();
    }
    if (run.backfill_id !== null) await this.backfills.checkCompletion(run.backfill_id);
    const timer = this.slaTimers.get(runId);
    if (timer) clearTimeout(timer), this.slaTimers.delete(runId);
  }

  private armSla(run: PipelineRunRow, schedule: ScheduleRow): void {
    if (!schedule.sla || schedule.sla <= 0 || this.slaTimers.has(run.id)) return;
    const base = new Date((run.execution_date ?? run.created_at).replace(' ', 'T')).getTime();
    this.armSlaAt(run.id, schedule.id, base + schedule.sla * 1000);
  }

  private armSlaAt(runId: number, scheduleId: number, deadline: number): void {
    if (this.slaTimers.has(runId)) return;
    const timer = setTimeout(() => {
      this.slaTimers.delete(runId);
      void this.passSla(runId, scheduleId).catch((err) => this.noteError(err));
    }, Math.min(Math.max(0, deadline - Date.now()), 2 ** 31 - 1));
    timer.unref();
    this.slaTimers.set(runId, timer);
  }

  private async passSla(runId: number, scheduleId: number): Promise<void> {
    if (!(await markPassedSla(this.options.store, runId))) return;
    const run = await this.options.store.pipelineRuns.get(runId);
    this.emit('notification', {
      type: 'trigger_passed_sla',
      pipeline_run_id: runId,
      pipeline_schedule_id: scheduleId,
      pipeline_uuid: run?.pipeline_uuid ?? null,
      execution_date: run?.execution_date ?? null,
    });
  }

  private async sweepSla(now: Date): Promise<void> {
    for (const c of await slaCandidates(this.options.store)) {
      if (c.deadline.getTime() <= now.getTime()) await this.passSla(c.runId, c.scheduleId);
      else this.armSlaAt(c.runId, c.scheduleId, c.deadline.getTime());
    }
  }

  private noteError(err: unknown): void {
    this.lastError = `${new Date().toISOString()} ${(err as Error)?.message ?? String(err)}`;
  }
}
