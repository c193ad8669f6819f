/**
 * Mage's scheduling rules as the pure planner applies them (mage-api.md §6.3), one test per rule, plus the
 * retry_config precedence and delays (§6.4) and the kwargs layering (§5.4).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, type PlanBlock } from '../../src/engine/plan.js';
import type { BlockRunStatus } from '../../src/engine/statuses.js';
import { effectiveRetryConfig, retryDelaySeconds } from '../../src/engine/retry.js';
import { buildKwargs } from '../../src/engine/kwargs.js';

// a -> b -> d, a -> c -> d, and e on its own.
const DAG: PlanBlock[] = [
  { uuid: 'a', upstream: [] },
  { uuid: 'b', upstream: ['a'] },
  { uuid: 'c', upstream: ['a'] },
  { uuid: 'd', upstream: ['b', 'c'] },
  { uuid: 'e', upstream: [] },
];
const plan = (statuses: Record<string, BlockRunStatus>, opts: { allowBlocksToFail?: boolean; blockRunLimit?: number } = {}) =>
  decide({ blocks: DAG, statuses, allowBlocksToFail: opts.allowBlocksToFail ?? false, blockRunLimit: opts.blockRunLimit });
const all = (s: BlockRunStatus): Record<string, BlockRunStatus> => Object.fromEntries(DAG.map((b) => [b.uuid, s]));

describe('planner: Mage status rules', () => {
  test('blocks without upstreams are queued first, in parallel', () => {
    assert.deepEqual(plan(all('initial')).queue, ['a', 'e']);
  });

  test('a block is ready only once every upstream completed', () => {
    assert.deepEqual(plan({ ...all('initial'), a: 'completed', e: 'running' }).queue, ['b', 'c']);
    assert.deepEqual(plan({ ...all('completed'), d: 'initial', c: 'running' }).queue, []);
    assert.deepEqual(plan({ ...all('completed'), d: 'initial' }).queue, ['d']);
  });

  test('queued and running blocks are not queued again', () => {
    assert.deepEqual(plan({ ...all('initial'), a: 'queued', e: 'running' }).queue, []);
  });

  test('every block completed: the run completes', () => {
    assert.equal(plan(all('completed')).finish, 'completed');
  });

  test('condition_failed counts as done: completed and condition_failed blocks complete the run', () => {
    assert.equal(plan({ ...all('completed'), b: 'condition_failed', d: 'condition_failed' }).finish, 'completed');
  });

  test('a false condition skips what depends on it (condition_failed downstream)', () => {
    const d = plan({ ...all('initial'), a: 'completed', e: 'completed', b: 'condition_failed', c: 'completed' });
    assert.deepEqual(d.conditionFailed, ['d']);
    assert.equal(d.finish, 'completed');
  });

  test('a failure makes the downstream upstream_failed and fails the run at once, cancelling what has not started', () => {
    const d = plan({ a: 'completed', b: 'failed', c: 'running', d: 'initial', e: 'initial' });
    assert.deepEqual(d.upstreamFailed, ['d']);
    assert.equal(d.finish, 'failed');
    assert.deepEqual(d.cancel, ['e']);
    assert.deepEqual(d.queue, []);
  });

  test('upstream_failed propagates through the whole downstream', () => {
    const d = plan({ ...all('initial'), a: 'failed' });
    assert.deepEqual(d.upstreamFailed.sort(), ['b', 'c', 'd']);
  });

  test('allow_blocks_to_fail: independent blocks keep running; the run fails only when everything finished', () => {
    const running = plan({ a: 'failed', b: 'initial', c: 'initial', d: 'initial', e: 'initial' }, { allowBlocksToFail: true });
    assert.deepEqual(running.upstreamFailed.sort(), ['b', 'c', 'd']);
    assert.equal(running.finish, undefined);
    assert.deepEqual(running.queue, ['e']);
    const done = plan({ a: 'failed', b: 'upstream_failed', c: 'upstream_failed', d: 'upstream_failed', e: 'completed' }, { allowBlocksToFail: true });
    assert.equal(done.finish, 'failed');
  });

  test('a cancelled block run makes a finished run failed', () => {
    assert.equal(plan({ ...all('completed'), e: 'cancelled' }).finish, 'failed');
  });

  test('block_run_limit caps queued + running block runs of the run', () => {
    assert.deepEqual(plan(all('initial'), { blockRunLimit: 1 }).queue, ['a']);
    assert.deepEqual(plan({ ...all('initial'), a: 'completed', e: 'running' }, { blockRunLimit: 2 }).queue, ['b']);
    assert.deepEqual(plan({ ...all('initial'), a: 'completed', e: 'running' }, { blockRunLimit: 0 }).queue, ['b', 'c']);
  });
});

describe('retry_config: one source of truth', () => {
  test('Mage defaults, overlaid key by key by project, then pipeline, then block', () => {
    assert.deepEqual(effectiveRetryConfig(null, null, null), { retries: 0, delay: 5, max_delay: 60, exponential_backoff: true });
    assert.deepEqual(effectiveRetryConfig({ retries: 2, delay: 30 }, { delay: 1 }, { max_delay: 4 }), { retries: 2, delay: 1, max_delay: 4, exponential_backoff: true });
    assert.equal(effectiveRetryConfig({ retries: 3 }, { retries: 1 }, { retries: 0 }).retries, 0);
    assert.equal(effectiveRetryConfig({ retries: 'lots' }, null, null).retries, 0, 'invalid values are ignored');
  });

  test('delays double up to max_delay with exponential_backoff, and stay flat without it', () => {
    const c = effectiveRetryConfig(null, null, { delay: 5, max_delay: 12 });
    assert.deepEqual([1, 2, 3].map((n) => retryDelaySeconds(c, n)), [5, 10, 12]);
    const flat = effectiveRetryConfig(null, null, { delay: 5, exponential_backoff: false });
    assert.deepEqual([1, 2, 3].map((n) => retryDelaySeconds(flat, n)), [5, 5, 5]);
  });
});

describe('kwargs layering', () => {
  test('globals < trigger < run variables; event variables only fill gaps; run and block facts last', () => {
    const k = buildKwargs({
      globalVariables: { a: 'global', b: 'global', c: 'global', ds: 'overridden' },
      triggerVariables: { b: 'trigger', c: 'trigger' },
      runVariables: { c: 'run' },
      eventVariables: { a: 'event', z: 'event' },
      executionDate: new Date('2024-03-05T07:08:09Z'),
      executionPartition: '3/20240305T070809',
      pipelineRunId: 9,
      pipelineUuid: 'p',
      blockUuid: 'b1',
      configuration: { x: 1 },
      repoPath: '/repo',
      triggerName: 'nightly',
      env: 'prod',
      intervalVariables: { interval_seconds: 3600 },
    });
    assert.equal(k.a, 'global');
    assert.equal(k.b, 'trigger');
    assert.equal(k.c, 'run');
    assert.equal(k.z, 'event');
    assert.equal(k.ds, '2024-03-05');
    assert.equal(k.hr, '07');
    assert.equal(k.env, 'prod');
    assert.deepEqual(k.event, { a: 'event', z: 'event' });
    assert.equal(k.execution_date, '2024-03-05T07:08:09.000Z');
    assert.equal(k.execution_partition, '3/20240305T070809');
    assert.equal(k.pipeline_run_id, 9);
    assert.equal(k.trigger_name, 'nightly');
    assert.equal(k.interval_seconds, 3600);
    assert.deepEqual(k.configuration, { x: 1 });
    assert.equal(k.pipeline_uuid, 'p');
    assert.equal(k.block_uuid, 'b1');
    assert.equal(k.repo_path, '/repo');
  });
});
