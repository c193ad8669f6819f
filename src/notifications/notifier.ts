/**
 * Run notifications as Mage sends them: when a triggered run ends (`failed` -> `trigger_failure`,
 * `completed` -> `trigger_success`) and when a running run passes its trigger's SLA (`trigger_passed_sla`).
 * Only runs of a trigger notify: Mage's messages name the trigger, and every Mage pipeline run has one.
 * Cancelled runs (by a user, or by a run timeout whose `timeout_status` is `cancelled`) do not notify.
 *
 * The config is read at each notification: the project's metadata.yaml `notification_config` (re-read, so an
 * edit applies without a restart) with the pipeline's merged over it, `{{ env_var() }}` and
 * `{{ mage_secret_var() }}` rendered. Delivery is asynchronous and never throws: problems (a bad config, a
 * webhook answering 500 twice, a timeout) go to `onProblem`.
 *
 * `attachNotifier` subscribes a notifier to the engine's `event` (`{type: 'run', runId, status}`) and the
 * scheduler's `notification` (`{type: 'trigger_passed_sla', pipeline_run_id, ...}`) events.
 */
import type { EventEmitter } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { loadPipeline } from '../project/pipeline.js';
import type { Project } from '../project/projectConfig.js';
import { parseYaml } from '../project/yamlFiles.js';
import type { Store } from '../store/db.js';
import type { BlockRunRow } from '../store/blockRuns.js';
import type { PipelineRunRow } from '../store/pipelineRuns.js';
import type { ScheduleRow } from '../store/schedules.js';
import { sendToChannels, type ChannelDelivery } from './channels.js';
import {
  configuredChannels,
  mergeNotificationConfigs,
  parseNotificationConfig,
  renderNotificationConfig,
  type AlertOn,
  type ChannelName,
  type ParsedNotificationConfig,
} from './config.js';
import { buildMessage, linkSettings, type MessageKind } from './messages.js';

/** What went wrong, for the logs. Messages never hold webhook URLs or secret values. */
export interface NotificationProblem {
  /** `config`: the notification config; `delivery`: a channel failed; `lookup`: the run, trigger or pipeline could not be read. */
  kind: 'config' | 'delivery' | 'lookup';
  message: string;
  runId?: number;
  pipelineUuid?: string;
  channel?: ChannelName;
}

export interface NotifierOptions {
  /** The project: its metadata.yaml is read for the project-level `notification_config`. */
  project: Project;
  /** Environment for `ENV`, `MAGE_PUBLIC_HOST` and `{{ env_var() }}`. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Scheme and host of the UI for run links; overrides `MAGE_PUBLIC_HOST` (default http://localhost:6789). */
  publicHost?: string;
  /** Resolves `{{ mage_secret_var('name') }}` in the config. */
  getSecret?: (name: string) => Promise<string | undefined | null>;
  /** Milliseconds one webhook request (or one SMTP exchange) may take. Default 10000. */
  timeoutMs?: number;
  /** Milliseconds before the one retry of a request that failed to connect or got a 5xx. Default 1000. */
  retryDelayMs?: number;
  /** Extra TLS options for SMTP (e.g. `ca` for a private certificate authority). */
  smtpTls?: ConnectionOptions;
  /** Where problems go. Default: one line on stderr. */
  onProblem?: (problem: NotificationProblem) => void;
}

/** The parts of a pipeline config a notification uses. */
export interface NotifiedPipeline {
  uuid: string;
  /** The pipeline's metadata.yaml `notification_config` (merged over the project's). */
  notification_config?: Record<string, unknown> | null;
}

export interface RunEndedInput {
  run: PipelineRunRow;
  schedule: ScheduleRow | null;
  pipeline: NotifiedPipeline;
  /** Failure: the short reason (Mage's `Failed blocks: a, b.` or `Pipeline run timed out.`). */
  error?: string | null;
  /** Failure: the first failed block's traceback, for templates using `{stacktrace}`. */
  stacktrace?: string | null;
}

export interface PassedSlaInput {
  run: PipelineRunRow;
  schedule: ScheduleRow | null;
  pipeline: NotifiedPipeline;
}

