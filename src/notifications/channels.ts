/**
 * The request each service expects, as Mage's senders build them (mage_ai/services/<service>/<service>.py),
 * and delivery of one message to every configured channel at once.
 *
 * What each channel gets, as Mage's `NotificationSender.send`:
 * - Slack: header block with the title, then the details (`{"blocks": [header, divider, mrkdwn section]}`).
 * - Teams: a MessageCard `{"summary", "sections": [{"activityTitle", "activitySubtitle"}]}` titled
 *   "Mage pipeline run status logs", with the summary.
 * - Discord: `{"content": "**title**\nsummary"}`.
 * - Telegram: `{"text": "<b>title</b>\n\nsummary", "parse_mode": "HTML"}`.
 * - Google Chat: `{"text": "*Mage pipeline run status logs*\nsummary"}`.
 * - Email: subject = title, body = details.
 * - Opsgenie: an alert with message = title, description = details.
 * Texts longer than a service accepts are cut (with "…") rather than refused by it.
 */
import type { ConnectionOptions } from 'node:tls';
import type { ChannelName, NotificationConfig, OpsgenieConfig } from './config.js';
import { postJson, type DeliveryOptions, type DeliveryResult } from './http.js';
import type { RenderedMessage } from './messages.js';
import { sendMail } from './smtp.js';

/** The title Mage's Teams and Google Chat senders use (they are called without one). */
export const DEFAULT_CHANNEL_TITLE = 'Mage pipeline run status logs';

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Mage's senders turn escaped `\n` (two characters) into line breaks. */
function unescapeNewlines(text: string): string {
  return text.replace(/\\n/g, '\n');
}

/** Slack incoming webhook: header (plain text, at most 150 characters) and a mrkdwn section (3000). */
export function slackPayload(message: string, title?: string) {
  return {
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: cut(title || 'Mage Notification', 150) } },
      { type: 'divider' },
      { type: 'section', text: { type: 'mrkdwn', text: cut(unescapeNewlines(message), 3000) } },
    ],
  };
}

/** Microsoft Teams incoming webhook (legacy MessageCard, as Mage sends). */
export function teamsPayload(message: string, title = DEFAULT_CHANNEL_TITLE) {
  return { summary: title, sections: [{ activityTitle: title, activitySubtitle: message }] };
}

/** Discord webhook: one message of at most 2000 characters. */
export function discordPayload(message: string, title: string) {
  return { content: cut(`**${title}**\n${message}`, 2000) };
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Telegram Bot API `sendMessage` URL (the chat id in its query): HTML mode, at most 4096 characters. Texts
 * are HTML-escaped, since Telegram refuses a message whose error text holds a `<`.
 */
export function telegramPayload(message: string, title: string) {
  return { text: cut(`<b>${escapeHtml(title)}</b>\n\n${escapeHtml(message)}`, 4096), parse_mode: 'HTML' };
}

/** Google Chat incoming webhook: one text of at most 4096 characters. */
export function googleChatPayload(message: string, title = DEFAULT_CHANNEL_TITLE) {
  return { text: cut(`*${title}*\n${message}`, 4096) };
}

/** Opsgenie Alert API body (the key goes in the Authorization header). */
export function opsgeniePayload(config: OpsgenieConfig, message: string, description: string) {
  return {
    message: cut(message, 130),
    description: cut(description, 15000),
    priority: config.priority,
    responders: config.responders,
    tags: config.tags,
    details: config.details,
  };
}

export interface ChannelDelivery {
  channel: ChannelName;
  result: DeliveryResult;
}

export interface SendOptions extends Omit<DeliveryOptions, 'headers'> {
  /** Extra TLS options for SMTP (e.g. `ca` for a private certificate authority). */
  smtpTls?: ConnectionOptions;
}

/** Sends `message` to every configured channel in parallel; resolves when all are done. Never throws. */
export async function sendToChannels(config: NotificationConfig, message: RenderedMessage, options: SendOptions = {}): Promise<ChannelDelivery[]> {
  const { title, summary, details } = message;
  const http = { timeoutMs: options.timeoutMs, retryDelayMs: options.retryDelayMs };
  const jobs: Array<Promise<ChannelDelivery>> = [];
  const add = (channel: ChannelName, send: () => Promise<DeliveryResult>) =>
    jobs.push(
      send().then(
        (result) => ({ channel, result }),
        (err) => ({ channel, result: { ok: false, attempts: 0, error: (err as Error)?.message ?? String(err) } }),
      ),
    );
  if (config.slack_config) {
    const url = config.slack_config.webhook_url;
    add('slack', () => postJson(url, slackPayload(details || summary, title), http));
  }
  if (config.teams_config) {
    const url = config.teams_config.webhook_url;
    add('teams', () => postJson(url, teamsPayload(summary), http));
  }
  if (config.discord_config) {
    const url = config.discord_config.webhook_url;
    add('discord', () => postJson(url, discordPayload(summary, title), http));
  }
  if (config.telegram_config) {
    const url = config.telegram_config.webhook_url;
    add('telegram', () => postJson(url, telegramPayload(summary, title), http));
  }
  if (config.google_chat_config) {
    const url = config.google_chat_config.webhook_url;
    add('google_chat', () => postJson(url, googleChatPayload(summary), http));
  }
  if (config.email_config) {
    const email = config.email_config;
    add('email', () => sendMail(email, { subject: title, text: details || summary }, { ...http, tls: options.smtpTls }));
  }
  if (config.opsgenie_config) {
    const ops = config.opsgenie_config;
    add('opsgenie', () => postJson(ops.url, opsgeniePayload(ops, title, details || summary), { ...http, headers: { authorization: `GenieKey ${ops.api_key}` } }));
  }
  return Promise.all(jobs);
}
