import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  InvalidScheduleIntervalError,
  InvalidTimeZoneError,
  TooManyDueTimesError,
  backfillDates,
  currentExecutionDate,
  dueTimes,
  landingLeadSeconds,
  nextExecutionDate,
  parseScheduleInterval,
  shouldSchedule,
  type ScheduleForDecision,
  type ShouldScheduleInput,
} from './schedule.js';

const d = (iso: string) => new Date(iso);
const iso = (date: Date | null) => (date === null ? null : date.toISOString());
/** Mage's own frozen clock in its schedule tests. */
const NOW = d('2023-10-11T12:13:14Z');

describe('parseScheduleInterval', () => {
  it('parses Mage interval names, with @weekly as Monday', () => {
    assert.deepEqual(parseScheduleInterval('@once', 'time'), { kind: 'once', source: '@once' });
    assert.deepEqual(parseScheduleInterval('@always_on', 'time'), { kind: 'always_on', source: '@always_on' });
    assert.deepEqual(parseScheduleInterval('@hourly', 'time'), { kind: 'hourly', source: '@hourly', cron: '0 * * * *' });
    assert.deepEqual(parseScheduleInterval('@daily', 'time'), { kind: 'daily', source: '@daily', cron: '0 0 * * *' });
    assert.deepEqual(parseScheduleInterval('@weekly', 'time'), { kind: 'weekly', source: '@weekly', cron: '0 0 * * 1' });
    assert.deepEqual(parseScheduleInterval('@monthly', 'time'), { kind: 'monthly', source: '@monthly', cron: '0 0 1 * *' });
  });

  it('parses 5-field cron expressions and croniter aliases', () => {
    assert.deepEqual(parseScheduleInterval('*/15  9-17 * * MON-FRI', 'time'), {
      kind: 'cron',
      source: '*/15  9-17 * * MON-FRI',
      cron: '*/15 9-17 * * MON-FRI',
    });
    assert.deepEqual(parseScheduleInterval('0 9 L * *', 'time'), { kind: 'cron', source: '0 9 L * *', cron: '0 9 L * *' });
    assert.equal(parseScheduleInterval('0 0 * * 1#2', 'time')?.kind, 'cron');
    assert.deepEqual(parseScheduleInterval('@yearly', 'time'), { kind: 'cron', source: '@yearly', cron: '0 0 1 1 *' });
  });

  it('returns null for api and event triggers and for a time trigger without interval', () => {
    assert.equal(parseScheduleInterval(null, 'api'), null);
    assert.equal(parseScheduleInterval(null, 'event'), null);
    assert.equal(parseScheduleInterval('@daily', 'api'), null);
    assert.equal(parseScheduleInterval(null, 'time'), null);
  });

  it('rejects an out-of-range minute naming the field', () => {
    assert.throws(
      () => parseScheduleInterval('61 * * * *', 'time'),
      (err: unknown) =>
        err instanceof InvalidScheduleIntervalError &&
        err.field === 'minute' &&
        /minute value 61 is out of range 0-59/.test(err.message) &&
        err.message.startsWith('Cron expression is invalid'),
    );
  });

  it('rejects a wrong number of fields', () => {
    assert.throws(() => parseScheduleInterval('* * *', 'time'), /expected 5 fields .* got 3/);
    assert.throws(() => parseScheduleInterval('0 * * * * *', 'time'), /expected 5 fields .* got 6/);
  });

  it('rejects bad values in each field, a zero step, reversed ranges, unknown names and impossible dates', () => {
    const cases: Array<[string, string | null]> = [
      ['0 24 * * *', 'hour'],
      ['0 0 0 * *', 'day-of-month'],
      ['0 0 * 13 *', 'month'],
      ['0 0 * * 8', 'day-of-week'],
      ['*/0 * * * *', 'minute'],
      ['5-1 * * * *', 'minute'],
      ['0 0 * foo *', 'month'],
      ['@fortnightly', null],
      ['0 0 30 2 *', null],
      ['', null],
    ];
    for (const [expr, field] of cases) {
      assert.throws(
        () => parseScheduleInterval(expr, 'time'),
        (err: unknown) => err instanceof InvalidScheduleIntervalError && err.field === field,
        expr,
      );
    }
  });
});

