/**
 * Mage's `notification_config` (mage_ai/orchestration/notification/config.py): which run events alert
 * (`alert_on`), where alerts go (one `<service>_config` per channel) and custom message templates.
 *
 * The config of a run is the project's metadata.yaml `notification_config` with the pipeline's metadata.yaml
 * `notification_config` merged over it key by key (Mage's shallow `merge_dict`): a pipeline that sets
 * `slack_config` replaces the project's whole `slack_config`, and one that sets `alert_on` replaces the list.
 *
 * Problems of the config as a whole (not a mapping, a bad `alert_on`) throw NotificationConfigError. A problem
 * inside one channel's section disables only that channel and is returned in `issues`, as Mage drops a channel
 * config that fails to load and keeps the others.
 */
import { renderEnvVars } from '../project/projectConfig.js';

export const ALERT_ON = ['trigger_failure', 'trigger_success', 'trigger_passed_sla'] as const;
/** Mage's `AlertOn`: a run failed, a run completed, a running run passed its trigger's SLA. */
export type AlertOn = (typeof ALERT_ON)[number];
/** Mage's `DEFAULT_ALERT_ON`: failures and passed SLAs, not successes. */
export const DEFAULT_ALERT_ON: readonly AlertOn[] = ['trigger_failure', 'trigger_passed_sla'];

/** The channels with a `<name>_config` section, in the order Mage sends to them. */
export const CHANNELS = ['slack', 'teams', 'discord', 'telegram', 'google_chat', 'email', 'opsgenie'] as const;
export type ChannelName = (typeof CHANNELS)[number];

/** Slack, Teams, Discord, Telegram and Google Chat: an incoming-webhook URL. */
export interface WebhookChannelConfig {
  webhook_url: string;
}

/** Opsgenie's alert API (`POST <url>` with `Authorization: GenieKey <api_key>`). */
export interface OpsgenieConfig {
  /** e.g. `https://api.opsgenie.com/v2/alerts`. */
  url: string;
  api_key: string;
  /** Default `P3`. */
  priority: string;
  /** Default `[]`. */
  responders: unknown[];
  /** Default `[]`. */
  tags: unknown[];
  /** Default `{}`. */
  details: Record<string, unknown>;
}

/** Mail through an SMTP server (Mage's EmailConfig). */
export interface EmailConfig {
  smtp_host: string;
  /** The From address (header and envelope sender). */
  smtp_mail_from: string;
  /** With `smtp_password`, logs in (AUTH PLAIN or LOGIN); without, sends unauthenticated. */
  smtp_user: string | null;
  smtp_password: string | null;
  /** Upgrade the connection with STARTTLS before logging in (default true). Ignored with `smtp_ssl`. */
  smtp_starttls: boolean;
  /** Connect with TLS from the first byte (SMTPS, usually port 465). Default false. */
  smtp_ssl: boolean;
  /** Default 587. */
  smtp_port: number;
  to_emails: string[];
}

/** One message's custom texts; unset parts fall back to Mage's defaults. */
export interface MessageTemplate {
  /** Short line: email subject, Slack header, Opsgenie alert message. */
  title?: string;
  /** A few sentences: the Teams, Discord, Telegram and Google Chat text. */
  summary?: string;
  /** The long form: Slack text, email body, Opsgenie description. */
  details?: string;
}

export interface MessageTemplates {
  success?: MessageTemplate;
  failure?: MessageTemplate;
  passed_sla?: MessageTemplate;
}

/** The merged, checked config. A channel is null when it is not configured (or its section was unusable). */
export interface NotificationConfig {
  alert_on: AlertOn[];
  slack_config: WebhookChannelConfig | null;
  teams_config: WebhookChannelConfig | null;
  discord_config: WebhookChannelConfig | null;
  telegram_config: WebhookChannelConfig | null;
  google_chat_config: WebhookChannelConfig | null;
  email_config: EmailConfig | null;
  opsgenie_config: OpsgenieConfig | null;
  message_templates: MessageTemplates;
}

export interface ParsedNotificationConfig {
  config: NotificationConfig;
  /** Channel sections that were skipped, unknown keys, unresolved secrets: each a sentence for the logs. */
  issues: string[];
}

/** The config cannot be used at all; the message names the key and what was wrong with it. */
export class NotificationConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotificationConfigError';
  }
}

