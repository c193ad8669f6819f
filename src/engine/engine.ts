/**
 * The run engine: creates pipeline runs with their block runs, moves them through Mage's statuses with
 * guarded updates (`UPDATE ... WHERE id = ? AND status IN (...)`), and dispatches ready block runs to the
 * runtimes. Decisions come from plan.ts (pure); this module only applies them.
 *
 * Concurrency: `queue_config.concurrency` (project, default 20) bounds block runs executing at once across
 * all runs of this server; `concurrency_config.block_run_limit` (pipeline) bounds one run.
 *
 * A run that cannot be set up (run variables that cannot be paths, a pipeline that no longer loads, an error
 * while starting or adopting it) is failed with the reason (`failRun`), never left `initial` or `running`
 * holding a run slot.
 */
import { EventEmitter } from 'node:events';
import type { Project } from '../project/projectConfig.js';
import type { Store } from '../store/db.js';
import type { PipelineRunPatch, PipelineRunRow } from '../store/pipelineRuns.js';
import type { BlockRunRow } from '../store/blockRuns.js';
import type { ScheduleRow } from '../store/schedules.js';
import type { PipelineConfig } from '../project/pipeline.js';
import { PipelineConfigCache } from '../project/pipelineConfigCache.js';
import type { RuntimeRegistry } from '../runtimes/registry.js';
import { decide, dynamicConfigProblem, initialBlockUuids, spawnChildRuns, baseBlockUuid, type ChildBlockRun } from './plan.js';
import { dynamicPlanBlocks } from './blockRequest.js';
import { readDynamicItems } from './dynamicInputs.js';
import { blockVariablesDir } from '../variables/layout.js';
import { Semaphore } from './semaphore.js';
import { executeBlockRun, runPartition, runPipelineUuid, type BlockRunOutcome } from './executeBlock.js';
import { executionPartition } from '../variables/layout.js';
import { pipelineLogPath, LogFile, formatLogLine } from './logs.js';
import { ACTIVE_RUN, FINISHED_RUN, PENDING_BLOCK, type BlockRunStatus, type RunStatus } from './statuses.js';
import { runVariableProblem } from './runVariables.js';

export interface EngineOptions {
  project: Project;
  store: Store;
  runtimes: RuntimeRegistry;
  /** This process's id, written as the owner of the runs it executes. */
  instanceId: string;
  /** Resolves secrets for blocks (decrypting the `secret` table). */
  getSecret: (name: string) => Promise<string | undefined>;
  /** Seconds between ownership heartbeats of running runs (default 10). */
  heartbeatSeconds?: number;
  /**
   * A running run whose owner has not sent a heartbeat for this many seconds is adopted by another server
   * (default 60). Must be comfortably above `heartbeatSeconds`.
   */
  orphanAfterSeconds?: number;
}

export interface EngineStartOptions {
  /**
   * Adopt orphaned runs of dead servers, at start and on every heartbeat (default true). `blockflow run`
   * passes false: a one-shot command must not take over a server's runs it would abandon when it exits.
   */
  adopt?: boolean;
}

export interface CreateRunInput {
  pipelineUuid: string;
  scheduleId?: number | null;
  executionDate?: Date;
  variables?: Record<string, unknown>;
  eventVariables?: Record<string, unknown>;
  backfillId?: number | null;
  /** Start the run right away (default true). The scheduler passes false when a concurrency limit says wait. */
  start?: boolean;
}

export type EngineEvent =
  | { type: 'run'; runId: number; status: RunStatus }
  | { type: 'block'; runId: number; blockRunId: number; blockUuid: string; status: BlockRunStatus; error?: string };

interface ActiveRun {
  pipeline: PipelineConfig;
  schedule: ScheduleRow | null;
  controllers: Map<number, AbortController>;
  timeoutTimer?: NodeJS.Timeout;
  /** Where this run's pipeline.log goes (the partition never changes during a run). */
  pipelineLog: string;
  /** The run's row as loaded; blocks read only fields fixed at creation (variables, dates, schedule). */
  run: PipelineRunRow;
}

export class RunNotFoundError extends Error {}

