/**
 * The Notifier with real parts: a project folder on disk (project and pipeline metadata.yaml), runs and
 * triggers in a real SQLite store, and a real local HTTP server standing in for the webhooks.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startWebhookRecorder, type WebhookRecorder } from '../../test/notifications/webhookRecorder.js';
import { buildProject, py } from '../../test/engine/projectBuilder.js';
import { loadPipeline } from '../project/pipeline.js';
import { loadProject, type Project } from '../project/projectConfig.js';
import { openStore, type Store } from '../store/db.js';
import type { BlockRunRow } from '../store/blockRuns.js';
import type { PipelineRunRow } from '../store/pipelineRuns.js';
import type { ScheduleRow } from '../store/schedules.js';
import { Notifier, failureSummary, type NotificationProblem, type NotifierOptions } from './notifier.js';

let hooks: WebhookRecorder;
let root: string;
let project: Project;
let store: Store;
let schedule: ScheduleRow;
let problems: NotificationProblem[];

function setYaml(path: string, change: (doc: Record<string, any>) => void): void {
  const doc = parse(readFileSync(path, 'utf8')) ?? {};
  change(doc);
  writeFileSync(path, stringify(doc));
}

const setProjectConfig = (config: unknown) => setYaml(join(root, 'metadata.yaml'), (doc) => void (doc.notification_config = config));
const setPipelineConfig = (config: unknown) => setYaml(join(root, 'pipelines', 'etl', 'metadata.yaml'), (doc) => void (doc.notification_config = config));

let runCount = 0;
/** A run of the trigger (one execution date each, as the store allows one run per trigger and date). */
async function runWithStatus(status: PipelineRunRow['status'], scheduleId: number | null = schedule.id): Promise<PipelineRunRow> {
  runCount += 1;
  const executionDate = new Date(Date.UTC(2024, 4, 1, 2, 0, runCount));
  return store.pipelineRuns.create({ pipeline_uuid: 'etl', pipeline_schedule_id: scheduleId, execution_date: executionDate, status });
}

function notifier(options: Partial<NotifierOptions> = {}): Notifier {
  return new Notifier({ project, env: {}, retryDelayMs: 10, onProblem: (p) => problems.push(p), ...options });
}

before(async () => {
  hooks = await startWebhookRecorder();
  root = buildProject({ etl: { blocks: [{ uuid: 'load', type: 'data_loader', code: py('data_loader', '@data_loader\ndef l(*a, **k):\n    return 1') }] } });
  project = loadProject(root, { ...process.env, MAGE_DATA_DIR: '' });
  store = await openStore({ sqlitePath: join(mkdtempSync(join(tmpdir(), 'blockflow-notify-db-')), 'mage-ai.db') });
  schedule = await store.schedules.create({ name: 'nightly', pipeline_uuid: 'etl', schedule_type: 'time', schedule_interval: '@daily', status: 'active' });
});

after(async () => {
  await hooks.close();
  await store.close();
  rmSync(dirname(root), { recursive: true, force: true });
});

beforeEach(() => {
  problems = [];
  hooks.requests.length = 0;
  setProjectConfig({ slack_config: { webhook_url: `${hooks.url}/slack` } });
  setPipelineConfig({});
});

describe('alert_on', () => {
  test('by default a failed run notifies and a completed one does not', async () => {
    const n = notifier({ publicHost: 'https://mage.example.com' });
    const failed = await runWithStatus('failed');
    const outcome = await n.notifyRunEnded({ run: failed, schedule, pipeline: loadPipeline(project, 'etl'), error: 'Failed blocks: load.' });
    assert.equal(outcome.alert, 'trigger_failure');
    assert.equal(outcome.sent, true);
    const [message] = hooks.to('/slack');
    assert.deepEqual(message.body.blocks[0], { type: 'header', text: { type: 'plain_text', text: 'Failed to run Mage pipeline etl' } });
    assert.equal(
      message.body.blocks[2].text.text,
      `Failed to run Pipeline \`etl\` with Trigger ${schedule.id} \`nightly\` at execution time \`${failed.execution_date}\`. Error: Failed blocks: load.\n` +
        `Open https://mage.example.com/pipelines/etl/runs/${failed.id} to check pipeline run results and logs.`,
    );

    const completed = await runWithStatus('completed');
    const skipped = await n.notifyRunEnded({ run: completed, schedule, pipeline: loadPipeline(project, 'etl') });
    assert.deepEqual(skipped, { alert: 'trigger_success', sent: false, skipped: 'alert_on', deliveries: [] });
    assert.equal(hooks.to('/slack').length, 1);
  });

  test('alert_on [trigger_success] sends the success message and no failure message', async () => {
    setProjectConfig({ alert_on: ['trigger_success'], slack_config: { webhook_url: `${hooks.url}/slack` } });
    const n = notifier();
    const completed = await runWithStatus('completed');
    assert.equal((await n.notifyRunEnded({ run: completed, schedule, pipeline: loadPipeline(project, 'etl') })).sent, true);
    assert.equal(hooks.to('/slack')[0].body.blocks[0].text.text, 'Successfully ran Pipeline etl');
    const failed = await runWithStatus('failed');
    assert.equal((await n.notifyRunEnded({ run: failed, schedule, pipeline: loadPipeline(project, 'etl'), error: 'x' })).skipped, 'alert_on');
    assert.equal(hooks.to('/slack').length, 1);
  });

  test('a passed SLA notifies by default, with the SLA message', async () => {
    const run = await runWithStatus('running');
    const outcome = await notifier().notifyPassedSla({ run, schedule, pipeline: loadPipeline(project, 'etl') });
    assert.equal(outcome.alert, 'trigger_passed_sla');
    const body = hooks.to('/slack')[0].body;
    assert.equal(body.blocks[0].text.text, 'SLA missed for Mage pipeline etl');
    assert.match(body.blocks[2].text.text, new RegExp(`^SLA missed for pipeline \`etl\` with Trigger ${schedule.id} \`nightly\``));
  });

  test('runs without a trigger and cancelled runs never notify', async () => {
    const n = notifier();
    const manual = await runWithStatus('failed', null);
    assert.equal((await n.notifyRunEnded({ run: manual, schedule: null, pipeline: loadPipeline(project, 'etl'), error: 'x' })).skipped, 'no_trigger');
    const cancelled = await runWithStatus('cancelled');
    assert.equal((await n.notifyRunEnded({ run: cancelled, schedule, pipeline: loadPipeline(project, 'etl') })).skipped, 'status');
    assert.equal(hooks.requests.length, 0);
  });
});