export interface NotifyOutcome {
  /** The alert considered, or null when the run's status alerts on nothing. */
  alert: AlertOn | null;
  /** True when at least one channel was tried. */
  sent: boolean;
  /** Why nothing was sent. */
  skipped?: 'no_trigger' | 'status' | 'alert_on' | 'no_channel' | 'bad_config';
  deliveries: ChannelDelivery[];
}

const ALERT_OF: Record<MessageKind, AlertOn> = { success: 'trigger_success', failure: 'trigger_failure', passed_sla: 'trigger_passed_sla' };

function defaultProblemSink(problem: NotificationProblem): void {
  const where = [problem.pipelineUuid && `pipeline ${problem.pipelineUuid}`, problem.runId !== undefined && `run ${problem.runId}`, problem.channel].filter(Boolean).join(', ');
  process.stderr.write(`[notifications] ${problem.kind}${where ? ` (${where})` : ''}: ${problem.message}\n`);
}

export class Notifier {
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly report: (problem: NotificationProblem) => void;

  constructor(private readonly options: NotifierOptions) {
    const sink = options.onProblem ?? defaultProblemSink;
    this.report = (problem) => {
      try {
        sink(problem);
      } catch {
        // A failing log callback must not turn into a failing notification.
      }
    };
  }

  /**
   * The config that applies to `pipeline`: project metadata.yaml merged with the pipeline's, rendered and
   * checked. @throws NotificationConfigError when it is unusable as a whole.
   */
  async configFor(pipeline: NotifiedPipeline): Promise<ParsedNotificationConfig> {
    const merged = mergeNotificationConfigs(this.projectNotificationConfig(), pipeline.notification_config ?? null);
    const { rendered, issues } = await renderNotificationConfig(merged, { env: this.options.env, getSecret: this.options.getSecret });
    const parsed = parseNotificationConfig(rendered, `notification_config of pipeline ${pipeline.uuid}`);
    return { config: parsed.config, issues: [...issues, ...parsed.issues] };
  }

  /** Sends the failure (status `failed`) or success (status `completed`) message of a finished run. */
  notifyRunEnded(input: RunEndedInput): Promise<NotifyOutcome> {
    const kind: MessageKind | null = input.run.status === 'failed' ? 'failure' : input.run.status === 'completed' ? 'success' : null;
    if (!kind) return Promise.resolve({ alert: null, sent: false, skipped: 'status', deliveries: [] });
    return this.track(this.send(kind, input));
  }

  /** Sends the SLA message of a run that passed its trigger's SLA. */
  notifyPassedSla(input: PassedSlaInput): Promise<NotifyOutcome> {
    return this.track(this.send('passed_sla', input));
  }

