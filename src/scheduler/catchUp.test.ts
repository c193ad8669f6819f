import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planCatchUp, type PlanCatchUpInput } from './catchUp.js';

const d = (iso: string) => new Date(iso);
const NOW = d('2023-10-11T12:13:14Z');
const CURRENT_DAILY = d('2023-10-11T00:00:00Z');

function plan(overrides: Partial<PlanCatchUpInput>) {
  return planCatchUp({
    interval: '@daily',
    lastExecutionDate: d('2023-10-06T00:00:00Z'), // Oct 7 … Oct 10 were missed
    startTime: d('2023-01-01T00:00:00Z'),
    now: NOW,
    ...overrides,
  });
}

describe('planCatchUp', () => {
  it('none (default) plans only the current interval and counts nothing, as Mage', () => {
    assert.deepEqual(plan({}), { executionDates: [CURRENT_DAILY], skipped: 0, skippedIsLowerBound: false, current: CURRENT_DAILY });
    assert.deepEqual(plan({ policy: 'none' }).executionDates, [CURRENT_DAILY]);
  });

  it('none plans nothing when the current interval already has the last run or precedes start_time', () => {
    assert.deepEqual(plan({ lastExecutionDate: CURRENT_DAILY }).executionDates, []);
    assert.deepEqual(plan({ startTime: d('2023-10-11T06:00:00Z') }).executionDates, []);
  });

  it('latest plans the current interval and reports the missed ones it drops', () => {
    assert.deepEqual(plan({ policy: 'latest' }), {
      executionDates: [CURRENT_DAILY],
      skipped: 4,
      skippedIsLowerBound: false,
      current: CURRENT_DAILY,
    });
  });

  it('all plans every missed interval then the current one, oldest first', () => {
    assert.deepEqual(plan({ policy: 'all' }), {
      executionDates: [
        d('2023-10-07T00:00:00Z'),
        d('2023-10-08T00:00:00Z'),
        d('2023-10-09T00:00:00Z'),
        d('2023-10-10T00:00:00Z'),
        CURRENT_DAILY,
      ],
      skipped: 0,
      skippedIsLowerBound: false,
      current: CURRENT_DAILY,
    });
  });

  it('all keeps the most recent max dates and counts the dropped older ones', () => {
    assert.deepEqual(plan({ policy: 'all', max: 3 }), {
      executionDates: [d('2023-10-09T00:00:00Z'), d('2023-10-10T00:00:00Z'), CURRENT_DAILY],
      skipped: 2,
      skippedIsLowerBound: false,
      current: CURRENT_DAILY,
    });
    assert.deepEqual(plan({ policy: 'all', max: 1 }).executionDates, [CURRENT_DAILY]);
    assert.equal(plan({ policy: 'all', max: 1 }).skipped, 4);
    // Exactly at the bound nothing is dropped.
    assert.equal(plan({ policy: 'all', max: 5 }).skipped, 0);
    assert.equal(plan({ policy: 'all', max: 5 }).executionDates.length, 5);
  });

  it('all defaults to a bound of 100', () => {
    const result = plan({ policy: 'all', interval: '@hourly', lastExecutionDate: d('2023-10-01T00:00:00Z') });
    // Hours in (Oct 1 00:00, Oct 11 12:00]: 252; 100 kept.
    assert.equal(result.executionDates.length, 100);
    assert.equal(result.skipped, 152);
    assert.deepEqual(result.executionDates[99], d('2023-10-11T12:00:00Z'));
    assert.deepEqual(result.executionDates[0], d('2023-10-07T09:00:00Z'));
  });

  it('reports a lower bound when counting the dropped intervals stops at countLimit', () => {
    const result = plan({ policy: 'latest', interval: '* * * * *', countLimit: 50 });
    assert.equal(result.skipped, 50);
    assert.equal(result.skippedIsLowerBound, true);
    assert.deepEqual(result.executionDates, [d('2023-10-11T12:13:00Z')]);
  });

  it('without a previous run, catches up from start_time (inclusive)', () => {
    const result = plan({ policy: 'all', lastExecutionDate: null, startTime: d('2023-10-09T00:00:00Z') });
    assert.deepEqual(result.executionDates, [d('2023-10-09T00:00:00Z'), d('2023-10-10T00:00:00Z'), CURRENT_DAILY]);
  });

  it('without a previous run, start_time or last_enabled_at, nothing counts as missed', () => {
    assert.deepEqual(plan({ policy: 'all', lastExecutionDate: null, startTime: null }).executionDates, [CURRENT_DAILY]);
    assert.equal(plan({ policy: 'latest', lastExecutionDate: null, startTime: null }).skipped, 0);
  });

  it('does not catch up intervals from before last_enabled_at', () => {
    const result = plan({ policy: 'all', lastEnabledAt: d('2023-10-08T12:00:00Z') });
    assert.deepEqual(result.executionDates, [d('2023-10-09T00:00:00Z'), d('2023-10-10T00:00:00Z'), CURRENT_DAILY]);
    assert.equal(plan({ policy: 'latest', lastEnabledAt: d('2023-10-08T12:00:00Z') }).skipped, 2);
  });

  it('plans nothing for non-recurring intervals', () => {
    for (const interval of ['@once', '@always_on', null]) {
      assert.deepEqual(plan({ policy: 'all', interval }), { executionDates: [], skipped: 0, skippedIsLowerBound: false, current: null });
    }
  });

  it('works on the trigger time zone wall clock', () => {
    // Daily at midnight New York time; the last run was Oct 9 00:00 EDT (04:00Z).
    const result = plan({
      policy: 'all',
      timezone: 'America/New_York',
      lastExecutionDate: d('2023-10-09T04:00:00Z'),
    });
    assert.deepEqual(result.executionDates, [d('2023-10-10T04:00:00Z'), d('2023-10-11T04:00:00Z')]);
  });

  it('catches up cron intervals', () => {
    const result = plan({ policy: 'all', interval: '0 9 * * 1-5', lastExecutionDate: d('2023-10-05T09:00:00Z') });
    // Fri Oct 6, Mon Oct 9, Tue Oct 10, and the current Wed Oct 11 09:00.
    assert.deepEqual(result.executionDates, [
      d('2023-10-06T09:00:00Z'),
      d('2023-10-09T09:00:00Z'),
      d('2023-10-10T09:00:00Z'),
      d('2023-10-11T09:00:00Z'),
    ]);
  });

  it('rejects a bad max or policy', () => {
    assert.throws(() => plan({ policy: 'all', max: 0 }), /positive integer/);
    assert.throws(() => plan({ policy: 'all', max: 2.5 }), /positive integer/);
    assert.throws(() => plan({ policy: 'every' as 'all' }), /Unknown catch-up policy/);
  });
});