export class Engine extends EventEmitter {
  private readonly slots: Semaphore;
  private readonly active = new Map<number, ActiveRun>();
  private readonly pumpChains = new Map<number, Promise<void>>();
  private readonly dispatches = new Set<Promise<void>>();
  private heartbeatTimer?: NodeJS.Timeout;
  /** Runs whose failing transition did not reach the database (it was unreachable), retried every heartbeat. */
  private readonly pendingFailures = new Map<number, string>();
  private ticking = false;
  private closed = false;
  /** Parsed pipeline configs, shared with the scheduler; re-read when a metadata.yaml changes. */
  readonly pipelines: PipelineConfigCache;

  constructor(private readonly options: EngineOptions) {
    super();
    this.slots = new Semaphore(options.project.queueConcurrency);
    this.pipelines = new PipelineConfigCache(options.project);
  }

  get store(): Store {
    return this.options.store;
  }

  get project(): Project {
    return this.options.project;
  }

  /** Adopts orphaned runs and starts the heartbeat. Call once at server start. */
  async start(options: EngineStartOptions = {}): Promise<void> {
    const adopt = options.adopt !== false;
    const every = (this.options.heartbeatSeconds ?? 10) * 1000;
    this.heartbeatTimer = setInterval(() => void this.tick(adopt), every);
    this.heartbeatTimer.unref();
    if (adopt) await this.recover();
  }

  /**
   * One heartbeat: marks this server's runs alive, stops code of runs that another server (or a direct store
   * write) moved to a final status, and adopts runs of servers that stopped sending heartbeats.
   */
  private async tick(adopt: boolean): Promise<void> {
    if (this.closed || this.ticking) return;
    this.ticking = true;
    try {
      for (const [runId, reason] of [...this.pendingFailures]) await this.failRun(runId, reason);
      await this.store.pipelineRuns.heartbeat(this.options.instanceId);
      const ids = [...this.active.keys()];
      if (ids.length) {
        for (const run of await this.store.pipelineRuns.getMany(ids)) {
          if (run.status !== 'running' && run.status !== 'initial') this.stopCode(run.id, `pipeline run ${run.status}`);
        }
      }
      // A run whose planning failed (database briefly unreachable) with no block left to finish and re-plan it.
      for (const [runId, entry] of this.active) if (entry.controllers.size === 0 && !this.pumpChains.has(runId)) this.pump(runId);
      if (adopt) await this.recover();
    } catch {
      // A failed heartbeat (database briefly unreachable) is retried on the next tick.
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Stops executing: running block code is killed, but block runs stay `running` in the database and the runs'
   * heartbeats are set to the epoch, so the next server (or another live one) adopts and finishes them at once.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const run of this.active.values()) {
      if (run.timeoutTimer) clearTimeout(run.timeoutTimer);
      for (const c of run.controllers.values()) c.abort(new Error('server shutting down'));
    }
    await Promise.allSettled([...this.pumpChains.values(), ...this.dispatches]);
    await this.store.pipelineRuns.heartbeat(this.options.instanceId, new Date(0)).catch(() => undefined);
  }

  /**
   * Runs left `running` by a server that died (SIGKILL, crash) are adopted: their unfinished block runs go
   * back to `initial` and the run continues, so no run stays `running` forever.
   */
  async recover(): Promise<number[]> {
    const orphanAfter = this.options.orphanAfterSeconds ?? 60;
    const adopted = await this.store.pipelineRuns.adoptOrphans(this.options.instanceId, orphanAfter);
    for (const runId of adopted) {
      try {
        await this.store.blockRuns.resetUnfinished(runId);
        this.log(runId, 'INFO', `Pipeline run ${runId} adopted by ${this.options.instanceId} after its server stopped.`);
        await this.ensureActive(runId);
      } catch (err) {
        await this.failRun(runId, `Pipeline run ${runId} could not be resumed: ${(err as Error).message}`);
        continue;
      }
      this.pump(runId);
    }
    return adopted;
  }