describe('currentExecutionDate and nextExecutionDate in UTC (Mage)', () => {
  it('floors @hourly, @daily, @weekly and @monthly like Mage', () => {
    assert.equal(iso(currentExecutionDate('@hourly', NOW)), '2023-10-11T12:00:00.000Z');
    assert.equal(iso(currentExecutionDate('@daily', NOW)), '2023-10-11T00:00:00.000Z');
    assert.equal(iso(currentExecutionDate('@weekly', NOW)), '2023-10-09T00:00:00.000Z');
    assert.equal(iso(currentExecutionDate('@monthly', NOW)), '2023-10-01T00:00:00.000Z');
  });

  it('gives next dates one interval after the current one', () => {
    assert.equal(iso(nextExecutionDate('@hourly', NOW)), '2023-10-11T13:00:00.000Z');
    assert.equal(iso(nextExecutionDate('@daily', NOW)), '2023-10-12T00:00:00.000Z');
    assert.equal(iso(nextExecutionDate('@weekly', NOW)), '2023-10-16T00:00:00.000Z');
    assert.equal(iso(nextExecutionDate('@monthly', NOW)), '2023-11-01T00:00:00.000Z');
    assert.equal(iso(nextExecutionDate('@monthly', d('2023-12-31T23:59:59Z'))), '2024-01-01T00:00:00.000Z');
  });

  it('treats an exact interval boundary as its own floor', () => {
    assert.equal(iso(currentExecutionDate('@hourly', d('2023-10-11T12:00:00.000Z'))), '2023-10-11T12:00:00.000Z');
    assert.equal(iso(currentExecutionDate('@weekly', d('2023-10-09T00:00:00.000Z'))), '2023-10-09T00:00:00.000Z');
  });

  it('uses croniter get_prev/get_next semantics for cron', () => {
    assert.equal(iso(currentExecutionDate('*/5 * * * *', NOW)), '2023-10-11T12:10:00.000Z');
    assert.equal(iso(nextExecutionDate('*/5 * * * *', NOW)), '2023-10-11T12:15:00.000Z');
    // Exactly on a fire time, croniter's get_prev is the fire before, and next is the present fire.
    const onFire = d('2023-10-11T12:00:00.000Z');
    assert.equal(iso(currentExecutionDate('0 * * * *', onFire)), '2023-10-11T11:00:00.000Z');
    assert.equal(iso(nextExecutionDate('0 * * * *', onFire)), '2023-10-11T12:00:00.000Z');
    assert.equal(iso(currentExecutionDate('0 * * * *', d('2023-10-11T12:00:00.500Z'))), '2023-10-11T12:00:00.000Z');
  });

  it('supports the last day of the month (L)', () => {
    assert.equal(iso(currentExecutionDate('0 9 L * *', NOW)), '2023-09-30T09:00:00.000Z');
    assert.equal(iso(nextExecutionDate('0 9 L * *', NOW)), '2023-10-31T09:00:00.000Z');
    assert.equal(iso(nextExecutionDate('0 9 L * *', d('2024-02-10T00:00:00Z'))), '2024-02-29T09:00:00.000Z');
  });

  it('combines day-of-month and day-of-week with OR, as croniter', () => {
    // The 1st of the month or any Monday: after Wed 2023-10-11 comes Mon 2023-10-16.
    assert.equal(iso(nextExecutionDate('0 0 1 * 1', NOW)), '2023-10-16T00:00:00.000Z');
  });

  it('returns now for @once/@always_on current and null for their next; null without interval', () => {
    assert.equal(iso(currentExecutionDate('@once', NOW)), NOW.toISOString());
    assert.equal(iso(currentExecutionDate('@always_on', NOW)), NOW.toISOString());
    assert.equal(nextExecutionDate('@once', NOW), null);
    assert.equal(nextExecutionDate('@always_on', NOW), null);
    assert.equal(currentExecutionDate(null, NOW), null);
    assert.equal(nextExecutionDate(null, NOW), null);
  });

  it('accepts a parsed interval as well as a string', () => {
    const parsed = parseScheduleInterval('@daily', 'time');
    assert.equal(iso(currentExecutionDate(parsed, NOW)), '2023-10-11T00:00:00.000Z');
  });

  it('applies landing time to the current and next dates as Mage', () => {
    const start = d('2023-05-17T12:25:30Z'); // a Wednesday, day 17
    const opts = { landingStartTime: start };
    assert.equal(iso(currentExecutionDate('@hourly', NOW, 'UTC', opts)), '2023-10-11T12:25:30.000Z');
    assert.equal(iso(nextExecutionDate('@hourly', NOW, 'UTC', opts)), '2023-10-11T13:25:30.000Z');
    assert.equal(iso(currentExecutionDate('@daily', NOW, 'UTC', opts)), '2023-10-11T12:25:30.000Z');
    assert.equal(iso(nextExecutionDate('@daily', NOW, 'UTC', opts)), '2023-10-12T12:25:30.000Z');
    // Monday 2023-10-09 + weekday() of Wednesday (2) days.
    assert.equal(iso(currentExecutionDate('@weekly', NOW, 'UTC', opts)), '2023-10-11T12:25:30.000Z');
    assert.equal(iso(nextExecutionDate('@weekly', NOW, 'UTC', opts)), '2023-10-18T12:25:30.000Z');
    // 1st + 16 days; the next date is Mage's (current + 32 days).replace(day=1), back on the 1st.
    assert.equal(iso(currentExecutionDate('@monthly', NOW, 'UTC', opts)), '2023-10-17T12:25:30.000Z');
    assert.equal(iso(nextExecutionDate('@monthly', NOW, 'UTC', opts)), '2023-11-01T12:25:30.000Z');
    // Cron ignores landing time.
    assert.equal(iso(currentExecutionDate('*/5 * * * *', NOW, 'UTC', opts)), '2023-10-11T12:10:00.000Z');
  });
});

