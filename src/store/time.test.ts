import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dbTime, fromDbTime, nowDbTime, toDbTime } from './time.js';

describe('store time format', () => {
  it('renders UTC with microseconds padded from milliseconds', () => {
    assert.equal(toDbTime(new Date('2024-03-05T07:08:09.012Z')), '2024-03-05 07:08:09.012000+00:00');
    assert.match(nowDbTime(), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/);
  });

  it('parses the stored form, ISO forms, offsets and naive UTC', () => {
    const t = Date.parse('2024-03-05T07:08:09.012Z');
    assert.equal(fromDbTime('2024-03-05 07:08:09.012345+00:00').getTime(), t);
    assert.equal(fromDbTime('2024-03-05T07:08:09.012Z').getTime(), t);
    assert.equal(fromDbTime('2024-03-05T09:08:09.012+02:00').getTime(), t);
    assert.equal(fromDbTime('2024-03-05 07:08:09.012').getTime(), t);
    assert.equal(fromDbTime('2024-03-05').getTime(), Date.parse('2024-03-05T00:00:00Z'));
  });

  it('rejects malformed and out-of-range text with the reason', () => {
    assert.throws(() => fromDbTime('yesterday'), /Invalid timestamp "yesterday"/);
    assert.throws(() => fromDbTime('2024-02-30 00:00:00'), /out of range/);
    assert.throws(() => toDbTime(new Date('nope')), /invalid Date/);
  });

  it('sorts chronologically as text', () => {
    const dates = ['2024-01-01T00:00:00.5Z', '2023-12-31T23:59:59.999Z', '2024-01-01T00:00:00Z'].map((s) => dbTime(s));
    assert.deepEqual([...dates].sort(), dates.map((d) => fromDbTime(d).getTime()).sort((a, b) => a - b).map((ms) => toDbTime(new Date(ms))));
  });
});
