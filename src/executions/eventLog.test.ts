import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from './eventLog.js';
import { LogBatcher } from './logBatcher.js';

test('the event log numbers events from 1, replays after an id, and keeps at most maxEvents', () => {
  const log = new EventLog(3, 60_000);
  const seen: number[] = [];
  const unsubscribe = log.subscribe((e) => seen.push(e.id));
  for (let i = 0; i < 5; i++) log.push('stdout', { i });
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.equal(log.lastId, 5);
  assert.deepEqual(log.since(0).events.map((e) => e.id), [3, 4, 5]);
  assert.equal(log.since(0).missed, 2, 'events 1 and 2 were dropped');
  assert.equal(log.since(1).missed, 1);
  assert.deepEqual(log.since(3), { events: log.since(0).events.slice(1), missed: 0 });
  assert.deepEqual(log.since(5).events, []);
  unsubscribe();
  log.push('done', {});
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
});

test('the event log drops events older than maxAgeMs, but never the newest', () => {
  let now = 0;
  const log = new EventLog(100, 1000, () => now);
  log.push('status', {});
  now = 500;
  log.push('stdout', {});
  now = 1200;
  assert.deepEqual(log.since(0).events.map((e) => e.id), [2]);
  now = 10_000;
  assert.deepEqual(log.since(0).events.map((e) => e.id), [2], 'the newest event (a finished execution\'s done) stays');
  log.push('done', {});
  assert.deepEqual(log.since(0).events.map((e) => e.id), [3]);
  assert.equal(log.since(0).missed, 2);
});

test('the log batcher keeps line order across streams, cuts long lines and caps the lines of a block run', async () => {
  const sent: Array<[string, Record<string, unknown>]> = [];
  const batcher = new LogBatcher('b', (stream, data) => sent.push([stream, data]), { batchMs: 20, maxLines: 5, maxLineChars: 4 });
  batcher.write('stdout', 'one');
  batcher.write('stdout', 'two\nthree');
  batcher.write('stderr', 'oops');
  batcher.write('stdout', 'longer line');
  assert.deepEqual(sent, [
    ['stdout', { block_uuid: 'b', lines: ['one', 'two', 'thre'], truncated: true }],
    ['stderr', { block_uuid: 'b', lines: ['oops'], truncated: false }],
  ]);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(sent[2], ['stdout', { block_uuid: 'b', lines: ['long'], truncated: true }], 'flushed by the timer');
  batcher.write('stdout', 'six\nseven');
  batcher.close();
  batcher.write('stdout', 'after close');
  assert.deepEqual(sent.slice(3), [['stdout', { block_uuid: 'b', lines: [], truncated: true, dropped_lines: 2 }]], 'lines past the cap are counted once');
});
