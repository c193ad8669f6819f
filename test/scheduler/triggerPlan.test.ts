/**
 * planTrigger with a frozen clock: each interval's current and next execution dates as the loop uses them,
 * the gates of start_time, last_enabled_at / create_initial_pipeline_run and landing time, time zones, and
 * every catch-up policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planTrigger, LANDING_RECHECK_MS, type TriggerPlanInput } from '../../src/scheduler/triggerPlan.js';
import type { ScheduleRow } from '../../src/store/schedules.js';

const NOW = new Date('2024-05-15T10:30:00Z'); // a Wednesday

function schedule(fields: Partial<ScheduleRow>): ScheduleRow {
  return {
    id: 1,
    created_at: '2024-01-01 00:00:00.000000+00:00',
    updated_at: '2024-01-01 00:00:00.000000+00:00',
    name: 't',
    description: null,
    pipeline_uuid: 'p',
    schedule_type: 'time',
    start_time: null,
    schedule_interval: '@hourly',
    status: 'active',
    last_enabled_at: null,
    variables: null,
    sla: null,
    token: null,
    token_hash: null,
    repo_path: null,
    settings: null,
    global_data_product_uuid: null,
    catch_up_policy: null,
    timezone: null,
    ...fields,
  };
}

function plan(fields: Partial<ScheduleRow>, extra: Partial<TriggerPlanInput> = {}) {
  return planTrigger({ schedule: schedule(fields), now: NOW, hasRun: () => false, lastExecutionDate: null, runCount: 0, lastRunStatus: null, ...extra });
}

const iso = (ms: number) => new Date(ms).toISOString();

test('each interval: the current execution date fires and the next one is when to look again', () => {
  const cases: Array<[string, string, string]> = [
    ['@hourly', '2024-05-15T10:00:00.000Z', '2024-05-15T11:00:00.000Z'],
    ['@daily', '2024-05-15T00:00:00.000Z', '2024-05-16T00:00:00.000Z'],
    ['@weekly', '2024-05-13T00:00:00.000Z', '2024-05-20T00:00:00.000Z'],
    ['@monthly', '2024-05-01T00:00:00.000Z', '2024-06-01T00:00:00.000Z'],
    ['*/20 * * * *', '2024-05-15T10:20:00.000Z', '2024-05-15T10:40:00.000Z'],
    ['15 3 * * 1-5', '2024-05-15T03:15:00.000Z', '2024-05-16T03:15:00.000Z'],
  ];
  for (const [interval, current, next] of cases) {
    const p = plan({ schedule_interval: interval });
    assert.deepEqual(p.executionDates.map((d) => d.toISOString()), [current], interval);
    assert.equal(iso(p.nextCheck), next, interval);
  }
});

test('an existing run for the current date does not fire again', () => {
  const p = plan({ schedule_interval: '@daily' }, { hasRun: (d) => d.toISOString() === '2024-05-15T00:00:00.000Z' });
  assert.deepEqual(p.executionDates, []);
  assert.equal(p.reason, 'run_exists');
});

test('time zones: a daily trigger in New York fires at local midnight', () => {
  const p = plan({ schedule_interval: '@daily', timezone: 'America/New_York' });
  assert.deepEqual(p.executionDates.map((d) => d.toISOString()), ['2024-05-15T04:00:00.000Z']);
  assert.equal(iso(p.nextCheck), '2024-05-16T04:00:00.000Z');
});

test('@once fires while it has no run; @always_on fires unless its last run is in progress', () => {
  assert.equal(plan({ schedule_interval: '@once' }).executionDates.length, 1);
  assert.equal(plan({ schedule_interval: '@once' }, { runCount: 1 }).executionDates.length, 0);
  assert.equal(plan({ schedule_interval: '@once' }).nextCheck, Infinity);
  assert.equal(plan({ schedule_interval: '@always_on' }, { runCount: 3, lastRunStatus: 'completed' }).executionDates.length, 1);
  assert.equal(plan({ schedule_interval: '@always_on' }, { runCount: 3, lastRunStatus: 'running' }).executionDates.length, 0);
});

test('start_time: nothing before it, and the loop wakes at it', () => {
  const p = plan({ schedule_interval: '@hourly', start_time: '2024-05-15 12:00:00.000000+00:00' });
  assert.deepEqual(p.executionDates, []);
  assert.equal(iso(p.nextCheck), '2024-05-15T12:00:00.000Z');
});

test('last_enabled_at skips the interval that began before it, unless create_initial_pipeline_run', () => {
  const enabled = { schedule_interval: '@daily', last_enabled_at: '2024-05-15 09:00:00.000000+00:00' };
  assert.deepEqual(plan(enabled).executionDates, []);
  assert.equal(plan({ ...enabled, settings: { create_initial_pipeline_run: true } }).executionDates.length, 1);
});

test('landing time: the run starts its average runtime before the landing time, looked at every minute', () => {
  const landing = { schedule_interval: '@daily', start_time: '2024-01-01 11:00:00.000000+00:00', settings: { landing_time_enabled: true } };
  const early = plan(landing, { previousRuntimesSeconds: [600, 600] });
  assert.deepEqual(early.executionDates, [], '10:30 is before 11:00 - 10 min');
  assert.equal(early.nextCheck, NOW.getTime() + LANDING_RECHECK_MS);
  const due = plan(landing, { previousRuntimesSeconds: [3600, 3600] });
  assert.deepEqual(due.executionDates.map((d) => d.toISOString()), ['2024-05-15T11:00:00.000Z']);
});

test('inactive triggers never fire', () => {
  const p = plan({ status: 'inactive' });
  assert.deepEqual(p.executionDates, []);
  assert.equal(p.nextCheck, Infinity);
});

test('catch-up none (default): after five missed hours only the current one', () => {
  const p = plan({ schedule_interval: '@hourly' }, { lastExecutionDate: new Date('2024-05-15T05:00:00Z') });
  assert.deepEqual(p.executionDates.map((d) => d.toISOString()), ['2024-05-15T10:00:00.000Z']);
  assert.equal(p.skipped, 0);
});

test('catch-up latest: only the current one, and the missed ones are counted', () => {
  const p = plan({ schedule_interval: '@hourly', catch_up_policy: 'latest' }, { lastExecutionDate: new Date('2024-05-15T05:00:00Z') });
  assert.deepEqual(p.executionDates.map((d) => d.toISOString()), ['2024-05-15T10:00:00.000Z']);
  assert.equal(p.skipped, 4);
});

test('catch-up all: every missed interval oldest first, bounded by catch_up_max', () => {
  const all = plan({ schedule_interval: '@hourly', catch_up_policy: 'all' }, { lastExecutionDate: new Date('2024-05-15T05:00:00Z') });
  assert.deepEqual(all.executionDates.map((d) => d.toISOString().slice(11, 13)), ['06', '07', '08', '09', '10']);
  const bounded = plan({ schedule_interval: '@hourly', catch_up_policy: 'all', settings: { catch_up_max: 2 } }, { lastExecutionDate: new Date('2024-05-15T05:00:00Z') });
  assert.deepEqual(bounded.executionDates.map((d) => d.toISOString().slice(11, 13)), ['09', '10']);
  assert.equal(bounded.skipped, 3);
  const existing = plan({ schedule_interval: '@hourly', catch_up_policy: 'all' }, {
    lastExecutionDate: new Date('2024-05-15T05:00:00Z'),
    hasRun: (d) => d.toISOString().startsWith('2024-05-15T07'),
  });
  assert.equal(existing.executionDates.length, 4, 'dates that have a run are not planned again');
});
