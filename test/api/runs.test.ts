/**
 * The synchronous block run (POST /api/runs/{token}, POST /api/runs with Bearer) over real HTTP, on SQLite and
 * PostgreSQL, with real Python and TypeScript workers: every row of the spec's error table, every request
 * option, each output shape, the time limit, client disconnects and the size limits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIALECTS, startTestServer, type TestServer } from '../helpers/server.js';
import { hashToken } from '../../src/auth/tokens.js';
import { makeRunsProject, removeRunsProject, writePipeline } from '../../bench/runsProject.js';

const RESPONSE_LIMIT = 2000;

for (const dialect of DIALECTS) {
  describe(`POST /api/runs (${dialect})`, () => {
    let t: TestServer;
    const tokens = new Map<string, string>();
    let seq = 0;
    const fixture = makeRunsProject('test');

    /** Creates an API trigger (through the store) and returns its raw token. */
    const trigger = async (pipeline: string, extra: Record<string, unknown> = {}): Promise<string> => {
      const raw = `tok_${dialect}_${++seq}_${'k'.repeat(20)}`;
      await t.server.ctx.store.schedules.create({
        name: `api ${pipeline} ${seq}`,
        pipeline_uuid: pipeline,
        schedule_type: 'api',
        token_hash: hashToken(raw),
        status: 'active',
        ...extra,
      });
      return raw;
    };
    const tokenOf = (pipeline: string) => tokens.get(pipeline) as string;
    const run = (pipeline: string, block: string, options: Record<string, unknown> = {}, token = tokenOf(pipeline)) =>
      t.call('POST', `/api/runs/${token}`, { run: { pipeline_uuid: pipeline, block_uuid: block, ...options } });
    const dataDir = () => t.server.ctx.project.dataDir;
    const runsOf = async (pipeline: string) => (await t.server.ctx.store.pipelineRuns.list({ pipelineUuids: [pipeline] })).rows;

    before(async () => {
      const previous = process.env.BLOCKFLOW_RUNS_RESPONSE_LIMIT;
      process.env.BLOCKFLOW_RUNS_RESPONSE_LIMIT = String(RESPONSE_LIMIT);
      try {
        t = await startTestServer({ dialect, fixture });
      } finally {
        if (previous === undefined) delete process.env.BLOCKFLOW_RUNS_RESPONSE_LIMIT;
        else process.env.BLOCKFLOW_RUNS_RESPONSE_LIMIT = previous;
      }
      for (const p of ['ts_score', 'py_score', 'shapes', 'failing', 'slow', 'chain', 'my_pipeline', 'patient_lookup', 'with_callbacks']) tokens.set(p, await trigger(p));
      tokens.set('kwargs_pipe', await trigger('kwargs_pipe', { variables: { from_trigger: 'yes', limit: 20 } }));
    });
    after(async () => {
      await t?.close();
      removeRunsProject(fixture);
    });

    describe('authentication and the error table', () => {
      test('no token is 401 before the body is even read', async () => {
        const res = await t.call('POST', '/api/runs', { run: { pipeline_uuid: 'no_such', surprise: 1 } });
        assert.equal(res.status, 401);
        assert.equal(res.body.error.type, 'unauthenticated');
        assert.match(res.body.error.message, /Bearer/);
      });

      test('a malformed token is 401, in the URL or as Bearer', async () => {
        const short = await t.call('POST', '/api/runs/abc', { run: { pipeline_uuid: 'ts_score', block_uuid: 'ts_score' } });
        assert.equal(short.status, 401);
        assert.equal(short.body.error.type, 'invalid_oauth_token');
        const bad = await t.call('POST', `/api/runs/${encodeURIComponent('x'.repeat(20) + '!$')}`, { run: { pipeline_uuid: 'ts_score', block_uuid: 'ts_score' } });
        assert.equal(bad.status, 401);
        const bearer = await t.call('POST', '/api/runs', { run: { pipeline_uuid: 'ts_score', block_uuid: 'ts_score' } }, 'has space inside it!!!!');
        assert.equal(bearer.status, 401);
      });

      test('a well-formed token that matches no trigger is 404', async () => {
        const res = await run('ts_score', 'ts_score', {}, 'z'.repeat(32));
        assert.equal(res.status, 404);
        assert.equal(res.body.error.type, 'record_not_found');
      });

      test("another pipeline's API token, or a non-API trigger's token, is 404", async () => {
        const other = await run('ts_score', 'ts_score', {}, tokenOf('py_score'));
        assert.equal(other.status, 404);
        const raw = `time_${'t'.repeat(24)}`;
        await t.server.ctx.store.schedules.create({ name: 'a time trigger', pipeline_uuid: 'ts_score', schedule_type: 'time', token_hash: hashToken(raw), status: 'active' });
        assert.equal((await run('ts_score', 'ts_score', {}, raw)).status, 404);
      });

      test('the token works from the URL and as Authorization: Bearer', async () => {
        const inUrl = await run('ts_score', 'ts_score', { record: false });
        assert.equal(inUrl.status, 200);
        const bearer = await t.call('POST', '/api/runs', { run: { pipeline_uuid: 'ts_score', block_uuid: 'ts_score', record: false } }, tokenOf('ts_score'));
        assert.equal(bearer.status, 200);
        assert.deepEqual(bearer.body, { run: { output: [{ id: null, score: 0.87 }] } });
      });

      test('a pipeline that does not exist is 404; uuids are case-sensitive', async () => {
        const token = await trigger('TS_SCORE');
        const res = await run('TS_SCORE', 'ts_score', {}, token);
        assert.equal(res.status, 404);
        assert.match(res.body.error.message, /Pipeline TS_SCORE not found/);
      });

      test('a block that is not in the pipeline is 404; block uuids are case-sensitive', async () => {
        const res = await run('ts_score', 'TS_Score');
        assert.equal(res.status, 404);
        assert.match(res.body.error.message, /Block TS_Score not found in pipeline ts_score/);
        assert.equal((await run('ts_score', 'py_score')).status, 404);
      });

      test('a Python block that raises is a 500 with its exception, its own traceback and the failed records', async () => {
        const before = (await runsOf('failing')).length;
        const res = await run('failing', 'py_raise', { variables: { patient_id: 'P1' } });
        assert.equal(res.status, 500);
        const e = res.body.error;
        assert.equal(e.type, 'block_execution_failed');
        assert.equal(e.exception, 'ValueError');
        assert.equal(e.message, 'bad patient P1');
        assert.ok(e.traceback.some((line: string) => line.includes('py_raise.py') && line.includes('in check')), e.traceback.join('\n'));
        assert.ok(!e.traceback.some((line: string) => /blockflow_runtime|blockflow_worker/.test(line)), 'no server internals');
        assert.ok(Number.isInteger(e.block_run_id));
        const blockRun = await t.server.ctx.store.blockRuns.get(e.block_run_id);
        assert.equal(blockRun?.status, 'failed');
        assert.equal((blockRun?.metrics as any).error.message, 'bad patient P1');
        const pipelineRun = await t.server.ctx.store.pipelineRuns.get(e.pipeline_run_id);
        assert.equal(pipelineRun?.status, 'failed');
        assert.equal((await runsOf('failing')).length, before + 1);
      });

      test('a TypeScript block that throws is a 500 with its own stack lines; without record the ids are null', async () => {
        const res = await run('failing', 'ts_throw', { variables: { patient_id: 'P2' }, record: false });
        assert.equal(res.status, 500);
        const e = res.body.error;
        assert.equal(e.type, 'block_execution_failed');
        assert.equal(e.exception, 'RangeError');
        assert.equal(e.message, 'bad patient P2');
        assert.ok(e.traceback.length > 0 && e.traceback.every((line: string) => line.includes('ts_throw.ts')), e.traceback.join('\n'));
        assert.equal(e.block_run_id, null);
        assert.equal(e.pipeline_run_id, null);
      });
    });

    describe('request validation', () => {
      test('an unknown key is a 400 that names it', async () => {
        const res = await run('ts_score', 'ts_score', { recrod: false });
        assert.equal(res.status, 400);
        assert.match(res.body.error.message, /recrod/);
        const top = await t.call('POST', `/api/runs/${tokenOf('ts_score')}`, { run: { pipeline_uuid: 'ts_score', block_uuid: 'ts_score' }, extra: 1 });
        assert.equal(top.status, 400);
        assert.match(top.body.error.message, /extra/);
      });

      test('a wrong type is a 400 that names the field', async () => {
        const res = await run('ts_score', 'ts_score', { record: 'yes', variables: [1] });
        assert.equal(res.status, 400);
        assert.match(res.body.error.message, /run\.record/);
        assert.match(res.body.error.message, /run\.variables/);
      });

      test('a missing block_uuid is a 400', async () => {
        const res = await t.call('POST', `/api/runs/${tokenOf('ts_score')}`, { run: { pipeline_uuid: 'ts_score' } });
        assert.equal(res.status, 400);
        assert.match(res.body.error.message, /block_uuid is required/);
      });
    });

    describe('output shapes', () => {
      const shape = async (block: string) => {
        const res = await run('shapes', block, { record: false, store_variables: false });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return res.body.run.output;
      };

      test('a pandas DataFrame becomes a list of row objects, dates in ISO 8601 and NaN as null', async () => {
        assert.deepEqual(await shape('py_df'), [
          [
            { id: 1, when: '2024-01-02T03:04:05', x: 1.5 },
            { id: 2, when: '2024-02-03T00:00:00', x: null },
          ],
        ]);
      });

      test('an Arrow table from a TypeScript block becomes a list of row objects', async () => {
        assert.deepEqual(await shape('ts_table'), [[{ id: 1, name: 'a' }, { id: 2, name: 'b' }]]);
      });

      test('a dict is wrapped in a list', async () => {
        assert.deepEqual(await shape('py_dict'), [{ a: 1, nested: { b: [1, 2] } }]);
        assert.deepEqual(await shape('ts_dict'), [{ a: 1, at: '2024-05-06T07:08:09.000Z', missing: null }]);
      });

      test('a list is not wrapped', async () => {
        assert.deepEqual(await shape('py_list'), [1, 'two', { three: 3 }]);
        assert.deepEqual(await shape('ts_list'), [1, 'two', { three: 3 }]);
      });

      test('None (undefined) gives []', async () => {
        assert.deepEqual(await shape('py_none'), []);
        assert.deepEqual(await shape('ts_none'), []);
      });

      test('datetimes and dates are ISO 8601, NaN is null', async () => {
        assert.deepEqual(await shape('py_dates'), [{ at: '2024-05-06T07:08:09', day: '2024-05-06', missing: null }]);
      });
    });

    describe('options', () => {
      test('variables reach the block as kwargs, over trigger and pipeline variables', async () => {
        const res = await run('kwargs_pipe', 'echo', { variables: { patient_id: 'PID00087' }, record: false, store_variables: false });
        assert.equal(res.status, 200);
        const out = res.body.run.output[0];
        assert.equal(out.patient_id, 'PID00087');
        assert.equal(out.limit, 20, 'the trigger variable overrides the pipeline variable');
        assert.equal(out.from_trigger, 'yes');
        assert.equal(out.pipeline_uuid, 'kwargs_pipe');
        assert.equal(out.block_uuid, 'echo');
        const ts = await run('kwargs_pipe', 'ts_echo', { variables: { limit: 99 }, record: false, store_variables: false });
        assert.deepEqual(ts.body.run.output, [{ patient_id: 'default', limit: 99 }]);
      });

      test("the block's callbacks run as in Mage's execute_with_callback: on_success after success, on_failure with the error", async () => {
        const marker = join(dataDir(), `callbacks-${dialect}.txt`);
        const ok = await run('with_callbacks', 'py_cb_target', { record: false, store_variables: false, variables: { marker } });
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        assert.deepEqual(ok.body.run.output, [{ ok: true }]);
        assert.equal(readFileSync(marker, 'utf8'), 'on_success py_cb_target\n');
        const failed = await run('with_callbacks', 'py_cb_target', { record: false, store_variables: false, variables: { marker, fail: true } });
        assert.equal(failed.status, 500);
        assert.equal(failed.body.error.exception, 'KeyError');
        assert.equal(readFileSync(marker, 'utf8'), "on_success py_cb_target\non_failure KeyError: 'no such patient'\n");
      });

      test('record: true writes a completed PipelineRun and BlockRun visible in the run history', async () => {
        const res = await run('ts_score', 'ts_score', { record: true, store_variables: false, variables: { id: 7 } });
        assert.equal(res.status, 200);
        assert.deepEqual(res.body.run.output, [{ id: 7, score: 0.87 }]);
        const listed = await t.call('GET', '/api/pipeline_runs?pipeline_uuid=ts_score&_limit=1', undefined, t.ownerToken);
        assert.equal(listed.status, 200);
        const latest = listed.body.pipeline_runs[0];
        assert.equal(latest.status, 'completed');
        assert.equal(latest.pipeline_uuid, 'ts_score');
        assert.equal(latest.variables.id, 7);
        const blockRuns = await t.server.ctx.store.blockRuns.listForRun(latest.id);
        assert.deepEqual(blockRuns.map((b) => [b.block_uuid, b.status]), [['ts_score', 'completed']]);
        assert.ok(blockRuns[0].started_at && blockRuns[0].completed_at);
      });

      test('record: false writes nothing to the database', async () => {
        const runs = await t.server.ctx.store.pipelineRuns.list({ limit: 1 });
        const blockRuns = await t.server.ctx.store.blockRuns.list({ limit: 1 });
        assert.equal((await run('ts_score', 'ts_score', { record: false })).status, 200);
        assert.equal((await run('py_score', 'py_score', { record: false })).status, 200);
        assert.equal((await t.server.ctx.store.pipelineRuns.list({ limit: 1 })).count, runs.count);
        assert.equal((await t.server.ctx.store.blockRuns.list({ limit: 1 })).count, blockRuns.count);
      });

      test('many concurrent recorded calls of one trigger each get their own run', async () => {
        const before = (await runsOf('ts_score')).length;
        const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => run('ts_score', 'ts_score', { store_variables: false, variables: { id: i } })));
        assert.deepEqual(answers.map((a) => a.status), Array(24).fill(200));
        const runs = await runsOf('ts_score');
        assert.equal(runs.length, before + 24);
        assert.equal(new Set(runs.map((r) => r.execution_date)).size, runs.length);
      });

      test('store_variables: true keeps the outputs and the passed variables on disk beside the run', async () => {
        const res = await run('py_score', 'py_score', { variables: { id: 'abc' } });
        assert.equal(res.status, 200);
        const [latest] = (await t.server.ctx.store.pipelineRuns.list({ pipelineUuids: ['py_score'], limit: 1, orderBy: [{ column: 'id', direction: 'desc' }] })).rows;
        const partition = latest.variables?.execution_partition as string;
        assert.match(partition, /^\d+\/\d{8}T\d{6}_\d{6}\/[0-9a-f]{8}$/);
        const dir = join(dataDir(), 'pipelines', 'py_score', '.variables', ...partition.split('/'));
        assert.deepEqual(JSON.parse(readFileSync(join(dir, 'variables.json'), 'utf8')), { id: 'abc' });
        assert.deepEqual(JSON.parse(readFileSync(join(dir, 'py_score', 'output_0', 'data.json'), 'utf8')), { id: 'abc', score: 0.87 });
        // The block run's outputs are readable through the API, from the partition recorded on the run.
        const [blockRun] = await t.server.ctx.store.blockRuns.listForRun(latest.id);
        const outputs = await t.call('GET', `/api/block_runs/${blockRun.id}/outputs`, undefined, t.ownerToken);
        assert.equal(outputs.status, 200);
        assert.match(JSON.stringify(outputs.body), /abc/);
      });

      test('store_variables: false writes nothing to disk', async () => {
        const variablesDir = join(dataDir(), 'pipelines', 'shapes', '.variables');
        assert.equal((await run('shapes', 'py_dict', { record: true, store_variables: false })).status, 200);
        assert.equal(existsSync(variablesDir), false);
        assert.equal(existsSync(join(dataDir(), 'pipelines', 'shapes', '.logs')), false);
      });

      test('run_upstream_blocks runs the upstream blocks in DAG order and passes their outputs; incomplete_only reuses stored ones', async () => {
        const counter = join(t.projectDir, 'load_count.txt');
        const count = () => (existsSync(counter) ? readFileSync(counter, 'utf8').length : 0);
        // Without run_upstream_blocks and with nothing stored yet, the block gets no input (as Mage).
        const alone = await run('chain', 'summarize', { record: false, store_variables: false });
        assert.deepEqual(alone.body.run.output, [{ type: 'list', total: null, rows: 0 }]);
        assert.equal(count(), 0);

        const first = await run('chain', 'summarize', { run_upstream_blocks: true });
        assert.equal(first.status, 200, JSON.stringify(first.body));
        assert.deepEqual(first.body.run.output, [{ type: 'DataFrame', total: 12, rows: 3 }]);
        assert.equal(count(), 1);
        const [recorded] = (await t.server.ctx.store.pipelineRuns.list({ pipelineUuids: ['chain'], limit: 1, orderBy: [{ column: 'id', direction: 'desc' }] })).rows;
        const blockRuns = await t.server.ctx.store.blockRuns.listForRun(recorded.id);
        assert.deepEqual(blockRuns.map((b) => [b.block_uuid, b.status]), [['load', 'completed'], ['double', 'completed'], ['summarize', 'completed']]);

        const reused = await run('chain', 'summarize', { run_upstream_blocks: true, incomplete_only: true, record: false, store_variables: false });
        assert.deepEqual(reused.body.run.output, [{ type: 'DataFrame', total: 12, rows: 3 }]);
        assert.equal(count(), 1, 'load was not run again');

        const again = await run('chain', 'summarize', { run_upstream_blocks: true, variables: { factor: 2 }, record: false, store_variables: false });
        assert.deepEqual(again.body.run.output, [{ type: 'DataFrame', total: 24, rows: 3 }], 'request variables reach the upstream blocks');
        assert.equal(count(), 2);
        // Nothing of that unstored run is left on disk, and the stored latest outputs are unchanged.
        const partitions = readdirSync(join(dataDir(), 'pipelines', 'chain', '.variables'));
        const bySchedule = partitions.filter((p) => /^\d+$/.test(p)).flatMap((p) => readdirSync(join(dataDir(), 'pipelines', 'chain', '.variables', p)));
        assert.equal(bySchedule.length, 1, `only the stored run's partition remains: ${bySchedule.join(', ')}`);
        const latest = await run('chain', 'summarize', { run_upstream_blocks: true, incomplete_only: true, record: false, store_variables: false });
        assert.deepEqual(latest.body.run.output, [{ type: 'DataFrame', total: 12, rows: 3 }]);
        // Without run_upstream_blocks the block now reads its upstream's latest stored outputs.
        const plain = await run('chain', 'summarize', { record: false, store_variables: false });
        assert.deepEqual(plain.body.run.output, [{ type: 'DataFrame', total: 12, rows: 3 }]);
      });

      test('project scopes the lookup to a sub-project', async () => {
        const sub = join(t.projectDir, 'team_a');
        mkdirSync(sub, { recursive: true });
        writeFileSync(join(sub, 'metadata.yaml'), 'project_type: sub\n');
        writePipeline(sub, 'ts_score', [
          { uuid: 'ts_score', type: 'data_loader', language: 'typescript', code: "export default () => ({ project: 'team_a' });\n" },
        ]);
        const subToken = await trigger('ts_score', { repo_path: realpathSync(sub) });
        const res = await run('ts_score', 'ts_score', { project: 'team_a', record: false, store_variables: false }, subToken);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(res.body.run.output, [{ project: 'team_a' }]);
        // The main project's pipeline of the same name is not reachable with the sub-project's token, nor the reverse.
        assert.equal((await run('ts_score', 'ts_score', { record: false }, subToken)).status, 404);
        assert.equal((await run('ts_score', 'ts_score', { project: 'team_a', record: false })).status, 404);
        const unknown = await run('ts_score', 'ts_score', { project: 'no_such_team', record: false }, subToken);
        assert.equal(unknown.status, 404);
        assert.match(unknown.body.error.message, /Project "no_such_team" not found/);
        assert.equal((await run('ts_score', 'ts_score', { project: '../outside', record: false }, subToken)).status, 404);
      });
    });

    describe('time limit, disconnects and size limits', () => {
      test('a block over its time limit answers 504, is stopped, and the records say failed', async () => {
        for (const block of ['ts_slow', 'py_slow']) {
          const started = Date.now();
          const res = await run('slow', block);
          assert.equal(res.status, 504, JSON.stringify(res.body));
          assert.equal(res.body.error.type, 'timeout');
          assert.ok(Date.now() - started < 10_000);
          const blockRun = await t.server.ctx.store.blockRuns.get(res.body.error.block_run_id);
          assert.equal(blockRun?.status, 'failed');
        }
        // The workers were replaced: the next calls run normally.
        assert.equal((await run('ts_score', 'ts_score', { record: false })).status, 200);
        assert.equal((await run('py_score', 'py_score', { record: false })).status, 200);
      });

      test('a client that disconnects cancels the block', async () => {
        const started = join(t.projectDir, 'wait_started.txt');
        const finished = join(t.projectDir, 'wait_finished.txt');
        const controller = new AbortController();
        const pending = fetch(`${t.url}/api/runs/${tokenOf('slow')}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ run: { pipeline_uuid: 'slow', block_uuid: 'ts_wait', store_variables: false } }),
          signal: controller.signal,
        }).catch((err: Error) => err);
        for (let i = 0; i < 100 && !existsSync(started); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(existsSync(started), 'the block started');
        controller.abort();
        assert.ok((await pending) instanceof Error);
        let status: string | undefined;
        for (let i = 0; i < 60 && status !== 'cancelled'; i++) {
          await new Promise((r) => setTimeout(r, 50));
          status = (await t.server.ctx.store.pipelineRuns.list({ pipelineUuids: ['slow'], limit: 1, orderBy: [{ column: 'id', direction: 'desc' }] })).rows[0]?.status;
        }
        assert.equal(status, 'cancelled');
        await new Promise((r) => setTimeout(r, 2500));
        assert.equal(existsSync(finished), false, 'the block never reached its end');
      });

      test('a request body over the limit is 413', async () => {
        const res = await run('ts_score', 'ts_score', { variables: { blob: 'x'.repeat(1024 * 1024 + 10) } });
        assert.equal(res.status, 413);
        assert.equal(res.body.error.type, 'payload_too_large');
      });

      test('a response over the limit is an error that says so, never a truncated output', async () => {
        const res = await run('slow', 'ts_big', { record: false, store_variables: false });
        assert.equal(res.status, 500);
        assert.equal(res.body.error.type, 'output_too_large');
        assert.equal(res.body.error.limit_bytes, RESPONSE_LIMIT);
        assert.ok(res.body.error.size_bytes > RESPONSE_LIMIT);
        assert.match(res.body.error.message, /BLOCKFLOW_RUNS_RESPONSE_LIMIT/);
      });
    });
  });
}