describe('time zones (our extension)', () => {
  it('floors on the zone wall clock and returns UTC dates', () => {
    // 2023-10-11 12:13:14Z is 08:13:14 EDT.
    assert.equal(iso(currentExecutionDate('@daily', NOW, 'America/New_York')), '2023-10-11T04:00:00.000Z');
    assert.equal(iso(currentExecutionDate('@monthly', NOW, 'America/New_York')), '2023-10-01T04:00:00.000Z');
    assert.equal(iso(currentExecutionDate('@hourly', NOW, 'Asia/Kolkata')), '2023-10-11T11:30:00.000Z');
    assert.equal(iso(nextExecutionDate('0 9 L * *', NOW, 'Europe/Berlin')), '2023-10-31T08:00:00.000Z');
  });

  it('treats Etc/UTC as UTC and rejects an unknown zone', () => {
    assert.equal(iso(currentExecutionDate('@daily', NOW, 'Etc/UTC')), '2023-10-11T00:00:00.000Z');
    assert.throws(() => currentExecutionDate('@daily', NOW, 'Mars/Olympus'), InvalidTimeZoneError);
  });

  it('spring-forward: a fixed time in the gap runs at the first time after it; a day lasts 23 hours', () => {
    // 2024-03-10 02:00 EST jumps to 03:00 EDT (07:00Z). 02:30 does not exist.
    const tz = 'America/New_York';
    assert.equal(iso(nextExecutionDate('30 2 * * *', d('2024-03-10T05:00:00Z'), tz)), '2024-03-10T07:00:00.000Z');
    assert.equal(iso(currentExecutionDate('30 2 * * *', d('2024-03-10T07:10:00Z'), tz)), '2024-03-10T07:00:00.000Z');
    assert.equal(iso(currentExecutionDate('@daily', d('2024-03-10T12:00:00Z'), tz)), '2024-03-10T05:00:00.000Z');
    assert.equal(iso(nextExecutionDate('@daily', d('2024-03-10T12:00:00Z'), tz)), '2024-03-11T04:00:00.000Z');
    // Hourly skips the missing wall hour: 01:00 EST (06:00Z) is followed by 03:00 EDT (07:00Z).
    assert.deepEqual(dueTimes('@hourly', d('2024-03-10T05:30:00Z'), d('2024-03-10T07:30:00Z'), tz).map(iso), [
      '2024-03-10T06:00:00.000Z',
      '2024-03-10T07:00:00.000Z',
    ]);
  });

  it('fall-back: a fixed time that repeats runs once; hourly runs on both repeated hours', () => {
    // 2024-11-03 02:00 EDT falls back to 01:00 EST (06:00Z); 01:30 occurs at 05:30Z and 06:30Z.
    const tz = 'America/New_York';
    assert.deepEqual(dueTimes('30 1 * * *', d('2024-11-03T00:00:00Z'), d('2024-11-04T12:00:00Z'), tz).map(iso), [
      '2024-11-03T05:30:00.000Z',
      '2024-11-04T06:30:00.000Z',
    ]);
    assert.equal(iso(currentExecutionDate('30 1 * * *', d('2024-11-03T06:45:00Z'), tz)), '2024-11-03T05:30:00.000Z');
    assert.deepEqual(dueTimes('@hourly', d('2024-11-03T04:30:00Z'), d('2024-11-03T07:30:00Z'), tz).map(iso), [
      '2024-11-03T05:00:00.000Z',
      '2024-11-03T06:00:00.000Z',
      '2024-11-03T07:00:00.000Z',
    ]);
    assert.equal(iso(currentExecutionDate('@hourly', d('2024-11-03T06:10:00Z'), tz)), '2024-11-03T06:00:00.000Z');
    // The fall-back day lasts 25 hours.
    assert.equal(iso(nextExecutionDate('@daily', d('2024-11-03T12:00:00Z'), tz)), '2024-11-04T05:00:00.000Z');
  });

  it('applies landing time on the zone wall clock', () => {
    // Start time 08:30 New York time (12:30Z in summer); the landing daily date is 08:30 local.
    const opts = { landingStartTime: d('2023-07-01T12:30:00Z') };
    assert.equal(iso(currentExecutionDate('@daily', NOW, 'America/New_York', opts)), '2023-10-11T12:30:00.000Z');
    // Across spring-forward the local time of day is kept: 08:30 EDT on 2024-03-11 is 12:30Z.
    assert.equal(iso(nextExecutionDate('@daily', d('2024-03-10T14:00:00Z'), 'America/New_York', opts)), '2024-03-11T12:30:00.000Z');
  });
});

