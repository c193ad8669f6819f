/**
 * Webhook delivery against a real local HTTP server standing in for each service: the exact JSON every
 * service gets, the retry on 5xx and connection errors, the timeout of a webhook that never answers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startWebhookRecorder, type WebhookRecorder } from '../../test/notifications/webhookRecorder.js';
import { parseNotificationConfig } from './config.js';
import { sendToChannels } from './channels.js';
import { postJson } from './http.js';

const message = {
  title: 'Failed to run Mage pipeline etl',
  summary: 'Failed to run Pipeline `etl` with Trigger 3 `hourly`. Error: Failed blocks: load.',
  details: 'Failed to run Pipeline `etl` with Trigger 3 `hourly`. Error: Failed blocks: load.\nOpen http://localhost:6789/pipelines/etl/runs/9 to check pipeline run results and logs.',
};

let hooks: WebhookRecorder;
before(async () => {
  hooks = await startWebhookRecorder();
});
after(async () => {
  await hooks.close();
});

describe('what each service receives', () => {
  test('Slack, Teams, Discord, Telegram, Google Chat and Opsgenie get their own JSON shapes', async () => {
    const { config } = parseNotificationConfig({
      slack_config: { webhook_url: `${hooks.url}/slack/T0/B0/x` },
      teams_config: { webhook_url: `${hooks.url}/teams` },
      discord_config: { webhook_url: `${hooks.url}/discord` },
      telegram_config: { webhook_url: `${hooks.url}/telegram?chat_id=5` },
      google_chat_config: { webhook_url: `${hooks.url}/chat` },
      opsgenie_config: { url: `${hooks.url}/opsgenie`, api_key: 'genie-key', priority: 'P1', tags: ['etl'], details: { team: 'data' } },
    });
    const deliveries = await sendToChannels(config, { ...message, summary: `${message.summary} <ValueError>` });
    assert.deepEqual(
      deliveries.map((d) => [d.channel, d.result.ok, d.result.status, d.result.attempts]),
      [
        ['slack', true, 200, 1],
        ['teams', true, 200, 1],
        ['discord', true, 200, 1],
        ['telegram', true, 200, 1],
        ['google_chat', true, 200, 1],
        ['opsgenie', true, 200, 1],
      ],
    );
    const summary = `${message.summary} <ValueError>`;
    const slack = hooks.to('/slack/T0/B0/x')[0];
    assert.equal(slack.method, 'POST');
    assert.equal(slack.headers['content-type'], 'application/json');
    assert.deepEqual(slack.body, {
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Failed to run Mage pipeline etl' } },
        { type: 'divider' },
        { type: 'section', text: { type: 'mrkdwn', text: message.details } },
      ],
    });
    assert.deepEqual(hooks.to('/teams')[0].body, {
      summary: 'Mage pipeline run status logs',
      sections: [{ activityTitle: 'Mage pipeline run status logs', activitySubtitle: summary }],
    });
    assert.deepEqual(hooks.to('/discord')[0].body, { content: `**Failed to run Mage pipeline etl**\n${summary}` });
    assert.deepEqual(hooks.to('/telegram?chat_id=5')[0].body, {
      text: `<b>Failed to run Mage pipeline etl</b>\n\n${message.summary} &lt;ValueError&gt;`,
      parse_mode: 'HTML',
    });
    assert.deepEqual(hooks.to('/chat')[0].body, { text: `*Mage pipeline run status logs*\n${summary}` });
    const ops = hooks.to('/opsgenie')[0];
    assert.equal(ops.headers.authorization, 'GenieKey genie-key');
    assert.deepEqual(ops.body, {
      message: 'Failed to run Mage pipeline etl',
      description: message.details,
      priority: 'P1',
      responders: [],
      tags: ['etl'],
      details: { team: 'data' },
    });
  });

  test('texts longer than a service takes are cut, not refused', async () => {
    const { config } = parseNotificationConfig({ slack_config: { webhook_url: `${hooks.url}/slack-long` }, discord_config: { webhook_url: `${hooks.url}/discord-long` } });
    await sendToChannels(config, { title: 'T'.repeat(300), summary: 's'.repeat(5000), details: 'd'.repeat(5000) });
    const blocks = hooks.to('/slack-long')[0].body.blocks;
    assert.equal(blocks[0].text.text.length, 150);
    assert.equal(blocks[2].text.text.length, 3000);
    assert.ok(blocks[2].text.text.endsWith('…'));
    assert.equal(hooks.to('/discord-long')[0].body.content.length, 2000);
  });
});

describe('delivery', () => {
  test('a webhook answering 500 then 200 is retried once and delivered', async () => {
    hooks.answer('/flaky', 500);
    const result = await postJson(`${hooks.url}/flaky`, { text: 'hi' }, { retryDelayMs: 10 });
    assert.deepEqual(result, { ok: true, status: 200, attempts: 2 });
    assert.deepEqual(
      hooks.to('/flaky').map((r) => r.body),
      [{ text: 'hi' }, { text: 'hi' }],
    );
  });

  test('500 twice fails after one retry; the error names the host and status but not the URL path', async () => {
    hooks.answer('/down/secret-token', 500, 503);
    const result = await postJson(`${hooks.url}/down/secret-token`, {}, { retryDelayMs: 10 });
    assert.equal(result.ok, false);
    assert.equal(result.attempts, 2);
    assert.equal(result.status, 503);
    assert.equal(result.error, `${hooks.url}: HTTP 503: error 503`);
  });

  test('a 4xx answer is not retried', async () => {
    hooks.answer('/gone', 404);
    const result = await postJson(`${hooks.url}/gone`, {}, { retryDelayMs: 10 });
    assert.deepEqual(result, { ok: false, status: 404, attempts: 1, error: `${hooks.url}: HTTP 404: error 404` });
    assert.equal(hooks.to('/gone').length, 1);
  });

  test('a refused connection is retried once, then reported', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const result = await postJson(`http://127.0.0.1:${port}/hook`, {}, { retryDelayMs: 10 });
    assert.deepEqual(result, { ok: false, status: undefined, attempts: 2, error: `http://127.0.0.1:${port}: request failed (ECONNREFUSED)` });
  });

  test('a webhook that never answers times out without a retry', async () => {
    hooks.answer('/hang', 'hang');
    const result = await postJson(`${hooks.url}/hang`, {}, { timeoutMs: 300, retryDelayMs: 10 });
    assert.deepEqual(result, { ok: false, status: undefined, attempts: 1, error: `${hooks.url}: no answer within 300 ms` });
    assert.equal(hooks.to('/hang').length, 1);
  });

  test('one hanging channel does not hold back the others', async () => {
    hooks.answer('/slow-slack', 'hang');
    const { config } = parseNotificationConfig({ slack_config: { webhook_url: `${hooks.url}/slow-slack` }, teams_config: { webhook_url: `${hooks.url}/quick-teams` } });
    let done = false;
    const sending = sendToChannels(config, message, { timeoutMs: 2000 }).then((d) => ((done = true), d));
    await hooks.next('/quick-teams');
    assert.equal(done, false, 'Teams got its message while Slack still hangs');
    const deliveries = await sending;
    assert.deepEqual(
      deliveries.map((d) => [d.channel, d.result.ok]),
      [
        ['slack', false],
        ['teams', true],
      ],
    );
    assert.match(deliveries[0].result.error!, /no answer within 2000 ms/);
  });
});
