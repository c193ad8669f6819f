/**
 * Issue 20: a request body nested 20,000 levels deep (about 40 KB, far under the body limit) used to answer 500
 * from /api/runs, leave a TypeScript worker busy until the run timeout, and, sent while the workers were busy,
 * end the server process from inside a worker's message handler.
 *
 * Over real HTTP, on SQLite and PostgreSQL, with real worker threads and Python processes: every route that
 * takes a body (the runs endpoint in both forms, the API trigger in both forms, events and every other write
 * route, from the server's own OpenAPI document) answers such a body 400 `json_too_deep` naming the limit,
 * alone and while every worker is busy; a deep value that reaches a runtime without HTTP (a trigger's stored
 * variables) fails that one run. Afterwards the server answers, and the very same workers (same thread ids,
 * same Python pid) run the next blocks. The server runs in this test's process, so an exception escaping a
 * worker's event handler would end the test run itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIALECTS, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { assertError } from '../api/support.js';
import { hashToken } from '../../src/auth/tokens.js';
import { initProject } from '../../src/project/init.js';
import { writePipeline } from '../../bench/runsProject.js';
import { MAX_PAYLOAD_DEPTH } from '../../src/runtimes/payloadLimits.js';
import { exceedsJsonShape } from '../../src/runtimes/jsonShape.js';
import { DEFAULT_JSON_MAX_DEPTH, DEFAULT_JSON_MAX_VALUES, jsonLimitsFromEnv, MAX_JSON_MAX_DEPTH } from '../../src/api/jsonLimits.js';

const DEPTH = 20_000;
/** The deep value as JSON text: JSON.stringify itself cannot write it. */
const DEEP = '['.repeat(DEPTH) + ']'.repeat(DEPTH);
const PIPELINE = 'guarded';

const PY_HEADER = "if 'data_loader' not in globals():\n    from mage_ai.data_preparation.decorators import data_loader\n";

/** The project: blocks reporting which worker ran them, and blocks that hold a worker until a gate file exists. */
function makeProject(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'bf-deep-json-')), 'project');
  initProject(dir);
  writePipeline(dir, PIPELINE, [
    { uuid: 'ts_thread', type: 'data_loader', language: 'typescript', code: "import { threadId } from 'node:worker_threads';\nexport default () => ({ threadId });\n" },
    {
      uuid: 'ts_hold',
      type: 'data_loader',
      language: 'typescript',
      code:
        "import { existsSync, writeFileSync } from 'node:fs';\nimport { threadId } from 'node:worker_threads';\n" +
        'export default async (ctx) => {\n' +
        "  const gate = String(ctx.kwargs.gate);\n  writeFileSync(gate + '.started', '');\n" +
        '  while (!existsSync(gate)) await new Promise((resolve) => setTimeout(resolve, 5));\n' +
        '  return { threadId };\n};\n',
    },
    { uuid: 'py_pid', type: 'data_loader', language: 'python', code: `import os\n${PY_HEADER}\n\n@data_loader\ndef load(*args, **kwargs):\n    return {'pid': os.getpid()}\n` },
    {
      uuid: 'py_hold',
      type: 'data_loader',
      language: 'python',
      code:
        `import os\nimport time\n${PY_HEADER}\n\n@data_loader\ndef load(*args, **kwargs):\n` +
        "    gate = kwargs['gate']\n    open(gate + '.started', 'w').close()\n" +
        '    while not os.path.exists(gate):\n        time.sleep(0.005)\n' +
        "    return {'pid': os.getpid()}\n",
    },
  ]);
  return dir;
}

/** `[[[...]]]`, `levels` deep, as a value (for the store, which writes it with JSON.stringify). */
function nested(levels: number): unknown {
  let value: unknown[] = [];
  for (let i = 1; i < levels; i++) value = [value];
  return value;
}

/** A path for every `{param}` of an OpenAPI path: numbers for ids, a well-formed token, names elsewhere. */
function concretePath(path: string, token: string): string {
  return path.replace(/\{([^}]+)\}/g, (_m, name: string) => (name === 'id' ? '1' : name === 'token' ? token : name === '*' ? 'data_loaders/x.py' : PIPELINE));
}

interface DeepRequest {
  name: string;
  send: () => Promise<{ status: number; body: any }>;
}