  /**
   * Creates a run and its block runs (status initial); starts it unless `start: false`. Variables that cannot be
   * paths (runVariables.ts) are refused by the API before this; when they reach here all the same (a trigger's
   * or backfill's stored variables), the run is created with the default partition and failed at once with the
   * reason, and returned failed.
   */
  async createRun(input: CreateRunInput): Promise<PipelineRunRow> {
    const pipeline = this.pipelines.get(input.pipelineUuid);
    const executionDate = input.executionDate ?? new Date();
    const variables = { ...(input.variables ?? {}) };
    const refused = runVariableProblem(variables);
    if (refused || typeof variables.execution_partition !== 'string') {
      variables.execution_partition = executionPartition(input.scheduleId ?? null, executionDate);
    }
    const { run } = await this.store.pipelineRuns.createWithBlockRuns(
      {
        pipeline_uuid: pipeline.uuid,
        pipeline_schedule_id: input.scheduleId ?? null,
        execution_date: executionDate,
        variables,
        event_variables: input.eventVariables ?? {},
        backfill_id: input.backfillId ?? null,
        status: 'initial',
      },
      initialRunUuids(pipeline),
    );
    if (refused) {
      await this.failRun(run.id, `Pipeline run ${run.id} could not start: ${refused.message}`);
      return (await this.store.pipelineRuns.get(run.id)) ?? run;
    }
    if (input.start === false) return run;
    await this.startRun(run.id);
    return (await this.store.pipelineRuns.get(run.id)) ?? run;
  }

  /**
   * initial -> running, then dispatches the ready block runs. Returns false, changing nothing, when the run was
   * already started; returns false too when setting it up failed, after failing the run with the reason.
   * @param schedule the run's trigger when the caller has it at hand (saves reading it again).
   */
  async startRun(runId: number, schedule?: ScheduleRow | null): Promise<boolean> {
    const runRow = await this.store.pipelineRuns.transitionReturning(runId, ['initial'], 'running', {
      started_at: new Date(),
      owner_id: this.options.instanceId,
    });
    if (!runRow) return false;
    try {
      const entry = await this.ensureActive(runId, runRow, schedule);
      if (!entry) return false;
      if ((await this.store.blockRuns.countForRun(runId)) === 0) {
        await this.store.blockRuns.createForRun(runId, initialRunUuids(entry.pipeline));
      }
    } catch (err) {
      await this.failRun(runId, `Pipeline run ${runId} could not start: ${(err as Error).message}`);
      return false;
    }
    this.emitEvent({ type: 'run', runId, status: 'running' });
    this.log(runId, 'INFO', `Pipeline run ${runId} started.`);
    this.pump(runId);
    return true;
  }

  /**
   * Ends a run early: initial/running -> `status` (cancelled by a user; failed or cancelled by a run timeout).
   * Its unfinished block runs become cancelled and their code is killed before this resolves.
   */
  async cancelRun(runId: number, status: 'cancelled' | 'failed' = 'cancelled'): Promise<boolean> {
    return this.endRun(runId, status, { completed_at: new Date() }, `Pipeline run ${runId} ${status}.`);
  }

  /**
   * Fails a run that cannot go on, with `reason`: initial/running -> failed in one guarded UPDATE that also stores
   * the reason as `metrics.error` (the engine writes no other run metrics), then its unfinished block runs are
   * cancelled and the reason goes to pipeline.log. Never throws: when the database cannot be reached the
   * failure is retried at every heartbeat, so the run does not stay running. Returns whether this call failed it.
   */
  async failRun(runId: number, reason: string): Promise<boolean> {
    try {
      const metrics = { error: { error: reason, errors: [], message: reason } };
      const won = await this.endRun(runId, 'failed', { completed_at: new Date(), metrics }, reason);
      this.pendingFailures.delete(runId);
      return won;
    } catch {
      this.pendingFailures.set(runId, reason);
      return false;
    }
  }

  /** The guarded end of an active run: its status, its unfinished block runs cancelled, its code stopped. */
  private async endRun(runId: number, status: 'cancelled' | 'failed', patch: PipelineRunPatch, message: string): Promise<boolean> {
    const won = await this.store.pipelineRuns.transition(runId, [...ACTIVE_RUN], status, patch);
    if (!won) return false;
    this.stopCode(runId, `pipeline run ${status}`);
    const pending = (await this.store.blockRuns.listForRun(runId)).filter((b) => PENDING_BLOCK.includes(b.status as BlockRunStatus));
    await this.store.blockRuns.transitionAll(runId, [...PENDING_BLOCK], 'cancelled', { completed_at: new Date() });
    for (const b of pending) this.emitEvent({ type: 'block', runId, blockRunId: b.id, blockUuid: b.block_uuid, status: 'cancelled' });
    this.log(runId, status === 'cancelled' ? 'INFO' : 'ERROR', message);
    this.emitEvent({ type: 'run', runId, status });
    this.finishActive(runId);
    return true;
  }

