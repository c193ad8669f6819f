import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMessage, interpolate, linkSettings, pipelineRunUrl, type MessageContext } from './messages.js';

const context: MessageContext = {
  pipelineUuid: 'etl',
  scheduleId: 7,
  scheduleName: 'nightly',
  executionTime: '2024-05-01 02:00:00.000000+00:00',
  runId: 42,
  error: 'Failed blocks: load.',
  stacktrace: 'Error for block load:\nValueError: boom',
};
const link = { publicHost: 'http://mage.example.com', includeLink: true };

describe('Mage default messages', () => {
  test('failure: title, summary with the error, details with the run link', () => {
    assert.deepEqual(buildMessage('failure', context, undefined, link), {
      title: 'Failed to run Mage pipeline etl',
      summary: 'Failed to run Pipeline `etl` with Trigger 7 `nightly` at execution time `2024-05-01 02:00:00.000000+00:00`. Error: Failed blocks: load.',
      details:
        'Failed to run Pipeline `etl` with Trigger 7 `nightly` at execution time `2024-05-01 02:00:00.000000+00:00`. Error: Failed blocks: load.\n' +
        'Open http://mage.example.com/pipelines/etl/runs/42 to check pipeline run results and logs.',
    });
  });

  test('success and passed SLA', () => {
    const success = buildMessage('success', context, undefined, link);
    assert.equal(success.title, 'Successfully ran Pipeline etl');
    assert.equal(success.summary, 'Successfully ran Pipeline `etl` with Trigger 7 `nightly` at execution time `2024-05-01 02:00:00.000000+00:00`.');
    const sla = buildMessage('passed_sla', context, undefined, link);
    assert.equal(sla.title, 'SLA missed for Mage pipeline etl');
    assert.equal(sla.summary, 'SLA missed for pipeline `etl` with Trigger 7 `nightly` at execution time `2024-05-01 02:00:00.000000+00:00`.');
    assert.equal(sla.details, `${sla.summary}\nOpen http://mage.example.com/pipelines/etl/runs/42 to check pipeline run results and logs.`);
  });

  test('without the link (production on localhost) the details are the summary and a line break', () => {
    const message = buildMessage('success', context, undefined, { publicHost: 'http://localhost:6789', includeLink: false });
    assert.equal(message.details, `${message.summary}\n`);
  });
});

describe('run links', () => {
  test('MAGE_PUBLIC_HOST, or localhost:6789; left out only in production without a public host', () => {
    assert.deepEqual(linkSettings({}), { publicHost: 'http://localhost:6789', includeLink: true });
    assert.deepEqual(linkSettings({ ENV: 'production' }), { publicHost: 'http://localhost:6789', includeLink: false });
    assert.deepEqual(linkSettings({ ENV: 'production', MAGE_PUBLIC_HOST: 'https://mage.example.com/' }), { publicHost: 'https://mage.example.com', includeLink: true });
    assert.deepEqual(linkSettings({ MAGE_PUBLIC_HOST: 'https://a' }, 'https://b'), { publicHost: 'https://b', includeLink: true });
    assert.equal(pipelineRunUrl('https://a', 'my pipe', 3), 'https://a/pipelines/my%20pipe/runs/3');
  });
});

describe('message templates', () => {
  test('Mage placeholders in both forms; unknown placeholders stay as written', () => {
    const text = interpolate('{pipeline_uuid}/{{ pipeline_schedule_name }}/{{pipeline_schedule_id}} {execution_time} {pipeline_run_url} {error} {unknown} {{ other }}', context, link);
    assert.equal(
      text,
      'etl/nightly/7 2024-05-01 02:00:00.000000+00:00 http://mage.example.com/pipelines/etl/runs/42 Failed blocks: load. {unknown} {{ other }}',
    );
    assert.equal(interpolate('[{error}]', { ...context, error: null }, link), '[]');
  });

  test('each part comes from the template when set; default details use the default summary', () => {
    const message = buildMessage('failure', context, { summary: 'Boom in {pipeline_uuid}: {stacktrace}' }, link);
    assert.equal(message.title, 'Failed to run Mage pipeline etl');
    assert.equal(message.summary, 'Boom in etl: Error for block load:\nValueError: boom');
    assert.match(message.details, /^Failed to run Pipeline `etl` with Trigger 7/);
    const custom = buildMessage('failure', context, { title: 'T', details: 'see {pipeline_run_url}' }, link);
    assert.deepEqual([custom.title, custom.details], ['T', 'see http://mage.example.com/pipelines/etl/runs/42']);
  });
});