describe('the measure and its settings', () => {
  test('depth counts containers, values count every object, array and scalar', () => {
    const limits = (maxDepth: number, maxValues = Infinity) => ({ maxDepth, maxValues });
    assert.equal(exceedsJsonShape('text', limits(0)), null);
    assert.equal(exceedsJsonShape({}, limits(0)), 'depth');
    assert.equal(exceedsJsonShape({ a: [1] }, limits(2)), null);
    assert.equal(exceedsJsonShape({ a: [1] }, limits(1)), 'depth');
    assert.equal(exceedsJsonShape({ a: [1, 2], b: null }, limits(5, 5)), null);
    assert.equal(exceedsJsonShape({ a: [1, 2], b: null }, limits(5, 4)), 'values');
  });

  test('a value far deeper than the stack, and a cyclic one, are measured without overflowing', () => {
    assert.equal(exceedsJsonShape(JSON.parse('['.repeat(500_000) + ']'.repeat(500_000)), { maxDepth: 64, maxValues: Infinity }), 'depth');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal(exceedsJsonShape(cyclic, { maxDepth: 64, maxValues: Infinity }), 'depth');
  });

  test('BLOCKFLOW_JSON_MAX_DEPTH and _VALUES: defaults, and bad values named', () => {
    assert.deepEqual(jsonLimitsFromEnv({}), { maxDepth: DEFAULT_JSON_MAX_DEPTH, maxValues: DEFAULT_JSON_MAX_VALUES });
    assert.deepEqual(jsonLimitsFromEnv({ BLOCKFLOW_JSON_MAX_DEPTH: '10', BLOCKFLOW_JSON_MAX_VALUES: '50' }), { maxDepth: 10, maxValues: 50 });
    assert.throws(() => jsonLimitsFromEnv({ BLOCKFLOW_JSON_MAX_DEPTH: 'deep' }), /BLOCKFLOW_JSON_MAX_DEPTH must be a positive whole number/);
    assert.throws(() => jsonLimitsFromEnv({ BLOCKFLOW_JSON_MAX_DEPTH: String(MAX_JSON_MAX_DEPTH + 1) }), /BLOCKFLOW_JSON_MAX_DEPTH must be at most 256/);
    assert.throws(() => jsonLimitsFromEnv({ BLOCKFLOW_JSON_MAX_VALUES: '0' }), /BLOCKFLOW_JSON_MAX_VALUES/);
  });
});

