/**
 * The texts of run notifications, as Mage's NotificationSender builds them
 * (mage_ai/orchestration/notification/sender.py): a title, a summary and details (the summary plus a link to
 * the run in the UI), from Mage's default messages or the config's `message_templates`.
 *
 * Templates use Mage's placeholders: `{pipeline_uuid}`, `{pipeline_schedule_id}`, `{pipeline_schedule_name}`,
 * `{execution_time}`, `{pipeline_run_url}`, `{error}` and `{stacktrace}`. The Jinja form `{{pipeline_uuid}}`
 * (older Mage releases) is accepted too. Unknown placeholders stay as written.
 */
import type { MessageTemplate } from './config.js';

export type MessageKind = 'success' | 'failure' | 'passed_sla';

/** Mage's `DEFAULT_MESSAGES`. */
export const DEFAULT_MESSAGES: Record<MessageKind, { title: string; summary: string }> = {
  success: {
    title: 'Successfully ran Pipeline {pipeline_uuid}',
    summary: 'Successfully ran Pipeline `{pipeline_uuid}` with Trigger {pipeline_schedule_id} `{pipeline_schedule_name}` at execution time `{execution_time}`.',
  },
  failure: {
    title: 'Failed to run Mage pipeline {pipeline_uuid}',
    summary:
      'Failed to run Pipeline `{pipeline_uuid}` with Trigger {pipeline_schedule_id} `{pipeline_schedule_name}` at execution time `{execution_time}`. Error: {error}',
  },
  passed_sla: {
    // Mage writes `{{pipeline_uuid}}` here, which its str.format prints as a literal `{pipeline_uuid}`; the
    // uuid is what was meant.
    title: 'SLA missed for Mage pipeline {pipeline_uuid}',
    summary: 'SLA missed for pipeline `{pipeline_uuid}` with Trigger {pipeline_schedule_id} `{pipeline_schedule_name}` at execution time `{execution_time}`.',
  },
};

/** Mage's `DEFAULT_LOCALHOST_URL`, the host of run links when `MAGE_PUBLIC_HOST` is not set. */
export const DEFAULT_PUBLIC_HOST = 'http://localhost:6789';

/** What a message talks about. */
export interface MessageContext {
  pipelineUuid: string;
  scheduleId: number;
  scheduleName: string;
  /** The run's execution date as stored (`YYYY-MM-DD HH:MM:SS.ffffff+00:00`). */
  executionTime: string | null;
  runId: number;
  /** Failure only: e.g. `Failed blocks: load, clean.` */
  error?: string | null;
  /** Failure only: the first failed block's traceback. */
  stacktrace?: string | null;
}

export interface LinkSettings {
  /** Scheme and host (and optional path prefix) of the UI, without a trailing slash. */
  publicHost: string;
  /** Whether details end with "Open <url> to check pipeline run results and logs." */
  includeLink: boolean;
}

export interface RenderedMessage {
  title: string;
  summary: string;
  details: string;
}

/**
 * Mage's link rule: the host is `MAGE_PUBLIC_HOST` (default http://localhost:6789), and the link is left out
 * only in production (`ENV=production`) when no public host is set, since a localhost link is useless there.
 * @param publicHost overrides `MAGE_PUBLIC_HOST`.
 */
export function linkSettings(env: NodeJS.ProcessEnv = process.env, publicHost?: string): LinkSettings {
  const host = (publicHost?.trim() || env.MAGE_PUBLIC_HOST?.trim() || DEFAULT_PUBLIC_HOST).replace(/\/+$/, '');
  return { publicHost: host, includeLink: env.ENV !== 'production' || host !== DEFAULT_PUBLIC_HOST };
}

/** The run's page in the UI: `<host>/pipelines/<uuid>/runs/<id>`. */
export function pipelineRunUrl(publicHost: string, pipelineUuid: string, runId: number): string {
  return `${publicHost}/pipelines/${encodeURIComponent(pipelineUuid)}/runs/${runId}`;
}

const PLACEHOLDER_RE = /\{\{\s*([a-z_]+)\s*\}\}|\{([a-z_]+)\}/g;

/** Replaces Mage's placeholders in `text`; null values print as empty text. */
export function interpolate(text: string, context: MessageContext, link: LinkSettings): string {
  const values: Record<string, string> = {
    pipeline_uuid: context.pipelineUuid,
    pipeline_schedule_id: String(context.scheduleId),
    pipeline_schedule_name: context.scheduleName,
    execution_time: context.executionTime ?? '',
    pipeline_run_url: pipelineRunUrl(link.publicHost, context.pipelineUuid, context.runId),
    error: context.error ?? '',
    stacktrace: context.stacktrace ?? '',
  };
  return text.replace(PLACEHOLDER_RE, (whole, jinja: string | undefined, plain: string | undefined) => {
    const name = (jinja ?? plain)!;
    return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
  });
}

function withRunLink(text: string, link: LinkSettings): string {
  let out = `${text}\n`;
  if (link.includeLink) out += 'Open {pipeline_run_url} to check pipeline run results and logs.';
  return out;
}

/**
 * Builds a message as Mage's `__send_pipeline_run_message`: each of title, summary and details comes from the
 * template when it sets that part, otherwise from the default. The default details are the default summary
 * followed by the run link (also when the template sets only a summary, as Mage).
 */
export function buildMessage(kind: MessageKind, context: MessageContext, template: MessageTemplate | undefined, link: LinkSettings): RenderedMessage {
  const defaults = DEFAULT_MESSAGES[kind];
  const title = template?.title ?? defaults.title;
  const summary = template?.summary ?? defaults.summary;
  const details = template?.details ?? withRunLink(defaults.summary, link);
  return {
    title: interpolate(title, context, link),
    summary: interpolate(summary, context, link),
    details: interpolate(details, context, link),
  };
}
