/** The pure dynamic-block decisions of plan.ts: which block runs exist, what they read, what is refused. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  baseBlockUuid,
  decide,
  dynamicConfigProblem,
  initialBlockUuids,
  spawnChildRuns,
  upstreamSources,
  type DynamicPlanBlock,
} from './plan.js';

const b = (uuid: string, upstream: string[] = [], flags: Partial<DynamicPlanBlock> = {}): DynamicPlanBlock => ({
  uuid,
  upstream,
  dynamic: false,
  reduceOutput: false,
  ...flags,
});

// loader (dynamic) -> child -> reducer (reduce_output) -> after; start stands beside, before the loader.
const LIST = [b('start'), b('loader', ['start'], { dynamic: true }), b('child', ['loader']), b('reducer', ['child'], { reduceOutput: true }), b('after', ['reducer'])];

describe('dynamic blocks: initial block runs', () => {
  test('blocks with a dynamic ancestor get no block run at the start (Mage create_block_runs)', () => {
    assert.deepEqual(initialBlockUuids(LIST), ['start', 'loader']);
    assert.deepEqual(initialBlockUuids([b('a'), b('c', ['a'])]), ['a', 'c']);
  });
});

describe('dynamic blocks: spawning', () => {
  test('per item a run of each fan-out block, then one run after the reduce reading every item', () => {
    const runs = spawnChildRuns({ blocks: LIST, parentBlockUuid: 'loader', parentRunUuid: 'loader', itemCount: 2, existing: new Set(['start', 'loader']) });
    assert.deepEqual(runs, [
      { block_uuid: 'child:0', metrics: { dynamic_block_index: 0, dynamic_upstream_block_uuids: ['loader'] } },
      { block_uuid: 'reducer:0', metrics: { dynamic_block_index: 0, dynamic_upstream_block_uuids: ['child:0'] } },
      { block_uuid: 'child:1', metrics: { dynamic_block_index: 1, dynamic_upstream_block_uuids: ['loader'] } },
      { block_uuid: 'reducer:1', metrics: { dynamic_block_index: 1, dynamic_upstream_block_uuids: ['child:1'] } },
      { block_uuid: 'after', metrics: { dynamic_upstream_block_uuids: ['reducer:0', 'reducer:1'] } },
    ]);
  });

  test("metadata's block_uuid names the child and is kept in its metrics", () => {
    const runs = spawnChildRuns({
      blocks: [b('loader', [], { dynamic: true }), b('child', ['loader'])],
      parentBlockUuid: 'loader',
      parentRunUuid: 'loader',
      itemCount: 2,
      metadata: [{ block_uuid: 'user_a', region: 'eu' }, undefined],
      existing: new Set(),
    });
    assert.deepEqual(runs, [
      { block_uuid: 'child:user_a', metrics: { block_uuid: 'user_a', region: 'eu', dynamic_block_index: 0, dynamic_upstream_block_uuids: ['loader'] } },
      { block_uuid: 'child:1', metrics: { dynamic_block_index: 1, dynamic_upstream_block_uuids: ['loader'] } },
    ]);
  });

  test('zero items: no child, but the block after the reduce still runs, reading an empty list (as Mage)', () => {
    const runs = spawnChildRuns({ blocks: LIST, parentBlockUuid: 'loader', parentRunUuid: 'loader', itemCount: 0, existing: new Set() });
    assert.deepEqual(runs, [{ block_uuid: 'after', metrics: { dynamic_upstream_block_uuids: [] } }]);
  });

  test('a dynamic child stops the fan-out; its own runs spawn the next level with the parent item as suffix', () => {
    const blocks = [b('loader', [], { dynamic: true }), b('inner', ['loader'], { dynamic: true }), b('leaf', ['inner'], { reduceOutput: true }), b('joined', ['leaf'])];
    const first = spawnChildRuns({ blocks, parentBlockUuid: 'loader', parentRunUuid: 'loader', itemCount: 2, metadata: [{ block_uuid: 'a' }], existing: new Set() });
    assert.deepEqual(first.map((r) => r.block_uuid), ['inner:a', 'inner:1']);
    const second = spawnChildRuns({ blocks, parentBlockUuid: 'inner', parentRunUuid: 'inner:a', itemCount: 2, existing: new Set(['loader', 'inner:a', 'inner:1']) });
    assert.deepEqual(second, [
      { block_uuid: 'leaf:0:a', metrics: { dynamic_block_index: 0, dynamic_upstream_block_uuids: ['inner:a'] } },
      { block_uuid: 'leaf:1:a', metrics: { dynamic_block_index: 1, dynamic_upstream_block_uuids: ['inner:a'] } },
      { block_uuid: 'joined:a', metrics: { dynamic_upstream_block_uuids: ['leaf:0:a', 'leaf:1:a'] } },
    ]);
  });

  test('runs the pipeline run already has are not created again (retry_blocks)', () => {
    const runs = spawnChildRuns({ blocks: LIST, parentBlockUuid: 'loader', parentRunUuid: 'loader', itemCount: 1, existing: new Set(['child:0', 'after']) });
    assert.deepEqual(runs.map((r) => r.block_uuid), ['reducer:0']);
  });
});

describe('dynamic blocks: inputs', () => {
  test('an item of a dynamic upstream, a gather of a reducing one, plain folders otherwise', () => {
    assert.deepEqual(upstreamSources({ upstream: ['loader', 'start'] }, LIST, ['loader', 'start'], 3), [
      { kind: 'item', blockUuid: 'loader', runUuid: 'loader', index: 3 },
      { kind: 'outputs', blockUuid: 'start', runUuid: 'start' },
    ]);
    assert.deepEqual(upstreamSources({ upstream: ['reducer'] }, LIST, ['reducer:0', 'reducer:1'], undefined), [
      { kind: 'gather', blockUuid: 'reducer', runUuids: ['reducer:0', 'reducer:1'] },
    ]);
    assert.deepEqual(upstreamSources({ upstream: ['child'] }, LIST, ['child:x'], 0), [{ kind: 'outputs', blockUuid: 'child', runUuid: 'child:x' }]);
  });

  test('a block with no dynamic ancestor reads its upstream folders unchanged, whatever their configuration', () => {
    const blocks = [b('a', [], { reduceOutput: true }), b('c', ['a'])];
    assert.deepEqual(upstreamSources({ upstream: ['a'] }, blocks, undefined, undefined), [{ kind: 'outputs', blockUuid: 'a', runUuid: 'a' }]);
  });

  test('a block run uuid belongs to its block', () => {
    const uuids = new Set(['child', 'loader']);
    assert.equal(baseBlockUuid('child:0:a', uuids), 'child');
    assert.equal(baseBlockUuid('loader', uuids), 'loader');
    assert.equal(baseBlockUuid('gone:0', uuids), undefined);
  });
});

describe('dynamic blocks: refused settings', () => {
  const cfg = (uuid: string, upstream: string[], configuration: Record<string, unknown>) => ({ uuid, upstream, configuration });

  test("Mage's dynamic blocks v2 is refused naming the setting", () => {
    const problem = dynamicConfigProblem([cfg('p', [], { dynamic: { parent: true } }), cfg('c', ['p'], {})]);
    assert.match(problem ?? '', /Block p sets configuration\.dynamic to \{"parent":true\}: that is Mage's dynamic blocks v2/);
    assert.match(dynamicConfigProblem([cfg('p', [], { reduce_output: 'yes' })]) ?? '', /configuration\.reduce_output/);
  });

  test('classic shapes pass: a list fan-out with a reduce, a nested dynamic child reduced per parent item', () => {
    assert.equal(dynamicConfigProblem([cfg('l', [], { dynamic: true }), cfg('c', ['l'], { reduce_output: true }), cfg('a', ['c'], {})]), undefined);
    assert.equal(
      dynamicConfigProblem([cfg('l', [], { dynamic: true }), cfg('i', ['l'], { dynamic: true }), cfg('g', ['i'], { reduce_output: true }), cfg('j', ['g'], {})]),
      undefined,
    );
    assert.equal(dynamicConfigProblem([cfg('a', [], { dynamic: false }), cfg('b', ['a'], {})]), undefined);
  });

  test('a cross product of two dynamic blocks and a reduce of a reduce are refused', () => {
    assert.match(
      dynamicConfigProblem([cfg('x', [], { dynamic: true }), cfg('y', [], { dynamic: true }), cfg('both', ['x', 'y'], {})]) ?? '',
      /Block both is downstream of two different dynamic blocks \(x and y\)/,
    );
    assert.match(
      dynamicConfigProblem([
        cfg('l', [], { dynamic: true }),
        cfg('i', ['l'], { dynamic: true }),
        cfg('g', ['i'], { reduce_output: true }),
        cfg('j', ['g'], { reduce_output: true }),
        cfg('end', ['j'], {}),
      ]) ?? '',
      /Block j sets reduce_output: true to gather the items of l/,
    );
  });
});

describe('the planner over dynamic block runs', () => {
  test('a run waits for every block run it reads; a failed child makes the gather upstream_failed', () => {
    const blocks = [
      { uuid: 'loader', upstream: [] },
      { uuid: 'child:0', upstream: ['loader'] },
      { uuid: 'child:1', upstream: ['loader'] },
      { uuid: 'after', upstream: ['child:0', 'child:1'] },
    ];
    const waiting = decide({ blocks, statuses: { loader: 'completed', 'child:0': 'completed', 'child:1': 'running', after: 'initial' }, allowBlocksToFail: false });
    assert.deepEqual(waiting.queue, []);
    const failed = decide({ blocks, statuses: { loader: 'completed', 'child:0': 'completed', 'child:1': 'failed', after: 'initial' }, allowBlocksToFail: true });
    assert.deepEqual(failed.upstreamFailed, ['after']);
    assert.equal(failed.finish, 'failed');
  });
});