describe('project and pipeline config', () => {
  test('the pipeline notification_config overrides the project one key by key', async () => {
    setProjectConfig({ slack_config: { webhook_url: `${hooks.url}/slack` }, teams_config: { webhook_url: `${hooks.url}/teams` } });
    setPipelineConfig({ slack_config: { webhook_url: `${hooks.url}/pipeline-slack` }, alert_on: ['trigger_failure', 'trigger_success'] });
    const run = await runWithStatus('completed');
    const outcome = await notifier().notifyRunEnded({ run, schedule, pipeline: loadPipeline(project, 'etl') });
    assert.deepEqual(
      outcome.deliveries.map((d) => [d.channel, d.result.ok]),
      [
        ['slack', true],
        ['teams', true],
      ],
    );
    assert.equal(hooks.to('/slack').length, 0);
    assert.equal(hooks.to('/pipeline-slack').length, 1);
    assert.deepEqual(hooks.to('/teams')[0].body.sections[0].activitySubtitle, `Successfully ran Pipeline \`etl\` with Trigger ${schedule.id} \`nightly\` at execution time \`${run.execution_date}\`.`);
  });

  test('an edit of the project metadata.yaml applies to the next notification', async () => {
    const n = notifier();
    const run = await runWithStatus('failed');
    await n.notifyRunEnded({ run, schedule, pipeline: loadPipeline(project, 'etl'), error: 'x' });
    setProjectConfig({ discord_config: { webhook_url: `${hooks.url}/discord` } });
    await n.notifyRunEnded({ run, schedule, pipeline: loadPipeline(project, 'etl'), error: 'x' });
    assert.deepEqual(
      hooks.requests.map((r) => r.path),
      ['/slack', '/discord'],
    );
  });

  test('hasConfig says whether anything is configured, from the file as it is now', async () => {
    const n = notifier();
    setProjectConfig({});
    setPipelineConfig(null);
    assert.equal(n.hasConfig(loadPipeline(project, 'etl')), false);
    setPipelineConfig({ slack_config: { webhook_url: `${hooks.url}/slack` } });
    assert.equal(n.hasConfig(loadPipeline(project, 'etl')), true);
    setPipelineConfig(null);
    setProjectConfig({ teams_config: { webhook_url: `${hooks.url}/teams` } });
    assert.equal(n.hasConfig(loadPipeline(project, 'etl')), true, 'an edit of the project file is seen');
    setProjectConfig(null);
    assert.equal(n.hasConfig(loadPipeline(project, 'etl')), false);
  });

  test('message templates from the config are used', async () => {
    setProjectConfig({
      slack_config: { webhook_url: `${hooks.url}/slack` },
      message_templates: { failure: { title: 'ETL down: {pipeline_uuid}', details: '{error}\n{stacktrace}' } },
    });
    const run = await runWithStatus('failed');
    await notifier().notifyRunEnded({ run, schedule, pipeline: loadPipeline(project, 'etl'), error: 'Failed blocks: load.', stacktrace: 'Error for block load:\nValueError: boom' });
    const blocks = hooks.to('/slack')[0].body.blocks;
    assert.equal(blocks[0].text.text, 'ETL down: etl');
    assert.equal(blocks[2].text.text, 'Failed blocks: load.\nError for block load:\nValueError: boom');
  });

  test('an unusable config sends nothing and says why; a bad channel section is reported and the others still send', async () => {
    setProjectConfig({ alert_on: ['on_failure'], slack_config: { webhook_url: `${hooks.url}/slack` } });
    const run = await runWithStatus('failed');
    const bad = await notifier().notifyRunEnded({ run, schedule, pipeline: loadPipeline(project, 'etl'), error: 'x' });
    assert.equal(bad.skipped, 'bad_config');
    assert.deepEqual(problems, [
      {
        kind: 'config',
        runId: run.id,
        pipelineUuid: 'etl',
        message: 'notification_config.alert_on has the text "on_failure"; the values are trigger_failure, trigger_success, trigger_passed_sla.',
      },
    ]);
    assert.equal(hooks.requests.length, 0);

    problems = [];
    setProjectConfig({ slack_config: { webhook_url: `${hooks.url}/slack` }, teams_config: { webhook_url: 'teams please' } });
    const partial = await notifier().notifyRunEnded({ run, schedule, pipeline: loadPipeline(project, 'etl'), error: 'x' });
    assert.deepEqual(
      partial.deliveries.map((d) => d.channel),
      ['slack'],
    );
    assert.deepEqual(problems, [{ kind: 'config', runId: run.id, pipelineUuid: 'etl', message: 'teams_config.webhook_url is not a valid URL; the channel is skipped.' }]);
  });
});