  /** Aborts every block of the run executing here (the runtimes kill the code on abort). */
  private stopCode(runId: number, reason: string): void {
    const active = this.active.get(runId);
    if (!active) return;
    if (active.timeoutTimer) clearTimeout(active.timeoutTimer);
    for (const controller of active.controllers.values()) controller.abort(new Error(reason));
  }

  /**
   * Mage's `retry_blocks`: block runs not completed (or `fromBlockUuid` and everything downstream of it) go
   * back to `initial` and the run to `running`.
   */
  async retryBlocks(runId: number, fromBlockUuid?: string): Promise<void> {
    const run = await this.store.pipelineRuns.get(runId);
    if (!run) throw new RunNotFoundError(`Pipeline run ${runId} not found.`);
    const pipeline = this.pipelines.get(runPipelineUuid(run));
    const blockRuns = await this.store.blockRuns.listForRun(runId);
    let targets: BlockRunRow[];
    if (fromBlockUuid) {
      const downstream = downstreamClosure(pipeline, fromBlockUuid);
      const uuids = new Set(pipeline.blocks.map((b) => b.uuid));
      // A dynamic child's run (`<block>:<item>`) belongs to its block.
      targets = blockRuns.filter((b) => downstream.has(baseBlockUuid(b.block_uuid, uuids) ?? b.block_uuid));
    } else {
      targets = blockRuns.filter((b) => b.status !== 'completed');
    }
    if (this.active.has(runId)) {
      for (const b of targets) this.active.get(runId)!.controllers.get(b.id)?.abort(new Error('retried'));
    }
    await this.store.blockRuns.resetToInitial(targets.map((b) => b.id));
    await this.store.pipelineRuns.forceStatus(runId, 'running', { completed_at: null, owner_id: this.options.instanceId });
    this.emitEvent({ type: 'run', runId, status: 'running' });
    try {
      await this.ensureActive(runId);
    } catch (err) {
      await this.failRun(runId, `Pipeline run ${runId} could not be retried: ${(err as Error).message}`);
      return;
    }
    this.pump(runId);
  }

  /** Resolves when the run reaches a final status. */
  waitForRun(runId: number): Promise<RunStatus> {
    return new Promise((resolve, reject) => {
      const listener = (event: EngineEvent) => {
        if (event.type === 'run' && event.runId === runId && FINISHED_RUN.includes(event.status)) {
          this.off('event', listener);
          resolve(event.status);
        }
      };
      this.on('event', listener);
      this.store.pipelineRuns.get(runId).then((run) => {
        if (!run) {
          this.off('event', listener);
          reject(new RunNotFoundError(`Pipeline run ${runId} not found.`));
        } else if (FINISHED_RUN.includes(run.status as RunStatus)) {
          this.off('event', listener);
          resolve(run.status as RunStatus);
        }
      }, reject);
    });
  }

  private emitEvent(event: EngineEvent): void {
    this.emit('event', event);
  }

  /**
   * The in-memory state of a run this server executes, set up on first use.
   * @param known the run's row when the caller has just read or written it.
   * @throws RunVariableError, PipelineNotFoundError, ... when the run cannot be executed; callers fail the run.
   */
  private async ensureActive(runId: number, known?: PipelineRunRow, knownSchedule?: ScheduleRow | null): Promise<ActiveRun | undefined> {
    const existing = this.active.get(runId);
    if (existing) return existing;
    const run = known ?? (await this.store.pipelineRuns.get(runId));
    if (!run) return undefined;
    const refused = runVariableProblem(run.variables);
    if (refused) throw refused;
    const pipeline = this.pipelines.get(runPipelineUuid(run));
    // Refused with the reason rather than run differently from Mage (e.g. Mage's dynamic blocks v2).
    const dynamicProblem = dynamicConfigProblem(pipeline.blocks.map((b) => ({ uuid: b.uuid, upstream: b.upstream_blocks ?? [], configuration: b.configuration })));
    if (dynamicProblem) throw new Error(dynamicProblem);
    const schedule = !run.pipeline_schedule_id
      ? null
      : knownSchedule?.id === run.pipeline_schedule_id
        ? knownSchedule
        : ((await this.store.schedules.get(run.pipeline_schedule_id)) ?? null);
    const entry: ActiveRun = {
      pipeline,
      schedule,
      controllers: new Map(),
      pipelineLog: pipelineLogPath(this.project.dataDir, pipeline.uuid, runPartition(run)),
      run,
    };
    const timeout = Number(schedule?.settings?.timeout ?? 0);
    if (timeout > 0) {
      const startedAt = run.started_at ? new Date(run.started_at).getTime() : Date.now();
      const remaining = Math.max(0, startedAt + timeout * 1000 - Date.now());
      const timeoutStatus = schedule?.settings?.timeout_status === 'cancelled' ? 'cancelled' : 'failed';
      entry.timeoutTimer = setTimeout(() => {
        this.log(runId, 'ERROR', `Pipeline run ${runId} exceeded its timeout of ${timeout} seconds.`);
        void this.cancelRun(runId, timeoutStatus);
      }, remaining);
      entry.timeoutTimer.unref();
    }
    this.active.set(runId, entry);
    return entry;
  }

