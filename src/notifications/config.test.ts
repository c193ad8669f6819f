import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_ALERT_ON,
  NotificationConfigError,
  configuredChannels,
  mergeNotificationConfigs,
  parseNotificationConfig,
  renderNotificationConfig,
} from './config.js';

describe('merging project and pipeline notification_config', () => {
  test('pipeline keys replace the project keys whole (Mage merge_dict), other project keys stay', () => {
    const merged = mergeNotificationConfigs(
      { alert_on: ['trigger_failure'], slack_config: { webhook_url: 'https://project/slack' }, teams_config: { webhook_url: 'https://project/teams' } },
      { alert_on: ['trigger_success'], slack_config: { webhook_url: 'https://pipeline/slack' } },
    );
    assert.deepEqual(merged, {
      alert_on: ['trigger_success'],
      slack_config: { webhook_url: 'https://pipeline/slack' },
      teams_config: { webhook_url: 'https://project/teams' },
    });
  });

  test('a missing side is no config; a side that is not a mapping is refused with where it came from', () => {
    assert.deepEqual(mergeNotificationConfigs(undefined, null), {});
    assert.deepEqual(mergeNotificationConfigs(null, { alert_on: [] }), { alert_on: [] });
    assert.throws(() => mergeNotificationConfigs(['x'], {}), (err: Error) => err instanceof NotificationConfigError && /project metadata\.yaml must be a mapping, not a list/.test(err.message));
    assert.throws(() => mergeNotificationConfigs({}, 'slack'), /pipeline metadata\.yaml must be a mapping/);
  });
});

describe('parsing notification_config', () => {
  test('alert_on defaults to failures and passed SLAs; null means the default; duplicates collapse', () => {
    assert.deepEqual(parseNotificationConfig({}).config.alert_on, ['trigger_failure', 'trigger_passed_sla']);
    assert.deepEqual(DEFAULT_ALERT_ON, ['trigger_failure', 'trigger_passed_sla']);
    assert.deepEqual(parseNotificationConfig({ alert_on: null }).config.alert_on, ['trigger_failure', 'trigger_passed_sla']);
    assert.deepEqual(parseNotificationConfig({ alert_on: ['trigger_success', 'trigger_success'] }).config.alert_on, ['trigger_success']);
    assert.deepEqual(parseNotificationConfig({ alert_on: [] }).config.alert_on, []);
  });

  test('a bad alert_on is refused with the values it may hold', () => {
    assert.throws(() => parseNotificationConfig({ alert_on: 'trigger_failure' }), /alert_on must be a list of trigger_failure, trigger_success, trigger_passed_sla; got the text "trigger_failure"/);
    assert.throws(() => parseNotificationConfig({ alert_on: ['on_failure'] }), (err: Error) => err instanceof NotificationConfigError && /alert_on has the text "on_failure"; the values are/.test(err.message));
    assert.throws(() => parseNotificationConfig(['x'], 'notification_config of pipeline p'), /notification_config of pipeline p must be a mapping, not a list/);
  });

  test('webhook channels: a valid URL configures the channel; a bad one skips only that channel and never echoes the URL path', () => {
    const { config, issues } = parseNotificationConfig({
      slack_config: { webhook_url: 'https://hooks.slack.com/services/T0/B0/secret-token' },
      teams_config: { webhook_url: 'ftp://files/secret-token' },
      discord_config: { webhook_url: 'not a url secret-token' },
      google_chat_config: { webhook_url: '' },
      telegram_config: { webhook_url: 'None' },
    });
    assert.deepEqual(config.slack_config, { webhook_url: 'https://hooks.slack.com/services/T0/B0/secret-token' });
    assert.equal(config.teams_config, null);
    assert.equal(config.discord_config, null);
    assert.equal(config.google_chat_config, null);
    assert.equal(config.telegram_config, null);
    assert.deepEqual(configuredChannels(config), ['slack']);
    assert.ok(issues.some((i) => /teams_config\.webhook_url must be an http or https URL, not ftp:/.test(i)), issues.join('\n'));
    assert.ok(issues.some((i) => /discord_config\.webhook_url is not a valid URL/.test(i)));
    assert.ok(issues.some((i) => /google_chat_config\.webhook_url is empty \(an unset environment variable\?\)/.test(i)));
    assert.equal(issues.length, 3, 'an unset URL (None, as Mage writes it) is not an issue');
    assert.ok(issues.every((i) => !i.includes('secret-token')), 'issues never carry webhook credentials');
  });

  test('a channel section that is not a mapping, and unknown keys, become issues', () => {
    const { config, issues } = parseNotificationConfig({ slack_config: 'https://x', ntfy_config: {}, colour: 'red', teams_config: { webhook_url: 'https://t', channel: 'x' } });
    assert.equal(config.slack_config, null);
    assert.deepEqual(config.teams_config, { webhook_url: 'https://t' });
    assert.ok(issues.includes('slack_config must be a mapping with webhook_url, not the text "https://x"; the channel is skipped.'));
    assert.ok(issues.includes('ntfy_config is not supported by Blockflow; it is ignored.'));
    assert.ok(issues.includes('notification_config.colour is not a known setting; it is ignored.'));
    assert.ok(issues.includes('teams_config.channel is not a known setting; it is ignored.'));
  });

  test('email_config: Mage defaults, recipients as list or comma text, required host and sender', () => {
    const { config } = parseNotificationConfig({
      email_config: { smtp_host: 'mail.example.com', smtp_mail_from: 'mage@example.com', smtp_user: 'u', smtp_password: 'p', to_emails: ['a@example.com', ' b@example.com '] },
    });
    assert.deepEqual(config.email_config, {
      smtp_host: 'mail.example.com',
      smtp_mail_from: 'mage@example.com',
      smtp_user: 'u',
      smtp_password: 'p',
      smtp_starttls: true,
      smtp_ssl: false,
      smtp_port: 587,
      to_emails: ['a@example.com', 'b@example.com'],
    });
    const text = parseNotificationConfig({ email_config: { smtp_host: 'h', smtp_mail_from: 'f@x', smtp_port: '465', smtp_ssl: true, to_emails: 'a@x, b@x' } }).config.email_config!;
    assert.deepEqual([text.smtp_port, text.smtp_ssl, text.to_emails, text.smtp_user], [465, true, ['a@x', 'b@x'], null]);

    const noHost = parseNotificationConfig({ email_config: { smtp_mail_from: 'f@x', to_emails: ['a@x'] } });
    assert.equal(noHost.config.email_config, null);
    assert.deepEqual(noHost.issues, ['email_config.smtp_host is required; email is skipped.']);
    assert.deepEqual(parseNotificationConfig({ email_config: { smtp_host: 'h', smtp_mail_from: 'f@x', smtp_port: 70000, to_emails: ['a@x'] } }).issues, [
      'email_config.smtp_port must be a port number (1-65535), not number 70000; email is skipped.',
    ]);
    assert.deepEqual(parseNotificationConfig({ email_config: { smtp_host: 'h', smtp_mail_from: 'f@x', to_emails: [] } }).issues, ['email_config.to_emails is empty; email is skipped.']);
    assert.deepEqual(parseNotificationConfig({ email_config: { smtp_host: 'h', smtp_mail_from: 'f@x', smtp_ssl: 'maybe', to_emails: ['a@x'] } }).issues, [
      'email_config.smtp_ssl must be true or false, not the text "maybe"; email is skipped.',
    ]);
  });

  test('opsgenie_config: defaults for priority, responders, tags, details; url and api_key required', () => {
    assert.deepEqual(parseNotificationConfig({ opsgenie_config: { url: 'https://api.opsgenie.com/v2/alerts', api_key: 'k' } }).config.opsgenie_config, {
      url: 'https://api.opsgenie.com/v2/alerts',
      api_key: 'k',
      priority: 'P3',
      responders: [],
      tags: [],
      details: {},
    });
    assert.deepEqual(parseNotificationConfig({ opsgenie_config: { url: 'https://o' } }).issues, ['opsgenie_config.api_key is not set; Opsgenie is skipped.']);
    assert.deepEqual(parseNotificationConfig({ opsgenie_config: { api_key: 'k' } }).issues, ['opsgenie_config.url must be an http or https URL; Opsgenie is skipped.']);
    assert.deepEqual(parseNotificationConfig({ opsgenie_config: { url: 'None', api_key: null } }), { config: parseNotificationConfig({}).config, issues: [] });
    assert.deepEqual(parseNotificationConfig({ opsgenie_config: { url: 'https://o', api_key: 'k', tags: 'a' } }).issues, ['opsgenie_config.tags must be a list, not the text "a"; Opsgenie is skipped.']);
  });

  test('message_templates: parts kept per kind; wrong shapes are issues and fall back to the defaults', () => {
    const { config, issues } = parseNotificationConfig({
      message_templates: { failure: { title: 'T {pipeline_uuid}', summary: null, details: 'D' }, success: 'x', oops: {}, passed_sla: { body: 'b', title: 3 } },
    });
    assert.deepEqual(config.message_templates, { failure: { title: 'T {pipeline_uuid}', details: 'D' }, passed_sla: {} });
    assert.deepEqual(issues, [
      'message_templates.success must be a mapping of title/summary/details, not the text "x"; the default is used.',
      'message_templates.oops is not a message kind (success, failure, passed_sla); it is ignored.',
      'message_templates.passed_sla.body is not title, summary or details; it is ignored.',
      'message_templates.passed_sla.title must be text, not number 3; the default is used.',
    ]);
  });
});

