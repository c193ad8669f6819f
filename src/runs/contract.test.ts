import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isWellFormedToken, runOptions, runsSettingsFromEnv } from './contract.js';
import { formatPartitionDate } from '../variables/layout.js';
import { ExecutionClock } from './record.js';

test('the defaults of the spec table apply to omitted options', () => {
  assert.deepEqual(runOptions({ run: { pipeline_uuid: 'p', block_uuid: 'b' } }), {
    pipelineUuid: 'p',
    blockUuid: 'b',
    variables: {},
    project: null,
    record: true,
    storeVariables: true,
    runUpstreamBlocks: false,
    incompleteOnly: false,
  });
});

test('the time limit defaults to 60 s and is configurable up to 600 s; bad values name the variable', () => {
  assert.equal(runsSettingsFromEnv({}).timeoutMs, 60_000);
  assert.equal(runsSettingsFromEnv({ BLOCKFLOW_RUNS_TIMEOUT_SECONDS: '600' }).timeoutMs, 600_000);
  assert.equal(runsSettingsFromEnv({ BLOCKFLOW_RUNS_TIMEOUT_SECONDS: '2.5' }).timeoutMs, 2_500);
  assert.throws(() => runsSettingsFromEnv({ BLOCKFLOW_RUNS_TIMEOUT_SECONDS: '601' }), /BLOCKFLOW_RUNS_TIMEOUT_SECONDS must be at most 600/);
  assert.throws(() => runsSettingsFromEnv({ BLOCKFLOW_RUNS_TIMEOUT_SECONDS: 'soon' }), /BLOCKFLOW_RUNS_TIMEOUT_SECONDS must be a positive number/);
  assert.equal(runsSettingsFromEnv({}).requestLimitBytes, 1024 * 1024);
  assert.equal(runsSettingsFromEnv({ BLOCKFLOW_RUNS_RESPONSE_LIMIT: '5000' }).responseLimitBytes, 5000);
});

test('a token is 16 to 256 characters of A-Z a-z 0-9 - _', () => {
  assert.ok(isWellFormedToken('0123456789abcdef0123456789abcdef'));
  assert.ok(isWellFormedToken('Ab-_'.repeat(4)));
  assert.ok(!isWellFormedToken('short'));
  assert.ok(!isWellFormedToken('x'.repeat(257)));
  assert.ok(!isWellFormedToken('x'.repeat(20) + '.'));
});

test('execution dates are strictly increasing in microseconds, in both text forms', () => {
  const clock = new ExecutionClock();
  const a = clock.next();
  const b = clock.next();
  assert.ok(b.micros > a.micros);
  assert.match(a.db, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/);
  assert.match(a.iso, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
  assert.notEqual(a.db, b.db);
  // The three forms name the same instant, to the microsecond.
  for (const x of [a, b]) {
    assert.equal(x.partitionDate, formatPartitionDate(x.iso));
    assert.equal(x.db.slice(0, 26), x.iso.slice(0, 26).replace('T', ' '));
    assert.equal(Date.parse(x.iso), Math.floor(x.micros / 1000));
  }
});