  private finishActive(runId: number): void {
    const entry = this.active.get(runId);
    if (entry?.timeoutTimer) clearTimeout(entry.timeoutTimer);
    if (entry && entry.controllers.size === 0) this.active.delete(runId);
  }

  /** Serialises planning per run: one decision at a time, each applied with guarded updates. */
  private pump(runId: number): void {
    if (this.closed) return;
    const previous = this.pumpChains.get(runId) ?? Promise.resolve();
    const next = previous
      .then(() => this.planOnce(runId))
      .catch((err) => this.log(runId, 'ERROR', `Scheduling error: ${(err as Error).message}`));
    this.pumpChains.set(runId, next);
    void next.finally(() => {
      if (this.pumpChains.get(runId) === next) this.pumpChains.delete(runId);
    });
  }

  private async planOnce(runId: number): Promise<void> {
    const run = await this.store.pipelineRuns.get(runId);
    if (!run || run.status !== 'running') {
      this.finishActive(runId);
      return;
    }
    let entry: ActiveRun | undefined;
    try {
      entry = await this.ensureActive(runId, run);
    } catch (err) {
      await this.failRun(runId, `Pipeline run ${runId} cannot go on: ${(err as Error).message}`);
      return;
    }
    if (!entry) return;
    const blockRuns = await this.store.blockRuns.listForRun(runId);
    const byUuid = new Map(blockRuns.map((b) => [b.block_uuid, b]));
    const settings = entry.schedule?.settings ?? {};
    const decision = decide({
      blocks: planNodes(entry.pipeline, blockRuns),
      statuses: Object.fromEntries(blockRuns.map((b) => [b.block_uuid, b.status as BlockRunStatus])),
      allowBlocksToFail: Boolean(settings.allow_blocks_to_fail),
      blockRunLimit: Number(entry.pipeline.concurrency_config?.block_run_limit ?? process.env.CONCURRENCY_CONFIG_BLOCK_RUN_LIMIT ?? 0) || undefined,
    });

    for (const uuid of decision.upstreamFailed) await this.setBlock(runId, byUuid.get(uuid)!, ['initial'], 'upstream_failed');
    for (const uuid of decision.conditionFailed) await this.setBlock(runId, byUuid.get(uuid)!, ['initial'], 'condition_failed');
    for (const uuid of decision.cancel) await this.setBlock(runId, byUuid.get(uuid)!, ['initial'], 'cancelled');

    if (decision.finish) {
      const won = await this.store.pipelineRuns.transition(runId, ['running'], decision.finish, { completed_at: new Date() });
      if (won) {
        this.log(runId, decision.finish === 'completed' ? 'INFO' : 'ERROR', `Pipeline run ${runId} ${decision.finish}.`);
        this.emitEvent({ type: 'run', runId, status: decision.finish });
        if (entry.schedule?.schedule_interval === '@once' && entry.schedule.schedule_type === 'time') {
          await this.store.schedules.update(entry.schedule.id, { status: 'inactive' });
        }
      }
      this.finishActive(runId);
      return;
    }

    for (const uuid of decision.queue) {
      const blockRun = byUuid.get(uuid)!;
      if (await this.setBlock(runId, blockRun, ['initial'], 'queued')) {
        const work = this.dispatch(runId, entry, blockRun.id, uuid, blockRun.metrics);
        this.dispatches.add(work);
        void work.finally(() => this.dispatches.delete(work));
      }
    }
  }