describe('delivery through the Notifier', () => {
  test('a webhook answering 500 then 200 is retried once and nothing is reported', async () => {
    hooks.answer('/slack', 500);
    const run = await runWithStatus('failed');
    const outcome = await notifier().notifyRunEnded({ run, schedule, pipeline: loadPipeline(project, 'etl'), error: 'x' });
    assert.deepEqual(outcome.deliveries[0].result, { ok: true, status: 200, attempts: 2 });
    assert.equal(hooks.to('/slack').length, 2);
    assert.deepEqual(problems, []);
  });

  test('a hanging webhook times out, is reported, and does not hold back another channel', async () => {
    setProjectConfig({ slack_config: { webhook_url: `${hooks.url}/slack/hook-secret` }, teams_config: { webhook_url: `${hooks.url}/teams` } });
    hooks.answer('/slack/hook-secret', 'hang');
    const n = notifier({ timeoutMs: 1500 });
    const run = await runWithStatus('failed');
    let finished = false;
    const pending = n.notifyRunEnded({ run, schedule, pipeline: loadPipeline(project, 'etl'), error: 'x' }).then((o) => ((finished = true), o));
    await hooks.next('/teams');
    assert.equal(finished, false, 'Teams was delivered while Slack was still waiting');
    await n.idle();
    const outcome = await pending;
    assert.equal(outcome.deliveries.find((d) => d.channel === 'slack')!.result.ok, false);
    assert.deepEqual(problems, [
      { kind: 'delivery', channel: 'slack', runId: run.id, pipelineUuid: 'etl', message: `trigger_failure notification not delivered: ${hooks.url}: no answer within 1500 ms` },
    ]);
    assert.ok(!problems[0].message.includes('hook-secret'));
  });
});

describe('failureSummary', () => {
  const blockRun = (uuid: string, status: BlockRunRow['status'], metrics: BlockRunRow['metrics'] = null): BlockRunRow => ({
    id: 0,
    created_at: '',
    updated_at: '',
    pipeline_run_id: 1,
    block_uuid: uuid,
    status,
    started_at: null,
    completed_at: null,
    metrics,
    attempts: 1,
    next_attempt_at: null,
    owner_id: null,
  });

  test("Mage's error: the failed blocks, and the first failed block's traceback", () => {
    const summary = failureSummary([
      blockRun('load', 'completed'),
      blockRun('clean', 'failed', { error: { error: 'ValueError: boom', errors: ['  File "clean.py", line 3, in t\n', '    raise ValueError("boom")\n'], message: 'boom' } }),
      blockRun('export', 'upstream_failed'),
      blockRun('other', 'failed'),
    ]);
    assert.deepEqual(summary, {
      error: 'Failed blocks: clean, other.',
      stacktrace: 'Error for block clean:\n  File "clean.py", line 3, in t\n    raise ValueError("boom")\nValueError: boom',
    });
  });

  test('long tracebacks keep their last 50 lines; a failed run without failed blocks timed out', () => {
    const errors = Array.from({ length: 60 }, (_, i) => `line ${i}`);
    const { stacktrace } = failureSummary([blockRun('b', 'failed', { error: { errors, error: 'E: x' } })]);
    const lines = stacktrace!.split('\n');
    assert.equal(lines.length, 52);
    assert.deepEqual(lines.slice(0, 3), ['Error for block b:', '... (error truncated)', 'line 11']);
    assert.equal(lines.at(-1), 'E: x');
    assert.deepEqual(failureSummary([blockRun('a', 'cancelled')]), { error: 'Pipeline run timed out.', stacktrace: null });
  });
});