describe('dueTimes', () => {
  it('lists execution dates in (from, to], oldest first', () => {
    assert.deepEqual(dueTimes('@daily', d('2023-10-09T00:00:00Z'), d('2023-10-11T00:00:00Z')).map(iso), [
      '2023-10-10T00:00:00.000Z',
      '2023-10-11T00:00:00.000Z',
    ]);
    assert.deepEqual(dueTimes('@monthly', d('2023-01-15T00:00:00Z'), d('2023-04-01T00:00:00Z')).map(iso), [
      '2023-02-01T00:00:00.000Z',
      '2023-03-01T00:00:00.000Z',
      '2023-04-01T00:00:00.000Z',
    ]);
  });

  it('is empty for non-recurring intervals and empty windows', () => {
    assert.deepEqual(dueTimes('@once', d('2023-01-01T00:00:00Z'), NOW), []);
    assert.deepEqual(dueTimes('@always_on', d('2023-01-01T00:00:00Z'), NOW), []);
    assert.deepEqual(dueTimes(null, d('2023-01-01T00:00:00Z'), NOW), []);
    assert.deepEqual(dueTimes('@daily', NOW, NOW), []);
  });

  it('throws instead of listing more than the limit', () => {
    assert.throws(
      () => dueTimes('* * * * *', d('2023-10-11T00:00:00Z'), d('2023-10-11T01:00:00Z'), 'UTC', { limit: 10 }),
      TooManyDueTimesError,
    );
  });
});