  private async setBlock(runId: number, blockRun: BlockRunRow, from: BlockRunStatus[], to: BlockRunStatus, patch: Record<string, unknown> = {}): Promise<boolean> {
    const won = await this.store.blockRuns.transition(blockRun.id, from, to, patch);
    if (won) this.emitEvent({ type: 'block', runId, blockRunId: blockRun.id, blockUuid: blockRun.block_uuid, status: to });
    return won;
  }

  private async dispatch(runId: number, entry: ActiveRun, blockRunId: number, blockUuid: string, metrics: Record<string, unknown> | null): Promise<void> {
    const controller = new AbortController();
    entry.controllers.set(blockRunId, controller);
    const release = await this.slots.acquire();
    try {
      if (controller.signal.aborted) return;
      // The first attempt is counted in the same UPDATE; retries count theirs (executeBlock.ts).
      const started = await this.store.blockRuns.transition(blockRunId, ['queued'], 'running', { started_at: new Date(), owner_id: this.options.instanceId, attempts: 1 });
      if (!started) return;
      this.emitEvent({ type: 'block', runId, blockRunId, blockUuid, status: 'running' });
      const run = entry.run;
      const outcome: BlockRunOutcome = await executeBlockRun({
        project: this.project,
        store: this.store,
        runtimes: this.options.runtimes,
        pipeline: entry.pipeline,
        schedule: entry.schedule,
        run,
        blockRunId,
        blockUuid,
        metrics,
        signal: controller.signal,
        getSecret: this.options.getSecret,
      });
      // Whoever aborted (cancel, run timeout, retry_blocks, shutdown) owns the block run's status from here.
      if (controller.signal.aborted) return;
      // A dynamic child keeps Mage's bookkeeping (its index, the runs it reads) in metrics beside any error; an
      // attempt's error does not outlive a later success. A finished block run has `{}` at least, as in Mage.
      const keep = dynamicBookkeeping(metrics);
      const outcomeMetrics = { ...(keep ?? {}), ...(outcome.metrics ?? {}) };
      const patch = { completed_at: new Date(), metrics: outcomeMetrics };
      const children = outcome.status === 'completed' ? await this.childRunsOf(runId, entry, blockUuid) : [];
      if (await this.store.blockRuns.transitionWithChildren(blockRunId, ['running'], outcome.status, patch, children)) {
        this.emitEvent({ type: 'block', runId, blockRunId, blockUuid, status: outcome.status, error: outcome.errorMessage });
        if (children.length) this.log(runId, 'INFO', `Dynamic block ${blockUuid} spawned ${children.length} block run(s): ${children.map((c) => c.block_uuid).join(', ')}.`);
      }
    } catch (err) {
      if (controller.signal.aborted) return;
      this.log(runId, 'ERROR', `Block ${blockUuid} could not be executed: ${(err as Error).message}`);
      const failure = { ...(dynamicBookkeeping(metrics) ?? {}), error: { error: (err as Error).message, errors: [], message: (err as Error).message } };
      if (await this.store.blockRuns.transition(blockRunId, ['queued', 'running'], 'failed', { completed_at: new Date(), metrics: failure })) {
        this.emitEvent({ type: 'block', runId, blockRunId, blockUuid, status: 'failed', error: (err as Error).message });
      }
    } finally {
      release();
      if (entry.controllers.get(blockRunId) === controller) entry.controllers.delete(blockRunId);
      this.pump(runId);
    }
  }

  /**
   * The block runs a completed run of a dynamic block spawns (none for other blocks). Reading its items can fail
   * (an output that is no list): that error fails the block run, as the caller's catch records it.
   */
  private async childRunsOf(runId: number, entry: ActiveRun, blockRunUuid: string): Promise<ChildBlockRun[]> {
    const blocks = dynamicPlanBlocks(entry.pipeline);
    const base = baseBlockUuid(blockRunUuid, new Set(blocks.map((b) => b.uuid)));
    const block = blocks.find((b) => b.uuid === base);
    if (!block?.dynamic) return [];
    const dir = blockVariablesDir(this.project.dataDir, entry.pipeline.uuid, runPartition(entry.run), blockRunUuid);
    const items = await readDynamicItems(dir);
    const existing = new Set((await this.store.blockRuns.listForRun(runId)).map((b) => b.block_uuid));
    return spawnChildRuns({
      blocks,
      parentBlockUuid: block.uuid,
      parentRunUuid: blockRunUuid,
      itemCount: items.form === 'list' ? items.items.length : items.count,
      metadata: items.form === 'list' ? items.metadata : undefined,
      existing,
    });
  }

