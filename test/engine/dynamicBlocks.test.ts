/**
 * Mage's dynamic blocks (test/fixtures/mage_dynamic), run over real HTTP on SQLite and PostgreSQL and through
 * `blockflow run`: a dynamic block's items spawn one block run per item downstream (`<block>:<item>`, the item
 * being the metadata's block_uuid or the index), reduce_output gathers them into one list, a dynamic child that is
 * dynamic fans out again (`<block>:<item>:<parent item>`), outputs sit in Mage's layout under the block run's uuid,
 * pickled items and reduced pickled outputs keep their Python type, and Mage's dynamic blocks v2 setting fails the
 * run naming it. The CLI runs from source (as test/engine/cli.test.ts),
 * since bin/blockflow.mjs prefers a dist/ build that may be older than the tree.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIALECTS, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { runPartition } from '../../src/engine/executeBlock.js';
import { blockVariablesDir } from '../../src/variables/layout.js';
import { readOutputs } from '../../src/variables/read.js';
import { usePreparedPython } from './projectBuilder.js';
import { runCli } from '../helpers/cli.js';

usePreparedPython();

const FIXTURE = fileURLToPath(new URL('../fixtures/mage_dynamic', import.meta.url));

for (const dialect of DIALECTS) {
  describe(`dynamic blocks over HTTP (${dialect})`, () => {
    let t: TestServer;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await t.call(method, path, body, t.ownerToken);
      assert.equal(res.status, 200, `${method} ${path}: ${JSON.stringify(res.body)}`);
      return res.body;
    };
    /** Runs the pipeline through an API trigger and returns the finished run as GET /api/pipeline_runs/{id} shows it. */
    let triggers = 0;
    const runPipeline = async (pipeline: string, settings?: Record<string, unknown>) => {
      const name = `now ${++triggers}`;
      const schedule = (await api('POST', `/api/pipelines/${pipeline}/pipeline_schedules`, { pipeline_schedule: { name, schedule_type: 'api', status: 'active', settings } }))
        .pipeline_schedule;
      const id = (await api('POST', `/api/pipeline_schedules/${schedule.id}/pipeline_runs`, { pipeline_run: { variables: {} } })).pipeline_run.id as number;
      return waitFor(`run of ${pipeline} to finish`, async () => {
        const run = (await api('GET', `/api/pipeline_runs/${id}`)).pipeline_run;
        return ['completed', 'failed', 'cancelled'].includes(run.status) ? run : undefined;
      }, 60_000);
    };
    const outputsOf = async (pipeline: string, runId: number, blockRunUuid: string) => {
      const row = (await t.server.ctx.store.pipelineRuns.get(runId))!;
      return readOutputs(blockVariablesDir(t.server.ctx.project.dataDir, pipeline, runPartition(row), blockRunUuid));
    };
    const summary = (run: any) => run.block_runs.map((b: any) => [b.block_uuid, b.status]);

    before(async () => {
      t = await startTestServer({ dialect, fixture: FIXTURE, env: { BLOCKFLOW_WARM_RUNTIMES: '0' } });
    });
    after(async () => {
      await t?.close();
    });

    test('a dynamic block returning a list: one child per item, per-item chains, a reduce into one list', async () => {
      const run = await runPipeline('dynamic_list');
      assert.equal(run.status, 'completed', JSON.stringify(run));
      assert.deepEqual(summary(run), [
        ['list_loader', 'completed'],
        ['double:0', 'completed'],
        ['collect:0', 'completed'],
        ['double:1', 'completed'],
        ['collect:1', 'completed'],
        ['double:2', 'completed'],
        ['collect:2', 'completed'],
        ['summary', 'completed'],
      ]);
      const byUuid = new Map(run.block_runs.map((b: any) => [b.block_uuid, b]));
      // Mage's bookkeeping in metrics: the item's index and the block runs each one reads.
      assert.deepEqual((byUuid.get('double:1') as any).metrics, { dynamic_block_index: 1, dynamic_upstream_block_uuids: ['list_loader'] });
      assert.deepEqual((byUuid.get('collect:2') as any).metrics, { dynamic_block_index: 2, dynamic_upstream_block_uuids: ['double:2'] });
      assert.deepEqual((byUuid.get('summary') as any).metrics, { dynamic_upstream_block_uuids: ['collect:0', 'collect:1', 'collect:2'] });
      // Outputs in Mage's layout under the block run's uuid.
      assert.deepEqual(await outputsOf('dynamic_list', run.id, 'double:1'), [{ id: 2, double: 4, index: 1 }]);
      assert.deepEqual(await outputsOf('dynamic_list', run.id, 'summary'), [{ ids: [1, 2, 3], total: 15 }]);
      // The block runs list shows the children like Mage's.
      const listed = (await api('GET', `/api/block_runs?pipeline_run_id=${run.id}`)).block_runs;
      assert.deepEqual(listed.map((b: any) => b.block_uuid).sort(), run.block_runs.map((b: any) => b.block_uuid).sort());
      assert.ok(listed.every((b: any) => b.pipeline_run_id === run.id && b.status === 'completed'));
      // A child's outputs through the API, read from its own folder.
      const child = (await api('GET', `/api/block_runs/${(byUuid.get('double:1') as any).id}/outputs`)).outputs;
      assert.equal(child.length, 1);
      assert.match(JSON.stringify(child[0]), /"double"/);
    });

    test("blocks carry Mage's computed tags: dynamic, dynamic_child, reduce_output", async () => {
      const blocks = (await api('GET', '/api/pipelines/dynamic_list')).pipeline.blocks;
      assert.deepEqual(
        blocks.map((b: any) => [b.uuid, b.tags]),
        [['list_loader', ['dynamic']], ['double', ['dynamic_child']], ['collect', ['dynamic_child', 'reduce_output']], ['summary', []]],
      );
    });

    test('pickled items (a list of numpy arrays) reach each child as arrays, and a reduce of pickled outputs as a list of them', async () => {
      const run = await runPipeline('dynamic_objects');
      assert.equal(run.status, 'completed', JSON.stringify(run));
      assert.deepEqual(summary(run), [
        ['matrix_loader', 'completed'],
        ['diagonal:one', 'completed'],
        ['diagonal:two', 'completed'],
        ['diagonal:three', 'completed'],
        ['stack_diagonals', 'completed'],
      ]);
      // Each child returned an ndarray, kept pickled in its own folder; its JSON rendering shows the values.
      assert.deepEqual(await outputsOf('dynamic_objects', run.id, 'diagonal:two'), [[2, 2]]);
      assert.deepEqual(await outputsOf('dynamic_objects', run.id, 'stack_diagonals'), [{ shape: [3, 2], total: 12, types: ['ndarray'] }]);
    });

    test('[items, metadata]: children named by the metadata, which the child also gets in kwargs', async () => {
      const run = await runPipeline('dynamic_meta');
      assert.equal(run.status, 'completed', JSON.stringify(run));
      assert.deepEqual(summary(run), [
        ['meta_loader', 'completed'],
        ['greet:user_a', 'completed'],
        ['greet:user_b', 'completed'],
      ]);
      const greet = run.block_runs.find((b: any) => b.block_uuid === 'greet:user_b');
      assert.deepEqual(greet.metrics, { block_uuid: 'user_b', dynamic_block_index: 1, dynamic_upstream_block_uuids: ['meta_loader'] });
      assert.deepEqual(await outputsOf('dynamic_meta', run.id, 'greet:user_a'), [{ greeting: 'hello ada', block_uuid: 'user_a', index: 0 }]);
      assert.deepEqual(await outputsOf('dynamic_meta', run.id, 'greet:user_b'), [{ greeting: 'hello bo', block_uuid: 'user_b', index: 1 }]);
    });

    test('a dynamic child of a dynamic block fans out again; its reduce gathers per parent item', async () => {
      const run = await runPipeline('dynamic_nested');
      assert.equal(run.status, 'completed', JSON.stringify(run));
      assert.deepEqual(summary(run).map(([u]: [string]) => u).sort(), [
        'joined:user_a',
        'joined:user_b',
        'meta_loader',
        'shout:0:user_a',
        'shout:0:user_b',
        'shout:1:user_a',
        'shout:1:user_b',
        'shout:2:user_a',
        'split_letters:user_a',
        'split_letters:user_b',
      ]);
      assert.ok(run.block_runs.every((b: any) => b.status === 'completed'));
      const joined = run.block_runs.find((b: any) => b.block_uuid === 'joined:user_a');
      assert.deepEqual(joined.metrics, { dynamic_upstream_block_uuids: ['shout:0:user_a', 'shout:1:user_a', 'shout:2:user_a'] });
      assert.deepEqual(await outputsOf('dynamic_nested', run.id, 'shout:1:user_a'), ['D']);
      assert.deepEqual(await outputsOf('dynamic_nested', run.id, 'joined:user_a'), [{ word: 'ADA' }]);
      assert.deepEqual(await outputsOf('dynamic_nested', run.id, 'joined:user_b'), [{ word: 'BO' }]);
    });

    test("Mage's dynamic blocks v2 setting fails the run with a reason naming it; no block runs", async () => {
      const run = await runPipeline('dynamic_v2');
      assert.equal(run.status, 'failed');
      assert.match(run.metrics.error.message, /Block v2_loader sets configuration\.dynamic to \{"parent":true\}: that is Mage's dynamic blocks v2/);
      assert.ok(run.block_runs.every((b: any) => b.status === 'cancelled'), JSON.stringify(run.block_runs));
      const row = (await t.server.ctx.store.pipelineRuns.get(run.id))!;
      assert.equal(existsSync(blockVariablesDir(t.server.ctx.project.dataDir, 'dynamic_v2', runPartition(row), 'v2_loader')), false);
    });

    test('a failing child fails the run (allow_blocks_to_fail: its siblings finish) and the gather is upstream_failed', async () => {
      const run = await runPipeline('dynamic_fail', { allow_blocks_to_fail: true });
      assert.equal(run.status, 'failed');
      assert.deepEqual(summary(run), [
        ['list_loader', 'completed'],
        ['picky:0', 'completed'],
        ['picky:1', 'failed'],
        ['picky:2', 'completed'],
        ['tally', 'upstream_failed'],
      ]);
      const failed = run.block_runs.find((b: any) => b.block_uuid === 'picky:1');
      // The error sits beside the child's own bookkeeping.
      assert.equal(failed.metrics.dynamic_block_index, 1);
      assert.match(failed.metrics.error.message, /item 2 is not welcome/);
    });

    test('completing a dynamic block run and creating its children is one guarded operation: of two racers one wins, children once', async () => {
      const store = t.server.ctx.store;
      // A run that no engine executes (status completed), holding one running block run, as a store-level fixture.
      const { blockRuns } = await store.pipelineRuns.createWithBlockRuns({ pipeline_uuid: 'dynamic_meta', status: 'completed' }, ['meta_loader']);
      const parent = blockRuns[0];
      assert.equal(await store.blockRuns.transition(parent.id, ['initial'], 'running'), true);
      const children = [
        { block_uuid: 'greet:user_a', metrics: { dynamic_block_index: 0, dynamic_upstream_block_uuids: ['meta_loader'] } },
        { block_uuid: 'greet:user_b', metrics: { dynamic_block_index: 1, dynamic_upstream_block_uuids: ['meta_loader'] } },
      ];
      const wins = await Promise.all([
        store.blockRuns.transitionWithChildren(parent.id, ['running'], 'completed', {}, children),
        store.blockRuns.transitionWithChildren(parent.id, ['running'], 'completed', {}, children),
      ]);
      assert.deepEqual(wins.filter(Boolean).length, 1);
      const rows = await store.blockRuns.listForRun(parent.pipeline_run_id);
      assert.deepEqual(rows.map((r) => [r.block_uuid, r.status]), [
        ['meta_loader', 'completed'],
        ['greet:user_a', 'initial'],
        ['greet:user_b', 'initial'],
      ]);
      assert.deepEqual(rows[2].metrics, children[1].metrics);
    });

    test('retry_blocks from a dynamic block re-runs it and its children without creating the children twice', async () => {
      const first = await runPipeline('dynamic_meta');
      const res = await api('PUT', `/api/pipeline_runs/${first.id}`, { pipeline_run: { pipeline_run_action: 'retry_blocks', from_block_uuid: 'meta_loader' } });
      assert.ok(res.pipeline_run);
      const again = await waitFor('the retried run to finish', async () => {
        const run = (await api('GET', `/api/pipeline_runs/${first.id}`)).pipeline_run;
        return run.status === 'completed' ? run : undefined;
      }, 60_000);
      assert.deepEqual(summary(again), [
        ['meta_loader', 'completed'],
        ['greet:user_a', 'completed'],
        ['greet:user_b', 'completed'],
      ]);
    });
  });
}

describe('dynamic blocks through blockflow run', () => {
  let base: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'blockflow-dynamic-cli-'));
    cpSync(FIXTURE, join(base, 'project'), { recursive: true });
  });
  after(() => {
    rmSync(base, { recursive: true, force: true });
  });
  test('a nested dynamic pipeline completes, each child shown by its uuid', async () => {
    const r = await runCli([join(base, 'project'), 'dynamic_nested']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const uuid of ['meta_loader', 'split_letters:user_a', 'shout:2:user_a', 'joined:user_b']) {
      assert.match(r.stdout, new RegExp(`✔ ${uuid} completed`), r.stdout);
    }
    assert.match(r.stdout, /Pipeline run completed\./);
  });

  test('the dynamic blocks v2 setting exits 1 naming the setting', async () => {
    const r = await runCli([join(base, 'project'), 'dynamic_v2']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /configuration\.dynamic/);
  });
});