function decide(overrides: Partial<Omit<ShouldScheduleInput, 'schedule'>> & { schedule?: Partial<ScheduleForDecision> } = {}) {
  const schedule: ScheduleForDecision = {
    status: 'active',
    scheduleInterval: '@daily',
    startTime: d('2023-01-01T00:00:00Z'),
    lastEnabledAt: null,
    settings: {},
    ...overrides.schedule,
  };
  return shouldSchedule({
    now: NOW,
    hasRunForExecutionDate: () => false,
    runCount: 0,
    lastRunStatus: null,
    ...overrides,
    schedule,
  });
}

describe('shouldSchedule (Mage §6.2)', () => {
  it('does not fire an inactive schedule', () => {
    assert.deepEqual(decide({ schedule: { status: 'inactive' } }), { fire: false, executionDate: null, reason: 'inactive' });
  });

  it('does not fire before start_time', () => {
    assert.equal(decide({ schedule: { startTime: d('2023-10-12T00:00:00Z') } }).reason, 'before_start_time');
  });

  it('does not fire api and event triggers or a time trigger without interval', () => {
    assert.equal(decide({ schedule: { scheduleType: 'api', scheduleInterval: null } }).reason, 'no_interval');
    assert.equal(decide({ schedule: { scheduleType: 'event', scheduleInterval: '@daily' } }).fire, false);
    assert.equal(decide({ schedule: { scheduleInterval: null } }).reason, 'no_interval');
  });

  it('@once fires until it has a run, or until executor_count runs for streaming pipelines', () => {
    const first = decide({ schedule: { scheduleInterval: '@once' } });
    assert.deepEqual(first, { fire: true, executionDate: NOW, reason: 'once_first_run' });
    assert.equal(decide({ schedule: { scheduleInterval: '@once' }, runCount: 1 }).reason, 'once_has_run');
    assert.equal(decide({ schedule: { scheduleInterval: '@once' }, runCount: 1, executorCount: 3 }).reason, 'once_more_executors');
    assert.equal(decide({ schedule: { scheduleInterval: '@once' }, runCount: 3, executorCount: 3 }).fire, false);
  });

  it('@always_on fires without runs or when the last run is neither initial nor running', () => {
    const always = { scheduleInterval: '@always_on' };
    assert.equal(decide({ schedule: always }).reason, 'always_on_no_runs');
    assert.equal(decide({ schedule: always, runCount: 2, lastRunStatus: 'running' }).reason, 'always_on_run_in_progress');
    assert.equal(decide({ schedule: always, runCount: 2, lastRunStatus: 'initial' }).fire, false);
    assert.deepEqual(decide({ schedule: always, runCount: 2, lastRunStatus: 'failed' }), {
      fire: true,
      executionDate: NOW,
      reason: 'always_on_restart',
    });
    assert.equal(decide({ schedule: always, runCount: 2, lastRunStatus: 'completed' }).fire, true);
  });

  it('fires a time interval for the current execution date when it has no run', () => {
    assert.deepEqual(decide(), { fire: true, executionDate: d('2023-10-11T00:00:00Z'), reason: 'due' });
    assert.deepEqual(decide({ schedule: { scheduleInterval: '*/5 * * * *' } }).executionDate, d('2023-10-11T12:10:00Z'));
  });

  it('does not fire when a run exists for the exact execution date', () => {
    const seen: Date[] = [];
    const decision = decide({
      hasRunForExecutionDate: (date) => {
        seen.push(date);
        return date.getTime() === d('2023-10-11T00:00:00Z').getTime();
      },
    });
    assert.equal(decision.reason, 'run_exists');
    assert.deepEqual(seen, [d('2023-10-11T00:00:00Z')]);
  });

  it('does not fire when the current execution date is before start_time', () => {
    // now is past start_time, but today's midnight is not.
    const decision = decide({ schedule: { startTime: d('2023-10-11T06:00:00Z') } });
    assert.deepEqual(decision, {
      fire: false,
      executionDate: d('2023-10-11T00:00:00Z'),
      reason: 'execution_date_before_start_time',
    });
  });

  it('skips the interval begun before last_enabled_at unless create_initial_pipeline_run', () => {
    const enabled = { lastEnabledAt: d('2023-10-11T09:00:00Z') };
    assert.equal(decide({ schedule: enabled }).reason, 'execution_date_before_last_enabled_at');
    assert.equal(decide({ schedule: { ...enabled, settings: { create_initial_pipeline_run: true } } }).reason, 'due');
    // last_enabled_at null (an old schedule): fire.
    assert.equal(decide({ schedule: { lastEnabledAt: null } }).reason, 'due');
    // Enabled before the interval began: fire.
    assert.equal(decide({ schedule: { lastEnabledAt: d('2023-10-10T09:00:00Z') } }).reason, 'due');
  });

  it('evaluates the floor in the trigger time zone', () => {
    const decision = decide({ schedule: { timezone: 'America/New_York' } });
    assert.deepEqual(decision.executionDate, d('2023-10-11T04:00:00Z'));
  });

  describe('landing time', () => {
    // Runs must finish by 12:25:00 every day; start_time is after now, which landing time allows.
    const landing = {
      startTime: d('2023-10-11T12:25:00Z'),
      settings: { landing_time_enabled: true },
    };

    it('fires without runtime history', () => {
      assert.deepEqual(decide({ schedule: landing }), {
        fire: true,
        executionDate: d('2023-10-11T12:25:00Z'),
        reason: 'landing_time_no_history',
      });
    });

    it('starts avg + stdev/2 before the landing time', () => {
      // ceil(102.5) + ceil(stdev 17.08 / 2) = 103 + 9 = 112 s, so the run starts at 12:23:08.
      const runtimes = [100, 120, 80, 110];
      assert.equal(landingLeadSeconds(runtimes), 112);
      assert.equal(landingLeadSeconds([100]), 100);
      assert.equal(decide({ schedule: landing, previousRuntimesSeconds: runtimes }).reason, 'landing_time_not_yet');
      assert.equal(
        decide({ schedule: landing, previousRuntimesSeconds: runtimes, now: d('2023-10-11T12:23:07Z') }).reason,
        'landing_time_not_yet',
      );
      assert.deepEqual(decide({ schedule: landing, previousRuntimesSeconds: runtimes, now: d('2023-10-11T12:23:08Z') }), {
        fire: true,
        executionDate: d('2023-10-11T12:25:00Z'),
        reason: 'landing_time_due',
      });
    });

    it('uses only the 7 most recent runtimes', () => {
      // The eighth value would push the lead far back if it were used.
      const runtimes = [60, 60, 60, 60, 60, 60, 60, 100_000];
      assert.equal(decide({ schedule: landing, previousRuntimesSeconds: runtimes, now: d('2023-10-11T12:23:59Z') }).fire, false);
      assert.equal(decide({ schedule: landing, previousRuntimesSeconds: runtimes, now: d('2023-10-11T12:24:00Z') }).fire, true);
    });

    it('is ignored for cron intervals, so start_time gates firing again', () => {
      assert.equal(decide({ schedule: { ...landing, scheduleInterval: '*/5 * * * *' } }).reason, 'before_start_time');
    });

    it('still requires no run for the landing execution date', () => {
      assert.equal(decide({ schedule: landing, hasRunForExecutionDate: () => true }).reason, 'run_exists');
    });
  });
});