  /** Appends a line to the run's pipeline.log (a few lines per run, so each opens and closes the file). */
  private log(runId: number, level: 'INFO' | 'ERROR', message: string): void {
    void (async () => {
      let path = this.active.get(runId)?.pipelineLog;
      let uuid = this.active.get(runId)?.pipeline.uuid;
      if (!path || !uuid) {
        const run = await this.store.pipelineRuns.get(runId);
        if (!run) return;
        uuid = runPipelineUuid(run);
        path = pipelineLogPath(this.project.dataDir, uuid, runPartition(run));
      }
      const file = new LogFile(path);
      file.write(formatLogLine({ level, message, timestamp: Date.now() / 1000 }, { pipeline_uuid: uuid, pipeline_run_id: runId }));
      await file.close();
    })().catch(() => undefined);
  }
}

/** The block runs a run starts with: its runnable blocks without a dynamic ancestor (the rest are spawned). */
function initialRunUuids(pipeline: PipelineConfig): string[] {
  const initial = new Set(initialBlockUuids(dynamicPlanBlocks(pipeline)));
  return runnableBlocks(pipeline).filter((b) => initial.has(b.uuid)).map((b) => b.uuid);
}

/**
 * The planner's nodes: one per block run of a runnable block, in the pipeline's block order. A dynamic child's
 * run waits for the block runs in its `dynamic_upstream_block_uuids`; any other for its block's upstream blocks.
 */
function planNodes(pipeline: PipelineConfig, blockRuns: readonly BlockRunRow[]): Array<{ uuid: string; upstream: string[] }> {
  const runnable = runnableBlocks(pipeline);
  const position = new Map(runnable.map((b, i) => [b.uuid, i]));
  const uuids = new Set(pipeline.blocks.map((b) => b.uuid));
  const nodes: Array<{ uuid: string; upstream: string[]; at: number; id: number }> = [];
  for (const run of blockRuns) {
    const base = baseBlockUuid(run.block_uuid, uuids);
    const at = base === undefined ? undefined : position.get(base);
    if (at === undefined) continue;
    const dynamicUpstream = run.metrics?.dynamic_upstream_block_uuids;
    const upstream = Array.isArray(dynamicUpstream)
      ? dynamicUpstream.filter((u): u is string => typeof u === 'string')
      : (runnable[at].upstream_blocks ?? []);
    nodes.push({ uuid: run.block_uuid, upstream, at, id: run.id });
  }
  nodes.sort((a, b) => a.at - b.at || a.id - b.id);
  return nodes.map(({ uuid, upstream }) => ({ uuid, upstream }));
}

/** A dynamic child's own metrics (Mage's metadata, index and upstream runs), kept when its run finishes. */
function dynamicBookkeeping(metrics: Record<string, unknown> | null): Record<string, unknown> | undefined {
  if (!metrics || !('dynamic_upstream_block_uuids' in metrics || 'dynamic_block_index' in metrics)) return undefined;
  const { error: _error, ...rest } = metrics;
  return rest;
}

/** The blocks that get block runs: everything but markdown, callback and conditional blocks. */
export function runnableBlocks(pipeline: PipelineConfig) {
  return pipeline.blocks.filter((b) => !['markdown', 'callback', 'conditional', 'scratchpad', 'chart'].includes(b.type));
}

function downstreamClosure(pipeline: PipelineConfig, from: string): Set<string> {
  const down = new Map<string, string[]>();
  for (const b of pipeline.blocks) for (const u of b.upstream_blocks ?? []) down.set(u, [...(down.get(u) ?? []), b.uuid]);
  const seen = new Set<string>([from]);
  const stack = [from];
  while (stack.length) for (const d of down.get(stack.pop()!) ?? []) if (!seen.has(d)) (seen.add(d), stack.push(d));
  return seen;
}