  /** Resolves when every notification started so far has finished (delivered, failed or timed out). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /** Keeps `work` in the in-flight set until it settles; the caller gets it back. */
  track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.then(
      () => this.inFlight.delete(work),
      () => this.inFlight.delete(work),
    );
    return work;
  }

  /** Reports a problem through the configured sink (used by attachNotifier for lookups). */
  problem(problem: NotificationProblem): void {
    this.report(problem);
  }

  /**
   * Whether the project or the pipeline has a notification_config at all: every finished run asks, and most
   * projects have none, so this answers from the cached project section before anything else is read.
   */
  hasConfig(pipeline: Pick<NotifiedPipeline, 'notification_config'>): boolean {
    const present = (v: unknown) => v !== null && v !== undefined && !(typeof v === 'object' && Object.keys(v as object).length === 0);
    return present(this.projectNotificationConfig()) || present(pipeline.notification_config);
  }

  private projectConfigCache?: { stamp: string; value: unknown };

  /** The project's notification_config as the file is now, parsed again only when metadata.yaml changes. */
  private projectNotificationConfig(): unknown {
    const path = join(this.options.project.root, 'metadata.yaml');
    try {
      const st = statSync(path);
      const stamp = `${st.mtimeMs}|${st.size}|${st.ino}`;
      if (this.projectConfigCache?.stamp === stamp) return this.projectConfigCache.value;
      const parsed = parseYaml(readFileSync(path, 'utf8'), path);
      const value = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>).notification_config ?? null : null;
      this.projectConfigCache = { stamp, value };
      return value;
    } catch (err) {
      this.report({ kind: 'config', message: `${(err as Error).message}; using the project config read at start.` });
      return this.options.project.metadata.notification_config ?? null;
    }
  }

  private async send(kind: MessageKind, input: RunEndedInput): Promise<NotifyOutcome> {
    const alert = ALERT_OF[kind];
    const { run, schedule, pipeline } = input;
    const about = { runId: run.id, pipelineUuid: pipeline.uuid };
    if (run.pipeline_schedule_id === null || !schedule) return { alert, sent: false, skipped: 'no_trigger', deliveries: [] };
    let parsed: ParsedNotificationConfig;
    try {
      parsed = await this.configFor(pipeline);
    } catch (err) {
      this.report({ kind: 'config', message: (err as Error).message, ...about });
      return { alert, sent: false, skipped: 'bad_config', deliveries: [] };
    }
    const { config, issues } = parsed;
    if (!config.alert_on.includes(alert)) return { alert, sent: false, skipped: 'alert_on', deliveries: [] };
    for (const issue of issues) this.report({ kind: 'config', message: issue, ...about });
    if (configuredChannels(config).length === 0) return { alert, sent: false, skipped: 'no_channel', deliveries: [] };
    const message = buildMessage(
      kind,
      {
        pipelineUuid: pipeline.uuid,
        scheduleId: schedule.id,
        scheduleName: schedule.name,
        executionTime: run.execution_date,
        runId: run.id,
        error: input.error,
        stacktrace: input.stacktrace,
      },
      config.message_templates[kind],
      linkSettings(this.options.env ?? process.env, this.options.publicHost),
    );
    const deliveries = await sendToChannels(config, message, {
      timeoutMs: this.options.timeoutMs,
      retryDelayMs: this.options.retryDelayMs,
      smtpTls: this.options.smtpTls,
    });
    for (const d of deliveries) {
      if (!d.result.ok) this.report({ kind: 'delivery', channel: d.channel, message: `${alert} notification not delivered: ${d.result.error}`, ...about });
    }
    return { alert, sent: true, deliveries };
  }
}

/** Mage keeps the last 50 lines of a long traceback. */
const STACKTRACE_LINES = 50;

/**
 * Mage's failure error and stacktrace from a run's block runs: `Failed blocks: a, b.` and the first failed
 * block's error (`Error for block a:\n<traceback>`, its last 50 lines). A failed run without failed blocks
 * was failed by its trigger's timeout.
 */
export function failureSummary(blockRuns: readonly BlockRunRow[]): { error: string; stacktrace: string | null } {
  const failed = blockRuns.filter((b) => b.status === 'failed');
  if (failed.length === 0) return { error: 'Pipeline run timed out.', stacktrace: null };
  let stacktrace: string | null = null;
  for (const b of failed) {
    const info = (b.metrics?.error ?? null) as { error?: unknown; errors?: unknown; message?: unknown } | null;
    if (!info || typeof info !== 'object') continue;
    const trace = Array.isArray(info.errors) ? info.errors.filter((x): x is string => typeof x === 'string') : [];
    const last = typeof info.error === 'string' && info.error ? info.error : typeof info.message === 'string' ? info.message : '';
    const text = [...trace.map((t) => t.replace(/\n+$/, '')), last].filter((t) => t !== '').join('\n');
    if (text === '') continue;
    let lines = text.split('\n');
    if (lines.length > STACKTRACE_LINES) lines = ['... (error truncated)', ...lines.slice(-STACKTRACE_LINES)];
    stacktrace = `Error for block ${b.block_uuid}:\n${lines.join('\n')}`;
    break;
  }
  return { error: `Failed blocks: ${failed.map((b) => b.block_uuid).join(', ')}.`, stacktrace };
}

export interface NotificationSources {
  /** The run engine: emits `event` with `{type: 'run', runId, status}`. */
  engine: EventEmitter;
  /** The scheduler service: emits `notification` with `{type: 'trigger_passed_sla', pipeline_run_id, ...}`. */
  scheduler?: EventEmitter;
  store: Store;
  project: Project;
  /** Parsed pipeline configs (the engine's cache); default: each pipeline's metadata.yaml read per notification. */
  pipelines?: { get(uuid: string): NotifiedPipeline };
}