describe('backfillDates (Mage §3.13)', () => {
  it('steps by fixed units, end inclusive', () => {
    const dates = backfillDates({
      start: d('2023-10-01T00:00:00Z'),
      end: d('2023-10-03T00:00:00Z'),
      intervalType: 'day',
      intervalUnits: 1,
    });
    assert.deepEqual(dates.map(iso), ['2023-10-01T00:00:00.000Z', '2023-10-02T00:00:00.000Z', '2023-10-03T00:00:00.000Z']);
    assert.deepEqual(
      backfillDates({ start: d('2023-10-01T00:00:00Z'), end: d('2023-10-01T01:00:00Z'), intervalType: 'minute', intervalUnits: 25 }).map(iso),
      ['2023-10-01T00:00:00.000Z', '2023-10-01T00:25:00.000Z', '2023-10-01T00:50:00.000Z'],
    );
    assert.equal(
      backfillDates({ start: d('2023-10-01T00:00:00Z'), end: d('2023-10-29T00:00:00Z'), intervalType: 'week', intervalUnits: 2 }).length,
      3,
    );
    assert.equal(
      backfillDates({ start: d('2023-10-01T00:00:00Z'), end: d('2023-10-01T00:00:10Z'), intervalType: 'custom', intervalUnits: 5 }).length,
      3,
    );
    assert.equal(
      backfillDates({ start: d('2023-10-01T00:00:00Z'), end: d('2023-10-01T00:00:02Z'), intervalType: 'second', intervalUnits: 1 }).length,
      3,
    );
    assert.equal(
      backfillDates({ start: d('2023-10-01T00:00:00Z'), end: d('2023-10-01T05:00:00Z'), intervalType: 'hour', intervalUnits: 2 }).length,
      3,
    );
  });

  it('steps months from the previous date, so a clamped month end stays clamped (relativedelta)', () => {
    const dates = backfillDates({
      start: d('2024-01-31T00:00:00Z'),
      end: d('2024-06-01T00:00:00Z'),
      intervalType: 'month',
      intervalUnits: 1,
    });
    assert.deepEqual(dates.map(iso), [
      '2024-01-31T00:00:00.000Z',
      '2024-02-29T00:00:00.000Z',
      '2024-03-29T00:00:00.000Z',
      '2024-04-29T00:00:00.000Z',
      '2024-05-29T00:00:00.000Z',
    ]);
  });

  it('steps years, clamping Feb 29', () => {
    const dates = backfillDates({
      start: d('2024-02-29T06:00:00Z'),
      end: d('2026-03-01T00:00:00Z'),
      intervalType: 'year',
      intervalUnits: 1,
    });
    assert.deepEqual(dates.map(iso), ['2024-02-29T06:00:00.000Z', '2025-02-28T06:00:00.000Z', '2026-02-28T06:00:00.000Z']);
  });

  it('returns no dates when start is after end', () => {
    assert.deepEqual(backfillDates({ start: NOW, end: d('2023-01-01T00:00:00Z'), intervalType: 'day', intervalUnits: 1 }), []);
  });

  it('rejects bad units, unknown types and oversize lists', () => {
    const base = { start: d('2023-10-01T00:00:00Z'), end: d('2023-10-03T00:00:00Z') };
    assert.throws(() => backfillDates({ ...base, intervalType: 'day', intervalUnits: 0 }), /positive integer/);
    assert.throws(() => backfillDates({ ...base, intervalType: 'day', intervalUnits: 1.5 }), /positive integer/);
    assert.throws(() => backfillDates({ ...base, intervalType: 'fortnight' as 'day', intervalUnits: 1 }), /Unknown interval_type/);
    assert.throws(() => backfillDates({ ...base, intervalType: 'second', intervalUnits: 1, limit: 100 }), /more than 100 runs/);
  });
});