const WEBHOOK_CHANNELS = ['slack', 'teams', 'discord', 'telegram', 'google_chat'] as const;
/** Keys Mage knows whose channels Blockflow does not send to. */
const UNSUPPORTED_KEYS = new Set(['ntfy_config']);
const TEMPLATE_KINDS = ['success', 'failure', 'passed_sla'] as const;
const TEMPLATE_PARTS = ['title', 'summary', 'details'] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${String(value)}`;
}

/**
 * Mage's `merge_dict(project, pipeline)`: the pipeline's keys replace the project's. Either side may be
 * null/undefined (no config). @throws NotificationConfigError when a side is not a mapping.
 */
export function mergeNotificationConfigs(project: unknown, pipeline: unknown): Record<string, unknown> {
  for (const [where, value] of [['project metadata.yaml', project], ['pipeline metadata.yaml', pipeline]] as const) {
    if (value !== null && value !== undefined && !isRecord(value)) {
      throw new NotificationConfigError(`notification_config in the ${where} must be a mapping, not ${describe(value)}.`);
    }
  }
  return { ...((project as Record<string, unknown> | null) ?? {}), ...((pipeline as Record<string, unknown> | null) ?? {}) };
}

/** A URL's scheme and host only: webhook URLs carry their credentials in the path. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(not a URL)';
  }
}

/** A channel's URL, or null: unset (null, `None`, as Mage's `is_valid`) is silent, anything unusable is an issue. */
function webhookUrl(raw: unknown, key: string, issues: string[]): string | null {
  if (raw === null || raw === undefined || raw === 'None') return null;
  if (typeof raw !== 'string') {
    issues.push(`${key}.webhook_url must be a URL text, not ${describe(raw)}; the channel is skipped.`);
    return null;
  }
  const url = raw.trim();
  if (url === '') {
    issues.push(`${key}.webhook_url is empty (an unset environment variable?); the channel is skipped.`);
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    issues.push(`${key}.webhook_url is not a valid URL; the channel is skipped.`);
    return null;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    issues.push(`${key}.webhook_url must be an http or https URL, not ${parsed.protocol}; the channel is skipped.`);
    return null;
  }
  return url;
}

function parseWebhookChannel(raw: unknown, key: string, issues: string[]): WebhookChannelConfig | null {
  if (raw === null || raw === undefined) return null;
  if (!isRecord(raw)) {
    issues.push(`${key} must be a mapping with webhook_url, not ${describe(raw)}; the channel is skipped.`);
    return null;
  }
  for (const k of Object.keys(raw)) if (k !== 'webhook_url') issues.push(`${key}.${k} is not a known setting; it is ignored.`);
  const url = webhookUrl(raw.webhook_url, key, issues);
  return url ? { webhook_url: url } : null;
}

function optionalText(raw: Record<string, unknown>, key: string, where: string): string | null {
  const value = raw[key];
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') throw new Error(`${where}.${key} must be text, not ${describe(value)}`);
  return value;
}

function bool(raw: Record<string, unknown>, key: string, where: string, fallback: boolean): boolean {
  const value = raw[key];
  if (value === null || value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'True') return true;
  if (value === 'false' || value === 'False') return false;
  throw new Error(`${where}.${key} must be true or false, not ${describe(value)}`);
}

const EMAIL_KEYS = new Set(['smtp_host', 'smtp_mail_from', 'smtp_user', 'smtp_password', 'smtp_starttls', 'smtp_ssl', 'smtp_port', 'to_emails']);

function parseEmail(raw: unknown, issues: string[]): EmailConfig | null {
  const key = 'email_config';
  if (raw === null || raw === undefined) return null;
  if (!isRecord(raw)) {
    issues.push(`${key} must be a mapping, not ${describe(raw)}; email is skipped.`);
    return null;
  }
  for (const k of Object.keys(raw)) if (!EMAIL_KEYS.has(k)) issues.push(`${key}.${k} is not a known setting; it is ignored.`);
  try {
    const host = optionalText(raw, 'smtp_host', key)?.trim();
    if (!host) throw new Error(`${key}.smtp_host is required`);
    const from = optionalText(raw, 'smtp_mail_from', key)?.trim();
    if (!from) throw new Error(`${key}.smtp_mail_from is required`);
    const portRaw = raw.smtp_port ?? 587;
    const port = typeof portRaw === 'string' && portRaw.trim() !== '' ? Number(portRaw) : portRaw;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`${key}.smtp_port must be a port number (1-65535), not ${describe(portRaw)}`);
    }
    let to: string[];
    const toRaw = raw.to_emails;
    if (toRaw === null || toRaw === undefined) to = [];
    else if (typeof toRaw === 'string') to = toRaw.split(',');
    else if (Array.isArray(toRaw) && toRaw.every((x) => typeof x === 'string')) to = toRaw as string[];
    else throw new Error(`${key}.to_emails must be a list of addresses, not ${describe(toRaw)}`);
    to = to.map((x) => x.trim()).filter((x) => x !== '');
    if (to.length === 0) {
      issues.push(`${key}.to_emails is empty; email is skipped.`);
      return null;
    }
    for (const address of [from, ...to]) {
      if (/[\r\n]/.test(address)) throw new Error(`${key} has an address with a line break`);
    }
    return {
      smtp_host: host,
      smtp_mail_from: from,
      smtp_user: optionalText(raw, 'smtp_user', key),
      smtp_password: optionalText(raw, 'smtp_password', key),
      smtp_starttls: bool(raw, 'smtp_starttls', key, true),
      smtp_ssl: bool(raw, 'smtp_ssl', key, false),
      smtp_port: port,
      to_emails: to,
    };
  } catch (err) {
    issues.push(`${(err as Error).message}; email is skipped.`);
    return null;
  }
}

const OPSGENIE_KEYS = new Set(['url', 'api_key', 'priority', 'responders', 'tags', 'details']);

function parseOpsgenie(raw: unknown, issues: string[]): OpsgenieConfig | null {
  const key = 'opsgenie_config';
  if (raw === null || raw === undefined) return null;
  if (!isRecord(raw)) {
    issues.push(`${key} must be a mapping, not ${describe(raw)}; Opsgenie is skipped.`);
    return null;
  }
  for (const k of Object.keys(raw)) if (!OPSGENIE_KEYS.has(k)) issues.push(`${key}.${k} is not a known setting; it is ignored.`);
  const unset = (v: unknown) => v === null || v === undefined || v === 'None';
  if (unset(raw.url) && unset(raw.api_key)) return null;
  const url = webhookUrl(raw.url, key, []);
  if (!url) {
    issues.push(`${key}.url must be an http or https URL; Opsgenie is skipped.`);
    return null;
  }
  const apiKey = typeof raw.api_key === 'string' ? raw.api_key.trim() : '';
  if (apiKey === '' || apiKey === 'None') {
    issues.push(`${key}.api_key is not set; Opsgenie is skipped.`);
    return null;
  }
  const list = (k: 'responders' | 'tags'): unknown[] | undefined => {
    const v = raw[k];
    if (v === null || v === undefined) return [];
    if (Array.isArray(v)) return v;
    issues.push(`${key}.${k} must be a list, not ${describe(v)}; Opsgenie is skipped.`);
    return undefined;
  };
  const responders = list('responders');
  const tags = list('tags');
  const details = raw.details === null || raw.details === undefined ? {} : raw.details;
  if (!isRecord(details)) issues.push(`${key}.details must be a mapping, not ${describe(details)}; Opsgenie is skipped.`);
  if (!responders || !tags || !isRecord(details)) return null;
  const priority = raw.priority === null || raw.priority === undefined ? 'P3' : String(raw.priority);
  return { url, api_key: apiKey, priority, responders, tags, details };
}

function parseTemplates(raw: unknown, issues: string[]): MessageTemplates {
  if (raw === null || raw === undefined) return {};
  if (!isRecord(raw)) {
    issues.push(`message_templates must be a mapping of success/failure/passed_sla, not ${describe(raw)}; the default messages are used.`);
    return {};
  }
  const out: MessageTemplates = {};
  for (const [kind, value] of Object.entries(raw)) {
    if (!(TEMPLATE_KINDS as readonly string[]).includes(kind)) {
      issues.push(`message_templates.${kind} is not a message kind (success, failure, passed_sla); it is ignored.`);
      continue;
    }
    if (value === null || value === undefined) continue;
    if (!isRecord(value)) {
      issues.push(`message_templates.${kind} must be a mapping of title/summary/details, not ${describe(value)}; the default is used.`);
      continue;
    }
    const template: MessageTemplate = {};
    for (const [part, text] of Object.entries(value)) {
      if (!(TEMPLATE_PARTS as readonly string[]).includes(part)) {
        issues.push(`message_templates.${kind}.${part} is not title, summary or details; it is ignored.`);
      } else if (text !== null && text !== undefined) {
        if (typeof text !== 'string') issues.push(`message_templates.${kind}.${part} must be text, not ${describe(text)}; the default is used.`);
        else template[part as (typeof TEMPLATE_PARTS)[number]] = text;
      }
    }
    out[kind as (typeof TEMPLATE_KINDS)[number]] = template;
  }
  return out;
}

function parseAlertOn(raw: unknown): AlertOn[] {
  if (raw === null || raw === undefined) return [...DEFAULT_ALERT_ON];
  if (!Array.isArray(raw)) {
    throw new NotificationConfigError(`notification_config.alert_on must be a list of ${ALERT_ON.join(', ')}; got ${describe(raw)}.`);
  }
  const out: AlertOn[] = [];
  for (const item of raw) {
    if (typeof item !== 'string' || !(ALERT_ON as readonly string[]).includes(item)) {
      throw new NotificationConfigError(`notification_config.alert_on has ${describe(item)}; the values are ${ALERT_ON.join(', ')}.`);
    }
    if (!out.includes(item as AlertOn)) out.push(item as AlertOn);
  }
  return out;
}

const KNOWN_KEYS = new Set(['alert_on', 'message_templates', 'email_config', 'opsgenie_config', ...WEBHOOK_CHANNELS.map((c) => `${c}_config`)]);

/**
 * Checks a (merged, rendered) notification_config mapping. `source` names it in error messages.
 * @throws NotificationConfigError when it is not a mapping or `alert_on` is not a list of known values.
 */
export function parseNotificationConfig(raw: unknown, source = 'notification_config'): ParsedNotificationConfig {
  if (raw === null || raw === undefined) raw = {};
  if (!isRecord(raw)) throw new NotificationConfigError(`${source} must be a mapping, not ${describe(raw)}.`);
  const issues: string[] = [];
  for (const key of Object.keys(raw)) {
    if (UNSUPPORTED_KEYS.has(key)) issues.push(`${key} is not supported by Blockflow; it is ignored.`);
    else if (!KNOWN_KEYS.has(key)) issues.push(`${source}.${key} is not a known setting; it is ignored.`);
  }
  const config: NotificationConfig = {
    alert_on: parseAlertOn(raw.alert_on),
    slack_config: parseWebhookChannel(raw.slack_config, 'slack_config', issues),
    teams_config: parseWebhookChannel(raw.teams_config, 'teams_config', issues),
    discord_config: parseWebhookChannel(raw.discord_config, 'discord_config', issues),
    telegram_config: parseWebhookChannel(raw.telegram_config, 'telegram_config', issues),
    google_chat_config: parseWebhookChannel(raw.google_chat_config, 'google_chat_config', issues),
    email_config: parseEmail(raw.email_config, issues),
    opsgenie_config: parseOpsgenie(raw.opsgenie_config, issues),
    message_templates: parseTemplates(raw.message_templates, issues),
  };
  return { config, issues };
}

/** The channels a config sends to. */
export function configuredChannels(config: NotificationConfig): ChannelName[] {
  return CHANNELS.filter((c) => config[`${c}_config`] !== null);
}

export interface RenderOptions {
  /** Environment for `{{ env_var('X') }}` / `{{ env_var('X', 'default') }}`. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Resolves `{{ mage_secret_var('name') }}`; without it such references render empty (with an issue). */
  getSecret?: (name: string) => Promise<string | undefined | null>;
}

const SECRET_RE = /\{\{\s*mage_secret_var\(\s*(['"])([^'"]*)\1\s*\)\s*\}\}/g;

/**
 * Renders `{{ env_var(...) }}` and `{{ mage_secret_var(...) }}` in every text value, as Mage renders
 * metadata.yaml as a template before reading it. A secret that cannot be resolved renders empty and is
 * reported in `issues` (naming the secret and the key, never a value).
 */
export async function renderNotificationConfig(raw: Record<string, unknown>, options: RenderOptions = {}): Promise<{ rendered: Record<string, unknown>; issues: string[] }> {
  const env = options.env ?? process.env;
  const issues: string[] = [];
  const render = async (value: unknown, path: string): Promise<unknown> => {
    if (typeof value === 'string') {
      let text = renderEnvVars(value, env);
      for (const m of [...text.matchAll(SECRET_RE)]) {
        let secret: string | undefined | null;
        try {
          secret = options.getSecret ? await options.getSecret(m[2]) : undefined;
        } catch (err) {
          issues.push(`Secret ${JSON.stringify(m[2])} used in ${path} could not be read: ${(err as Error).message}.`);
          secret = undefined;
        }
        if (secret === undefined || secret === null) {
          if (options.getSecret) issues.push(`Secret ${JSON.stringify(m[2])} used in ${path} does not exist.`);
          else issues.push(`${path} uses secret ${JSON.stringify(m[2])} but no secret store is available.`);
        }
        text = text.replace(m[0], secret ?? '');
      }
      return text;
    }
    if (Array.isArray(value)) return Promise.all(value.map((v, i) => render(v, `${path}[${i}]`)));
    if (isRecord(value)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = await render(v, `${path}.${k}`);
      return out;
    }
    return value;
  };
  return { rendered: (await render(raw, 'notification_config')) as Record<string, unknown>, issues };
}