for (const dialect of DIALECTS) {
  describe(`a deeply nested JSON body (${dialect})`, () => {
    let t: TestServer;
    let fixtureDir: string;
    let projectDir: string;
    let gates = 0;
    let apiTriggerId: number;
    const apiToken = `deep_${dialect}_${'a'.repeat(24)}`;
    const storedDeepToken = `deep_${dialect}_${'s'.repeat(24)}`;
    let requests: DeepRequest[] = [];
    let threads: number[];
    let pythonPid: number;
    const saved: Record<string, string | undefined> = {};

    const runBody = (block: string, variables: Record<string, unknown> = {}) => ({ run: { pipeline_uuid: PIPELINE, block_uuid: block, record: false, store_variables: false, variables } });
    const run = (block: string, variables: Record<string, unknown> = {}, token = apiToken) => t.call('POST', `/api/runs/${token}`, runBody(block, variables), null);
    const gate = () => {
      const path = join(projectDir, `gate-${++gates}`);
      return {
        path,
        started: () => waitFor(`block at ${path} to start`, () => existsSync(`${path}.started`)),
        open: () => writeFileSync(path, ''),
      };
    };

    /** Runs ts_hold on every TypeScript worker at once (each holds its worker until the gate opens). */
    const holdTypeScriptWorkers = async () => {
      const pair = [gate(), gate()];
      const runs = pair.map((g) => run('ts_hold', { gate: g.path }));
      await Promise.all(pair.map((g) => g.started()));
      return { open: () => pair.forEach((g) => g.open()), done: Promise.all(runs) };
    };
    const threadIdsOf = (responses: { status: number; body: any }[]) =>
      responses.map((r) => {
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body.run.output[0].threadId as number;
      }).sort((a, b) => a - b);

    /** The server answers, and the same two worker threads and the same Python process run blocks at once. */
    const assertHealthy = async () => {
      assert.equal((await t.call('GET', '/api/status', undefined, null)).status, 200);
      const plain = await run('ts_thread');
      assert.equal(plain.status, 200, JSON.stringify(plain.body));
      assert.ok(threads.includes(plain.body.run.output[0].threadId));
      // Both workers take a run at the same time: neither is stuck with a run that never got through.
      const held = await holdTypeScriptWorkers();
      held.open();
      assert.deepEqual(threadIdsOf(await held.done), threads);
      const py = await run('py_pid');
      assert.equal(py.status, 200, JSON.stringify(py.body));
      assert.equal(py.body.run.output[0].pid, pythonPid);
    };

    /** The deep value through a trigger's stored variables: no HTTP limit on the way, the runtime refuses it. */
    const assertStoredDeepValueFails = (res: { status: number; body: any }) => {
      assert.equal(res.status, 500, JSON.stringify(res.body).slice(0, 500));
      assert.equal(res.body.error.type, 'block_execution_failed');
      assert.equal(res.body.error.exception, 'PayloadTooDeep');
      assert.match(res.body.error.message, new RegExp(`nested more than ${MAX_PAYLOAD_DEPTH} levels`));
    };

    before(async () => {
      for (const name of ['BLOCKFLOW_TS_WORKERS', 'BLOCKFLOW_PY_WORKERS']) saved[name] = process.env[name];
      process.env.BLOCKFLOW_TS_WORKERS = '2';
      process.env.BLOCKFLOW_PY_WORKERS = '1';
      fixtureDir = makeProject();
      t = await startTestServer({ dialect, fixture: fixtureDir });
      projectDir = t.projectDir;
      const store = t.server.ctx.store;
      const trigger = await store.schedules.create({ name: 'api', pipeline_uuid: PIPELINE, schedule_type: 'api', token_hash: hashToken(apiToken), status: 'active' });
      apiTriggerId = trigger.id;
      // Deeper than the runtimes accept, still writable by the store's JSON.stringify.
      await store.schedules.create({
        name: 'stored deep variables',
        pipeline_uuid: PIPELINE,
        schedule_type: 'api',
        token_hash: hashToken(storedDeepToken),
        status: 'active',
        variables: { deep: nested(MAX_PAYLOAD_DEPTH * 2) },
      });

      const spec = await t.call('GET', '/api/openapi.json', undefined, null);
      const writeRoutes: { method: string; path: string }[] = [];
      for (const [path, operations] of Object.entries(spec.body.paths as Record<string, Record<string, unknown>>)) {
        for (const method of Object.keys(operations)) if (['post', 'put', 'patch', 'delete'].includes(method)) writeRoutes.push({ method: method.toUpperCase(), path });
      }
      const named = new Map<string, DeepRequest>([
        ['POST /api/runs/{token}', { name: 'POST /api/runs/{token}', send: () => t.call('POST', `/api/runs/${apiToken}`, `{"run":{"pipeline_uuid":"${PIPELINE}","block_uuid":"ts_thread","variables":{"deep":${DEEP}}}}`, null) }],
        ['POST /api/runs', { name: 'POST /api/runs (Bearer)', send: () => t.call('POST', '/api/runs', `{"run":{"pipeline_uuid":"${PIPELINE}","block_uuid":"py_pid","variables":{"deep":${DEEP}}}}`, apiToken) }],
        [
          'POST /api/pipeline_schedules/{id}/pipeline_runs/{token}',
          { name: 'API trigger, token in the URL', send: () => t.call('POST', `/api/pipeline_schedules/${apiTriggerId}/pipeline_runs/${apiToken}`, `{"pipeline_run":{"variables":{"deep":${DEEP}}}}`, null) },
        ],
        [
          'POST /api/pipeline_schedules/{id}/api_trigger',
          { name: 'API trigger, Bearer token', send: () => t.call('POST', `/api/pipeline_schedules/${apiTriggerId}/api_trigger`, `{"deep":${DEEP}}`, apiToken) },
        ],
        ['POST /api/events', { name: 'POST /api/events', send: () => t.call('POST', '/api/events', `{"event":{"deep":${DEEP}}}`, t.ownerToken) }],
      ]);
      for (const key of named.keys()) assert.ok(writeRoutes.some((r) => `${r.method} ${r.path}` === key), `${key} is a route`);
      requests = writeRoutes.map(({ method, path }) => {
        const key = `${method} ${path}`;
        return named.get(key) ?? { name: key, send: () => t.call(method, concretePath(path, apiToken), `{"payload":{"variables":${DEEP},"content":${DEEP}}}`, t.ownerToken) };
      });

      // The workers everything is compared with afterwards.
      const held = await holdTypeScriptWorkers();
      held.open();
      threads = threadIdsOf(await held.done);
      assert.equal(new Set(threads).size, 2);
      const py = await run('py_pid');
      assert.equal(py.status, 200, JSON.stringify(py.body));
      pythonPid = py.body.run.output[0].pid;
    });

    after(async () => {
      await t?.close();
      if (fixtureDir) rmSync(join(fixtureDir, '..'), { recursive: true, force: true });
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });

    test('the body is about 40 KB, under every body limit', () => {
      assert.ok(DEEP.length < 64 * 1024);
    });

    test('every route that takes a body answers 400 json_too_deep naming the limit; the workers are untouched', async () => {
      assert.ok(requests.length >= 30, `${requests.length} write routes`);
      for (const r of requests) {
        const res = await r.send();
        assertError(res, 400, /nested more than 64 levels deep.*BLOCKFLOW_JSON_MAX_DEPTH/, 'json_too_deep');
      }
      await assertHealthy();
    });

    test("a trigger's stored deep variables fail that run alone, TypeScript and Python; records are written", async () => {
      const failedRuns = async () => (await t.server.ctx.store.pipelineRuns.list({ pipelineUuids: [PIPELINE] })).rows.filter((r) => r.status === 'failed').length;
      const before = await failedRuns();
      assertStoredDeepValueFails(await t.call('POST', `/api/runs/${storedDeepToken}`, { run: { pipeline_uuid: PIPELINE, block_uuid: 'ts_thread' } }, null));
      assertStoredDeepValueFails(await t.call('POST', `/api/runs/${storedDeepToken}`, { run: { pipeline_uuid: PIPELINE, block_uuid: 'py_pid' } }, null));
      assert.equal(await failedRuns(), before + 2);
      await assertHealthy();
    });

    test('while every worker is busy: the same answers, nothing waits for a worker, and the workers run on', async () => {
      const heldTs = await holdTypeScriptWorkers();
      const pyGate = gate();
      const heldPy = run('py_hold', { gate: pyGate.path });
      await pyGate.started();
      // Every answer arrives while the gates are still shut, so none waited for a worker.
      const answers = await Promise.all(requests.map((r) => r.send()));
      answers.forEach((res) => assertError(res, 400, /BLOCKFLOW_JSON_MAX_DEPTH/, 'json_too_deep'));
      // These reach the pools, which refuse them while their workers are busy.
      const stored = await Promise.all(['ts_thread', 'py_pid'].map((block) => t.call('POST', `/api/runs/${storedDeepToken}`, { run: { pipeline_uuid: PIPELINE, block_uuid: block } }, null)));
      stored.forEach(assertStoredDeepValueFails);
      heldTs.open();
      pyGate.open();
      assert.deepEqual(threadIdsOf(await heldTs.done), threads);
      const py = await heldPy;
      assert.equal(py.status, 200, JSON.stringify(py.body));
      assert.equal(py.body.run.output[0].pid, pythonPid);
      await assertHealthy();
    });

    test('a body with more values than the limit is 400 json_too_large naming it', async () => {
      const many = `[${'0,'.repeat(DEFAULT_JSON_MAX_VALUES)}0]`;
      const res = await t.call('POST', `/api/runs/${apiToken}`, `{"run":{"pipeline_uuid":"${PIPELINE}","block_uuid":"ts_thread","variables":{"ids":${many}}}}`, null);
      assertError(res, 400, /more than 100000 JSON values.*BLOCKFLOW_JSON_MAX_VALUES/, 'json_too_large');
    });

    test('a body nested within the limit is still accepted', async () => {
      const res = await t.call('POST', `/api/runs/${apiToken}`, `{"run":{"pipeline_uuid":"${PIPELINE}","block_uuid":"ts_thread","record":false,"variables":{"v":${'['.repeat(50)}${']'.repeat(50)}}}}`, null);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });
  });
}