export interface AttachedNotifier {
  notifier: Notifier;
  /** Stops listening (notifications already started still finish; await `idle()` for them). */
  detach(): void;
  /** Resolves when every notification started so far has finished. */
  idle(): Promise<void>;
}

interface RunEventLike {
  type?: unknown;
  runId?: unknown;
  status?: unknown;
}

interface SlaEventLike {
  type?: unknown;
  pipeline_run_id?: unknown;
  pipeline_schedule_id?: unknown;
}

/**
 * Subscribes a Notifier to the engine and scheduler. Listeners only start the work and return, so a slow or
 * hanging webhook never holds up the engine or the scheduler.
 */
export function attachNotifier(sources: NotificationSources, options: Omit<NotifierOptions, 'project'> = {}): AttachedNotifier {
  const { store, project } = sources;
  const notifier = new Notifier({ ...options, project });

  const lookup = async (runId: number): Promise<{ run: PipelineRunRow; schedule: ScheduleRow | null; pipeline: NotifiedPipeline } | null> => {
    const run = await store.pipelineRuns.get(runId);
    if (!run) {
      notifier.problem({ kind: 'lookup', runId, message: `pipeline run ${runId} no longer exists; no notification.` });
      return null;
    }
    // Mage only notifies runs of a trigger; skip the rest before any more reads.
    if (run.pipeline_schedule_id === null) return null;
    let schedule: ScheduleRow | null | undefined;
    let uuid = run.pipeline_uuid;
    if (!uuid) {
      schedule = (await store.schedules.get(run.pipeline_schedule_id)) ?? null;
      uuid = schedule?.pipeline_uuid ?? null;
    }
    if (!uuid) {
      notifier.problem({ kind: 'lookup', runId, message: `pipeline run ${runId} names no pipeline; no notification.` });
      return null;
    }
    let pipeline: NotifiedPipeline;
    try {
      pipeline = sources.pipelines ? sources.pipelines.get(uuid) : loadPipeline(project, uuid);
    } catch (err) {
      // The project-level config still applies to a pipeline whose metadata.yaml is gone or broken.
      notifier.problem({ kind: 'lookup', runId, pipelineUuid: uuid, message: `${(err as Error).message} Only the project notification_config applies.` });
      pipeline = { uuid, notification_config: null };
    }
    // Without any notification_config nothing can be sent: no more reads for this run.
    if (!notifier.hasConfig(pipeline)) return null;
    if (schedule === undefined) schedule = (await store.schedules.get(run.pipeline_schedule_id)) ?? null;
    return { run, schedule, pipeline };
  };

  const onRun = (event: RunEventLike) => {
    if (event?.type !== 'run' || typeof event.runId !== 'number') return;
    const status = event.status;
    if (status !== 'failed' && status !== 'completed') return;
    const runId = event.runId;
    notifier.track(
      (async () => {
        const found = await lookup(runId);
        if (!found) return;
        // The event's status is what happened, even if the run was retried since.
        const run: PipelineRunRow = { ...found.run, status };
        const failure = status === 'failed' ? failureSummary(await store.blockRuns.listForRun(runId)) : undefined;
        await notifier.notifyRunEnded({ ...found, run, error: failure?.error, stacktrace: failure?.stacktrace });
      })().catch((err) => notifier.problem({ kind: 'lookup', runId, message: `could not notify: ${(err as Error).message}` })),
    );
  };

  const onNotification = (event: SlaEventLike) => {
    if (event?.type !== 'trigger_passed_sla' || typeof event.pipeline_run_id !== 'number') return;
    const runId = event.pipeline_run_id;
    notifier.track(
      (async () => {
        const found = await lookup(runId);
        if (found) await notifier.notifyPassedSla(found);
      })().catch((err) => notifier.problem({ kind: 'lookup', runId, message: `could not notify: ${(err as Error).message}` })),
    );
  };

  sources.engine.on('event', onRun);
  sources.scheduler?.on('notification', onNotification);
  return {
    notifier,
    detach() {
      sources.engine.off('event', onRun);
      sources.scheduler?.off('notification', onNotification);
    },
    idle: () => notifier.idle(),
  };
}
