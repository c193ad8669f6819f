/**
 * Run notifications end to end, on SQLite and PostgreSQL: a real server (engine, scheduler, store) with a
 * notifier attached as src/server/services.ts attaches it, a project whose metadata.yaml points its
 * notification_config at a local webhook server, triggers created and runs started over HTTP, and Python
 * blocks that raise, succeed or wait past their trigger's SLA.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EventEmitter } from 'node:events';
import { parse, stringify } from 'yaml';
import { DIALECTS, startTestServer, type TestServer } from '../helpers/server.js';
import { buildProject, py, usePreparedPython } from '../engine/projectBuilder.js';
import { attachNotifier, type AttachedNotifier, type NotificationProblem } from '../../src/notifications/notifier.js';
import type { Engine } from '../../src/engine/engine.js';
import { startWebhookRecorder, type WebhookRecorder } from './webhookRecorder.js';

usePreparedPython();

function setYaml(path: string, change: (doc: Record<string, any>) => void): void {
  const doc = parse(readFileSync(path, 'utf8')) ?? {};
  change(doc);
  writeFileSync(path, stringify(doc));
}

function fixture(hooks: WebhookRecorder): string {
  const root = buildProject({
    explode: {
      blocks: [{ uuid: 'blow_up', type: 'data_loader', code: py('data_loader', "@data_loader\ndef l(*args, **kwargs):\n    raise ValueError('boom')") }],
    },
    fine: {
      blocks: [{ uuid: 'ok', type: 'data_loader', code: py('data_loader', '@data_loader\ndef l(*args, **kwargs):\n    return 1') }],
    },
    waits: {
      blocks: [
        {
          uuid: 'gate',
          type: 'data_loader',
          code: py(
            'data_loader',
            "import os\nimport time\n\n@data_loader\ndef l(*args, **kwargs):\n    while not os.path.exists(os.path.join(kwargs['repo_path'], 'release')):\n        time.sleep(0.05)\n    return 1",
          ),
        },
      ],
    },
  });
  setYaml(join(root, 'metadata.yaml'), (doc) => {
    doc.notification_config = { alert_on: ['trigger_failure', 'trigger_passed_sla'], slack_config: { webhook_url: `${hooks.url}/slack` } };
  });
  setYaml(join(root, 'pipelines', 'fine', 'metadata.yaml'), (doc) => {
    doc.notification_config = { alert_on: ['trigger_success'], teams_config: { webhook_url: `${hooks.url}/teams` } };
  });
  return root;
}

for (const dialect of DIALECTS) {
  describe(`run notifications from a running server (${dialect})`, () => {
    let hooks: WebhookRecorder;
    let root: string;
    let t: TestServer;
    let engine: Engine;
    let attached: AttachedNotifier;
    const problems: NotificationProblem[] = [];

    const api = async (method: string, path: string, body?: unknown) => {
      const res = await t.call(method, path, body, t.ownerToken);
      assert.equal(res.status, 200, `${method} ${path}: ${JSON.stringify(res.body)}`);
      return res.body;
    };
    const trigger = async (pipeline: string, fields: Record<string, unknown> = {}) =>
      (await api('POST', `/api/pipelines/${pipeline}/pipeline_schedules`, { pipeline_schedule: { name: 'on demand', schedule_type: 'api', status: 'active', ...fields } })).pipeline_schedule;
    const runTrigger = async (scheduleId: number): Promise<number> =>
      (await api('POST', `/api/pipeline_schedules/${scheduleId}/pipeline_runs`, { pipeline_run: { variables: {} } })).pipeline_run.id;

    before(async () => {
      hooks = await startWebhookRecorder();
      root = fixture(hooks);
      t = await startTestServer({ fixture: root, dialect });
      const { services, store, project } = t.server.ctx;
      engine = services.engine as Engine;
      // The server's own notifier is replaced by one whose links point at this test server's URL and whose
      // problems the tests can read.
      (services.notifications as AttachedNotifier).detach();
      attached = attachNotifier(
        { engine, scheduler: services.scheduler as EventEmitter, store, project },
        { publicHost: t.url, retryDelayMs: 10, onProblem: (p) => problems.push(p) },
      );
    });

    after(async () => {
      attached?.detach();
      await attached?.idle();
      await t?.close();
      await hooks?.close();
      rmSync(dirname(root), { recursive: true, force: true });
    });

    test('a triggered run whose block raises sends the failure message to the project webhook', async () => {
      const schedule = await trigger('explode');
      const runId = await runTrigger(schedule.id);
      const message = await hooks.next('/slack');
      assert.equal(await engine.waitForRun(runId), 'failed');
      const run = (await t.server.ctx.store.pipelineRuns.get(runId))!;
      assert.deepEqual(message.body, {
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: 'Failed to run Mage pipeline explode' } },
          { type: 'divider' },
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text:
                `Failed to run Pipeline \`explode\` with Trigger ${schedule.id} \`on demand\` at execution time \`${run.execution_date}\`. Error: Failed blocks: blow_up.\n` +
                `Open ${t.url}/pipelines/explode/runs/${runId} to check pipeline run results and logs.`,
            },
          },
        ],
      });
      assert.deepEqual(problems, []);
    });

    test('a run without a trigger fails without a notification', async () => {
      const before = hooks.requests.length;
      const run = await engine.createRun({ pipelineUuid: 'explode' });
      assert.equal(await engine.waitForRun(run.id), 'failed');
      await attached.idle();
      assert.equal(hooks.requests.length, before);
    });

    test("the pipeline's notification_config overrides the project's: success goes to Teams and Slack", async () => {
      const schedule = await trigger('fine', { name: 'hourly feed' });
      const runId = await runTrigger(schedule.id);
      const teams = await hooks.next('/teams');
      assert.equal(await engine.waitForRun(runId), 'completed');
      await attached.idle();
      const run = (await t.server.ctx.store.pipelineRuns.get(runId))!;
      const summary = `Successfully ran Pipeline \`fine\` with Trigger ${schedule.id} \`hourly feed\` at execution time \`${run.execution_date}\`.`;
      assert.deepEqual(teams.body, { summary: 'Mage pipeline run status logs', sections: [{ activityTitle: 'Mage pipeline run status logs', activitySubtitle: summary }] });
      const slack = hooks.to('/slack').at(-1)!;
      assert.equal(slack.body.blocks[0].text.text, 'Successfully ran Pipeline fine');
    });

    test('a run still running past its trigger SLA sends the SLA message once', async () => {
      const schedule = await trigger('waits', { name: 'with sla', sla: 1 });
      const runId = await runTrigger(schedule.id);
      const slaMessagesBefore = hooks.to('/slack').filter((r) => r.body.blocks[0].text.text.startsWith('SLA missed')).length;
      const message = await hooks.next('/slack', hooks.to('/slack').length + 1);
      assert.equal(message.body.blocks[0].text.text, 'SLA missed for Mage pipeline waits');
      const run = (await t.server.ctx.store.pipelineRuns.get(runId))!;
      assert.equal(run.passed_sla, true);
      assert.equal(
        message.body.blocks[2].text.text,
        `SLA missed for pipeline \`waits\` with Trigger ${schedule.id} \`with sla\` at execution time \`${run.execution_date}\`.\n` +
          `Open ${t.url}/pipelines/waits/runs/${runId} to check pipeline run results and logs.`,
      );
      writeFileSync(join(t.projectDir, 'release'), '');
      assert.equal(await engine.waitForRun(runId), 'completed');
      await attached.idle();
      assert.equal(hooks.to('/slack').filter((r) => r.body.blocks[0].text.text.startsWith('SLA missed')).length, slaMessagesBefore + 1);
    });
  });
}

describe('the notifier the server attaches by itself', () => {
  let hooks: WebhookRecorder;
  let root: string;
  let t: TestServer;
  before(async () => {
    hooks = await startWebhookRecorder();
    root = fixture(hooks);
    t = await startTestServer({ fixture: root, dialect: 'sqlite', env: { MAGE_PUBLIC_HOST: 'https://blockflow.example.com' } });
  });
  after(async () => {
    await t?.close();
    await hooks?.close();
    rmSync(dirname(root), { recursive: true, force: true });
  });

  test('sends the failure message of a triggered run, linking to MAGE_PUBLIC_HOST', async () => {
    const created = await t.call('POST', '/api/pipelines/explode/pipeline_schedules', { pipeline_schedule: { name: 'nightly', schedule_type: 'api', status: 'active' } }, t.ownerToken);
    assert.equal(created.status, 200);
    const started = await t.call('POST', `/api/pipeline_schedules/${created.body.pipeline_schedule.id}/pipeline_runs`, { pipeline_run: { variables: {} } }, t.ownerToken);
    assert.equal(started.status, 200);
    const runId = started.body.pipeline_run.id;
    const message = await hooks.next('/slack');
    assert.equal(message.body.blocks[0].text.text, 'Failed to run Mage pipeline explode');
    assert.match(message.body.blocks[2].text.text, new RegExp(`Open https://blockflow\\.example\\.com/pipelines/explode/runs/${runId} `));
  });
});
