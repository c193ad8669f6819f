import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backfillRunVariables, intervalVariables, pythonIsoformat } from './intervalVariables.js';
import { backfillDates } from './schedule.js';

const d = (iso: string) => new Date(iso);

describe('pythonIsoformat', () => {
  it('renders like datetime.isoformat() of an aware UTC datetime', () => {
    assert.equal(pythonIsoformat(d('2023-10-11T00:00:00Z')), '2023-10-11T00:00:00+00:00');
    assert.equal(pythonIsoformat(d('2023-10-11T00:00:00.123Z')), '2023-10-11T00:00:00.123000+00:00');
  });
});

describe('intervalVariables (Mage PipelineRun.get_variables)', () => {
  it('@daily: one day, previous one day before', () => {
    assert.deepEqual(intervalVariables('@daily', d('2023-10-11T00:00:00Z')), {
      interval_start_datetime: '2023-10-11T00:00:00+00:00',
      interval_end_datetime: '2023-10-12T00:00:00+00:00',
      interval_seconds: 86_400,
      interval_start_datetime_previous: '2023-10-10T00:00:00+00:00',
    });
  });

  it('@hourly and @weekly', () => {
    assert.deepEqual(intervalVariables('@hourly', d('2023-10-11T12:00:00Z')), {
      interval_start_datetime: '2023-10-11T12:00:00+00:00',
      interval_end_datetime: '2023-10-11T13:00:00+00:00',
      interval_seconds: 3600,
      interval_start_datetime_previous: '2023-10-11T11:00:00+00:00',
    });
    assert.deepEqual(intervalVariables('@weekly', d('2023-10-09T00:00:00Z')), {
      interval_start_datetime: '2023-10-09T00:00:00+00:00',
      interval_end_datetime: '2023-10-16T00:00:00+00:00',
      interval_seconds: 604_800,
      interval_start_datetime_previous: '2023-10-02T00:00:00+00:00',
    });
  });

  it('@monthly: one calendar month; previous is start minus this month length (Mage formula)', () => {
    assert.deepEqual(intervalVariables('@monthly', d('2023-10-01T00:00:00Z')), {
      interval_start_datetime: '2023-10-01T00:00:00+00:00',
      interval_end_datetime: '2023-11-01T00:00:00+00:00',
      interval_seconds: 2_678_400,
      interval_start_datetime_previous: '2023-08-31T00:00:00+00:00',
    });
    assert.equal(intervalVariables('@monthly', d('2024-02-01T00:00:00Z'))?.interval_seconds, 29 * 86_400);
  });

  it('cron: end is the next fire; previous is start minus interval_seconds, not the previous fire', () => {
    // Friday 09:00 of a weekday schedule: the interval runs to Monday 09:00 (values checked against croniter 6.2.4).
    assert.deepEqual(intervalVariables('0 9 * * 1-5', d('2023-10-13T09:00:00Z')), {
      interval_start_datetime: '2023-10-13T09:00:00+00:00',
      interval_end_datetime: '2023-10-16T09:00:00+00:00',
      interval_seconds: 259_200,
      interval_start_datetime_previous: '2023-10-10T09:00:00+00:00',
    });
    assert.deepEqual(intervalVariables('*/15 * * * *', d('2023-10-11T12:15:00Z')), {
      interval_start_datetime: '2023-10-11T12:15:00+00:00',
      interval_end_datetime: '2023-10-11T12:30:00+00:00',
      interval_seconds: 900,
      interval_start_datetime_previous: '2023-10-11T12:00:00+00:00',
    });
  });

  it('cron with an execution date off the schedule follows Mage iterator steps', () => {
    // croniter from 12:13:14: get_prev 12:00, get_next 13:00, get_next 14:00.
    assert.deepEqual(intervalVariables('0 * * * *', d('2023-10-11T12:13:14Z')), {
      interval_start_datetime: '2023-10-11T12:13:14+00:00',
      interval_end_datetime: '2023-10-11T14:00:00+00:00',
      interval_seconds: 6406,
      interval_start_datetime_previous: '2023-10-11T10:26:28+00:00',
    });
  });

  it('@once and @always_on: only the start', () => {
    for (const interval of ['@once', '@always_on']) {
      assert.deepEqual(intervalVariables(interval, d('2023-10-11T12:13:14Z')), {
        interval_start_datetime: '2023-10-11T12:13:14+00:00',
        interval_end_datetime: null,
        interval_seconds: null,
        interval_start_datetime_previous: null,
      });
    }
  });

  it('no interval (api, event triggers): none', () => {
    assert.equal(intervalVariables(null, d('2023-10-11T00:00:00Z')), null);
  });

  it('in a time zone, days are wall-clock days (23 hours on spring-forward)', () => {
    // Midnight New York time on 2024-03-10 is 05:00Z; the next midnight is 04:00Z.
    assert.deepEqual(intervalVariables('@daily', d('2024-03-10T05:00:00Z'), 'America/New_York'), {
      interval_start_datetime: '2024-03-10T05:00:00+00:00',
      interval_end_datetime: '2024-03-11T04:00:00+00:00',
      interval_seconds: 82_800,
      interval_start_datetime_previous: '2024-03-09T05:00:00+00:00',
    });
    assert.deepEqual(intervalVariables('@monthly', d('2023-10-01T04:00:00Z'), 'America/New_York'), {
      interval_start_datetime: '2023-10-01T04:00:00+00:00',
      interval_end_datetime: '2023-11-01T04:00:00+00:00',
      interval_seconds: 2_678_400,
      interval_start_datetime_previous: '2023-08-31T04:00:00+00:00',
    });
    // Cron fires are the zone's: 09:00 New York is 13:00Z before and 14:00Z after the fall-back.
    assert.equal(
      intervalVariables('0 9 * * *', d('2024-11-02T13:00:00Z'), 'America/New_York')?.interval_end_datetime,
      '2024-11-03T14:00:00+00:00',
    );
  });
});

describe('backfillRunVariables (Mage backfill service)', () => {
  it('gives each run its date, ds, hr and the interval to the next date', () => {
    const dates = backfillDates({
      start: d('2024-01-31T06:00:00Z'),
      end: d('2024-03-01T00:00:00Z'),
      intervalType: 'month',
      intervalUnits: 1,
    });
    assert.deepEqual(backfillRunVariables(dates), [
      {
        ds: '2024-01-31',
        execution_date: '2024-01-31T06:00:00+00:00',
        hr: '06',
        interval_end_datetime: '2024-02-29T06:00:00+00:00',
        interval_seconds: 29 * 86_400,
        interval_start_datetime: '2024-01-31T06:00:00+00:00',
      },
      {
        ds: '2024-02-29',
        execution_date: '2024-02-29T06:00:00+00:00',
        hr: '06',
        interval_end_datetime: null,
        interval_seconds: null,
        interval_start_datetime: '2024-02-29T06:00:00+00:00',
      },
    ]);
  });
});