describe('rendering notification_config', () => {
  test("env_var() and mage_secret_var() are rendered in every text; a missing secret renders empty and is named", async () => {
    const { rendered, issues } = await renderNotificationConfig(
      {
        alert_on: ['trigger_failure'],
        slack_config: { webhook_url: "{{ env_var('SLACK_URL') }}" },
        teams_config: { webhook_url: "https://teams/{{ mage_secret_var('teams_token') }}" },
        discord_config: { webhook_url: "{{ mage_secret_var('nope') }}" },
        email_config: { to_emails: ["{{ env_var('ONCALL', 'oncall@example.com') }}"], smtp_port: 587 },
      },
      { env: { SLACK_URL: 'https://hooks.slack.com/x' }, getSecret: async (name) => (name === 'teams_token' ? 'abc' : undefined) },
    );
    assert.deepEqual(rendered, {
      alert_on: ['trigger_failure'],
      slack_config: { webhook_url: 'https://hooks.slack.com/x' },
      teams_config: { webhook_url: 'https://teams/abc' },
      discord_config: { webhook_url: '' },
      email_config: { to_emails: ['oncall@example.com'], smtp_port: 587 },
    });
    assert.deepEqual(issues, ['Secret "nope" used in notification_config.discord_config.webhook_url does not exist.']);
  });

  test('without a secret store a secret reference is an issue', async () => {
    const { issues } = await renderNotificationConfig({ slack_config: { webhook_url: "{{ mage_secret_var('s') }}" } });
    assert.deepEqual(issues, ['notification_config.slack_config.webhook_url uses secret "s" but no secret store is available.']);
  });
});
