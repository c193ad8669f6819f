/**
 * Interactive executions (the notebook's server side) over real HTTP, on SQLite and PostgreSQL, with real Python
 * workers: POST /api/pipelines/{p}/executions, the Server-Sent Events stream (order, batching, heartbeats,
 * Last-Event-ID replay), snapshots and the re-attach list, interruption that really stops the block's code,
 * per-user scoping, output sampling, tracebacks, run_upstream / run_incomplete_upstream / run_downstream,
 * unsaved code, and outputs persisted in Mage's notebook layout for the next execution and the pipeline API.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIALECTS, startTestServer, type TestServer } from '../helpers/server.js';
import { initProject } from '../../src/project/init.js';
import { writePipeline } from '../../bench/runsProject.js';
import { makeUser, type TestUser } from './support.js';

const HEARTBEAT_MS = 200;

const py = (decorator: string, body: string, extra = '') =>
  `from mage_ai.data_preparation.decorators import ${decorator}\n${extra}\n\n@${decorator}\ndef run_block(*args, **kwargs):\n${body}\n`;

/** A project with the pipelines these tests run. */
function makeProject(): string {
  const root = join(mkdtempSync(join(tmpdir(), 'blockflow-exec-fixture-')), 'project');
  initProject(root);
  writePipeline(root, 'nb', [
    {
      uuid: 'load',
      type: 'data_loader',
      language: 'python',
      code: py('data_loader', "    print('loading rows')\n    return pd.DataFrame({'a': range(1000), 'b': [i * 2 for i in range(1000)], 'c': ['x'] * 1000})", 'import pandas as pd'),
    },
    {
      uuid: 'wide',
      type: 'data_loader',
      language: 'python',
      code: py('data_loader', "    return pd.DataFrame({f'col{i}': [i] * 5 for i in range(60)})", 'import pandas as pd'),
    },
    {
      uuid: 'boom',
      type: 'data_loader',
      language: 'python',
      code: py('data_loader', "    print('about to fail')\n    return helper(41)", 'def helper(n):\n    raise ValueError(f"bad value {n + 1}")'),
    },
    {
      uuid: 'slow',
      type: 'custom',
      language: 'python',
      code: py(
        'custom',
        [
          "    marker = kwargs['marker']",
          '    for i in range(600):',
          "        with open(marker, 'w') as f:",
          '            f.write(str(i))',
          "        print(f'tick {i}')",
          '        time.sleep(0.05)',
          "    with open(marker + '.finished', 'w') as f:",
          "        f.write('finished')",
        ].join('\n'),
        'import time',
      ),
    },
    {
      uuid: 'ticker',
      type: 'custom',
      language: 'python',
      code: py('custom', "    for i in range(8):\n        print(f'tick {i}')\n        time.sleep(0.15)\n    return {'ticks': 8}", 'import time'),
    },
    {
      uuid: 'tested',
      type: 'data_loader',
      language: 'python',
      code:
        py('data_loader', "    return {'x': 1}", 'from mage_ai.data_preparation.decorators import test') +
        "\n\n@test\ndef test_ok(output, *args) -> None:\n    assert output['x'] == 1\n\n\n@test\ndef test_bad(output, *args) -> None:\n    assert output['x'] == 2, 'x should be 2'\n",
    },
    {
      uuid: 'rich',
      type: 'data_loader',
      language: 'python',
      code: py(
        'data_loader',
        "    return '<div><b>hello</b></div>', 'data:image/png;base64,' + PNG, {'k': [1, 2, 3]}, 'just text'",
        "PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='",
      ),
    },
    { uuid: 'notes', type: 'custom', language: 'python', code: py('custom', '    return 1') },
  ]);
  writePipeline(root, 'chain', [
    { uuid: 'a', type: 'data_loader', language: 'python', code: py('data_loader', "    return pd.DataFrame({'v': [1, 2, 3]})", 'import pandas as pd') },
    {
      uuid: 'b',
      type: 'transformer',
      language: 'python',
      upstream: ['a'],
      code: py('transformer', "    df = args[0]\n    print(f'sum {int(df.v.sum())}')\n    return df.assign(v=df.v * 10)"),
    },
    { uuid: 'c', type: 'transformer', language: 'python', upstream: ['b'], code: py('transformer', "    return {'total': int(args[0].v.sum())}") },
  ]);
  writePipeline(root, 'ts', [
    { uuid: 't1', type: 'data_loader', language: 'typescript', code: "export default function (ctx) {\n  console.log('from ts');\n  return { n: 1 };\n}\n" },
    { uuid: 'spin', type: 'custom', language: 'typescript', code: 'export default function () {\n  const end = Date.now() + 60_000;\n  while (Date.now() < end) {}\n  return 1;\n}\n' },
  ]);
  return root;
}

interface SseEvent {
  id: number | null;
  event: string;
  data: any;
}

interface StreamRead {
  status: number;
  headers: Headers;
  events: SseEvent[];
  comments: string[];
  /** The server ended the stream (rather than the reader stopping it). */
  ended: boolean;
  body: string;
}

/** Reads an event stream until it ends, or until `stopAfter` says so (then the connection is dropped). */
async function readStream(
  t: TestServer,
  path: string,
  token: string | null,
  options: { lastEventId?: number; stopAfter?: (event: SseEvent, all: SseEvent[], read: StreamRead) => boolean; timeoutMs?: number } = {},
): Promise<StreamRead> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 60_000);
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
  const res = await fetch(t.url + path, { headers, signal: controller.signal });
  const out: StreamRead = { status: res.status, headers: res.headers, events: [], comments: [], ended: false, body: '' };
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
    out.body = await res.text();
    clearTimeout(timer);
    return out;
  }
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        out.ended = true;
        break;
      }
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      let stop = false;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let id: number | null = null;
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) out.comments.push(line.slice(1).trim());
          else if (line.startsWith('id: ')) id = Number(line.slice(4));
          else if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length === 0) {
          if (out.events.length > 0 && options.stopAfter?.(out.events.at(-1)!, out.events, out)) stop = true;
          continue;
        }
        const parsed: SseEvent = { id, event, data: JSON.parse(data.join('\n')) };
        out.events.push(parsed);
        if (options.stopAfter?.(parsed, out.events, out)) stop = true;
      }
      if (stop) {
        controller.abort();
        break;
      }
    }
  } catch (err) {
    if (!controller.signal.aborted || !options.stopAfter) throw err;
  } finally {
    clearTimeout(timer);
  }
  return out;
}

const types = (events: SseEvent[]) => events.map((e) => e.event);
const ofType = (events: SseEvent[], type: string) => events.filter((e) => e.event === type);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const dialect of DIALECTS) {
  describe(`interactive executions (${dialect})`, () => {
    let t: TestServer;
    let fixture: string;
    let editor: TestUser;
    let other: TestUser;
    let viewer: TestUser;
    const dataDir = () => t.server.ctx.project.dataDir;

    const start = (pipeline: string, execution: Record<string, unknown>, token: string | null = editor.token) =>
      t.call('POST', `/api/pipelines/${pipeline}/executions`, { execution }, token);
    /** Starts an execution, reads its whole stream, and returns both. */
    const run = async (pipeline: string, execution: Record<string, unknown>, token = editor.token) => {
      const res = await start(pipeline, execution, token);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const stream = await readStream(t, res.body.execution.events_url, token);
      assert.equal(stream.status, 200, stream.body);
      assert.ok(stream.ended, 'the server ends the stream after done');
      return { execution: res.body.execution, ...stream };
    };
    const done = (events: SseEvent[]) => {
      const last = events.at(-1)!;
      assert.equal(last.event, 'done', `the last event is done: ${JSON.stringify(types(events))}`);
      return last.data;
    };

    before(async () => {
      fixture = makeProject();
      t = await startTestServer({ dialect, fixture, env: { BLOCKFLOW_EXECUTION_HEARTBEAT_MS: String(HEARTBEAT_MS), INSTANCE_TYPE: 'web_server' } });
      editor = await makeUser(t, 'editor', `ed_${dialect}`);
      other = await makeUser(t, 'editor', `other_${dialect}`);
      viewer = await makeUser(t, 'viewer', `viewer_${dialect}`);
    });
    after(async () => {
      await t?.close();
      rmSync(join(fixture, '..'), { recursive: true, force: true });
    });

    test('a block run streams status, block_start, stdout, output, block_end and done in order, then the stream ends', async () => {
      const res = await start('nb', { block_uuid: 'load', mode: 'block' });
      assert.equal(res.status, 201);
      const e = res.body.execution;
      assert.match(e.id, /^[0-9a-f]{32}$/);
      assert.equal(e.pipeline_uuid, 'nb');
      assert.equal(e.block_uuid, 'load');
      assert.equal(e.status, 'queued');
      assert.ok(!Number.isNaN(Date.parse(e.created_at)));
      assert.equal(e.events_url, `/api/executions/${e.id}/events`);

      const stream = await readStream(t, e.events_url, editor.token);
      assert.equal(stream.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      assert.equal(stream.headers.get('cache-control'), 'no-cache');
      assert.equal(stream.headers.get('x-accel-buffering'), 'no');
      assert.ok(stream.ended);
      const seen = types(stream.events);
      const order = ['status', 'block_start', 'stdout', 'output', 'block_end', 'done'].map((type) => seen.indexOf(type));
      assert.ok(order.every((i) => i >= 0), JSON.stringify(seen));
      assert.deepEqual([...order].sort((x, y) => x - y), order, `events out of order: ${JSON.stringify(seen)}`);
      assert.deepEqual(stream.events[0].data, { state: 'queued', status: 'queued', block_uuid: 'load' });
      assert.deepEqual(
        stream.events.map((ev) => ev.id),
        stream.events.map((_, i) => i + 1),
        'ids count up from 1',
      );
      assert.deepEqual(ofType(stream.events, 'block_start')[0].data, { block_uuid: 'load', block_type: 'data_loader', language: 'python' });
      assert.ok(ofType(stream.events, 'stdout').some((ev) => ev.data.block_uuid === 'load' && ev.data.lines.includes('loading rows') && ev.data.truncated === false));
      const end = ofType(stream.events, 'block_end')[0].data;
      assert.equal(end.status, 'completed');
      assert.equal(typeof end.duration_ms, 'number');
      const last = done(stream.events);
      assert.equal(last.status, 'completed');
      assert.equal(typeof last.duration_ms, 'number');
    });

    test('a 1000-row DataFrame arrives as its first 100 rows with shape [1000, 3]; a wide one as 50 columns', async () => {
      const { events } = await run('nb', { block_uuid: 'load', mode: 'block' });
      const [output] = ofType(events, 'output');
      assert.equal(output.data.type, 'table');
      assert.equal(output.data.block_uuid, 'load');
      assert.equal(output.data.variable_uuid, 'output_0');
      assert.deepEqual(output.data.columns, ['a', 'b', 'c']);
      assert.deepEqual(output.data.shape, [1000, 3]);
      assert.equal(output.data.rows.length, 100);
      assert.deepEqual(output.data.rows[0], [0, 0, 'x']);
      assert.deepEqual(output.data.rows[99], [99, 198, 'x']);
      assert.equal(output.data.truncated, true);

      const wide = ofType((await run('nb', { block_uuid: 'wide', mode: 'block' })).events, 'output')[0].data;
      assert.deepEqual(wide.shape, [5, 60]);
      assert.equal(wide.columns.length, 50);
      assert.equal(wide.rows[0].length, 50);
      assert.equal(wide.rows.length, 5);
    });

    test('HTML, PNG, JSON and text outputs arrive typed', async () => {
      const outputs = ofType((await run('nb', { block_uuid: 'rich', mode: 'block' })).events, 'output').map((ev) => ev.data);
      assert.deepEqual(outputs.map((o) => o.type), ['text/html', 'image/png', 'json', 'text']);
      assert.equal(outputs[0].data, '<div><b>hello</b></div>');
      assert.match(outputs[1].data, /^iVBORw0KGgo/);
      assert.deepEqual(outputs[2].data, { k: [1, 2, 3] });
      assert.equal(outputs[3].data, 'just text');
    });

    test('Last-Event-ID replays the events after it, finished or live', async () => {
      const full = await run('nb', { block_uuid: 'load', mode: 'block' });
      const replay = await readStream(t, full.execution.events_url, editor.token, { lastEventId: 3 });
      assert.ok(replay.ended);
      assert.deepEqual(replay.events, full.events.slice(3));
      // ?last_event_id= does the same for clients that cannot set the header.
      const byQuery = await readStream(t, `${full.execution.events_url}?last_event_id=${full.events.length - 1}`, editor.token);
      assert.deepEqual(types(byQuery.events), ['done']);
      // A client that already has `done` gets nothing more, and the stream ends.
      const after = await readStream(t, full.execution.events_url, editor.token, { lastEventId: full.events.at(-1)!.id! });
      assert.ok(after.ended);
      assert.deepEqual(after.events, []);

      // Live: drop the connection after the first output line, reconnect from the last id received.
      const res = await start('nb', { block_uuid: 'ticker', mode: 'block' });
      const first = await readStream(t, res.body.execution.events_url, editor.token, { stopAfter: (ev) => ev.event === 'stdout' });
      assert.equal(first.ended, false);
      const lastId = first.events.at(-1)!.id!;
      const second = await readStream(t, res.body.execution.events_url, editor.token, { lastEventId: lastId });
      assert.ok(second.ended);
      const ids = [...first.events, ...second.events].map((ev) => ev.id);
      assert.deepEqual(ids, ids.map((_, i) => i + 1), 'no event lost or repeated across the reconnect');
      const lines = [...first.events, ...second.events].filter((ev) => ev.event === 'stdout').flatMap((ev) => ev.data.lines);
      assert.deepEqual(lines, Array.from({ length: 8 }, (_, i) => `tick ${i}`));
      assert.ok(ofType([...first.events, ...second.events], 'stdout').length >= 2, 'lines are sent in batches as they come, not all at the end');
      assert.equal(done(second.events).status, 'completed');
    });

    test('DELETE interrupts a long Python block: its code stops, block_end cancelled and done cancelled; the next execution works', async () => {
      const marker = join(mkdtempSync(join(tmpdir(), 'blockflow-exec-marker-')), 'tick');
      const res = await start('nb', { block_uuid: 'slow', mode: 'block', variables: { marker } });
      assert.equal(res.status, 201);
      const id = res.body.execution.id;
      const live = await readStream(t, res.body.execution.events_url, editor.token, {
        stopAfter: (_ev, all) => ofType(all, 'stdout').flatMap((e) => e.data.lines).length >= 3,
      });
      assert.ok(ofType(live.events, 'stdout').length > 0);

      // While it runs: the re-attach list and the snapshot show it.
      const running = await t.call('GET', '/api/pipelines/nb/executions?status=running', undefined, editor.token);
      assert.equal(running.status, 200);
      assert.deepEqual(running.body.executions.map((x: any) => x.id), [id]);
      const snap = await t.call('GET', `/api/executions/${id}`, undefined, editor.token);
      assert.equal(snap.body.execution.status, 'running');
      assert.deepEqual(snap.body.execution.blocks.map((b: any) => [b.uuid, b.status]), [['slow', 'running']]);
      // The same block of the same user cannot run twice at once.
      const again = await start('nb', { block_uuid: 'slow', mode: 'block', variables: { marker } });
      assert.equal(again.status, 409);
      assert.match(again.body.error.message, new RegExp(`Block slow is already executing in execution ${id}`));

      const cancelled = await t.call('DELETE', `/api/executions/${id}`, undefined, editor.token);
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body.execution.status, 'cancelled');
      assert.equal(cancelled.body.execution.blocks[0].status, 'cancelled');
      const stream = await readStream(t, res.body.execution.events_url, editor.token);
      assert.ok(stream.ended);
      const ends = ofType(stream.events, 'block_end');
      assert.deepEqual(ends.map((ev) => [ev.data.block_uuid, ev.data.status]), [['slow', 'cancelled']]);
      assert.equal(done(stream.events).status, 'cancelled');
      assert.deepEqual(types(stream.events).slice(-3), ['block_end', 'status', 'done']);

      const at = readFileSync(marker, 'utf8');
      await sleep(1000);
      assert.equal(readFileSync(marker, 'utf8'), at, 'the block stopped writing: its process was stopped');
      assert.ok(!existsSync(`${marker}.finished`), 'the block never completed');
      assert.ok(Number(at) < 100);

      const listed = await t.call('GET', '/api/pipelines/nb/executions?status=running', undefined, editor.token);
      assert.deepEqual(listed.body.executions, []);
      const all = await t.call('GET', '/api/pipelines/nb/executions', undefined, editor.token);
      assert.ok(all.body.executions.some((x: any) => x.id === id && x.status === 'cancelled'));

      const next = await run('nb', { block_uuid: 'load', mode: 'block' });
      assert.equal(done(next.events).status, 'completed');
      rmSync(join(marker, '..'), { recursive: true, force: true });
    });

    test('open streams get `: ping` heartbeats', async () => {
      const marker = join(mkdtempSync(join(tmpdir(), 'blockflow-exec-marker-')), 'tick');
      const res = await start('nb', { block_uuid: 'slow', mode: 'block', variables: { marker } });
      const live = await readStream(t, res.body.execution.events_url, editor.token, { timeoutMs: 15_000, stopAfter: (_ev, _all, read) => read.comments.includes('ping') });
      assert.ok(live.comments.includes('ping'), JSON.stringify(live.comments));
      assert.equal(live.ended, false);
      await t.call('DELETE', `/api/executions/${res.body.execution.id}`, undefined, editor.token);
      rmSync(join(marker, '..'), { recursive: true, force: true });
    });

    test('an execution is visible only to the user who started it; viewers cannot start one', async () => {
      const res = await start('nb', { block_uuid: 'load', mode: 'block' });
      const id = res.body.execution.id;
      await readStream(t, res.body.execution.events_url, editor.token);
      for (const token of [other.token, t.ownerToken]) {
        assert.equal((await t.call('GET', `/api/executions/${id}`, undefined, token)).status, 404);
        assert.equal((await readStream(t, `/api/executions/${id}/events`, token)).status, 404);
        assert.equal((await t.call('DELETE', `/api/executions/${id}`, undefined, token)).status, 404);
        const list = await t.call('GET', '/api/pipelines/nb/executions', undefined, token);
        assert.equal(list.status, 200);
        assert.ok(!list.body.executions.some((x: any) => x.id === id));
      }
      assert.equal((await t.call('GET', `/api/executions/${id}`, undefined, editor.token)).status, 200);
      const denied = await start('nb', { block_uuid: 'load', mode: 'block' }, viewer.token);
      assert.equal(denied.status, 403);
      assert.equal((await t.call('GET', `/api/executions/${id}`, undefined, null)).status, 401);
    });

    test('a failing block sends error with its own traceback, block_end failed and done failed', async () => {
      const { events } = await run('nb', { block_uuid: 'boom', mode: 'block' });
      const [error] = ofType(events, 'error');
      assert.equal(error.data.block_uuid, 'boom');
      assert.equal(error.data.name, 'ValueError');
      assert.equal(error.data.message, 'bad value 42');
      assert.equal(error.data.type, 'block_execution_failed');
      const stack = error.data.stack.join('\n');
      assert.match(stack, /data_loaders\/boom\.py", line \d+, in helper/);
      assert.match(stack, /in run_block/);
      assert.doesNotMatch(stack, /blockflow_runtime/, 'runtime frames are left out');
      assert.ok(ofType(events, 'stdout').some((ev) => ev.data.lines.includes('about to fail')));
      assert.deepEqual(ofType(events, 'block_end').map((ev) => ev.data.status), ['failed']);
      assert.equal(done(events).status, 'failed');
      assert.deepEqual(ofType(events, 'output'), []);
    });

    test('run_tests sends test_result with the passed, failed and failing tests', async () => {
      const { events } = await run('nb', { block_uuid: 'tested', mode: 'block', run_tests: true });
      const [result] = ofType(events, 'test_result');
      assert.equal(result.data.block_uuid, 'tested');
      assert.equal(result.data.passed, 1);
      assert.equal(result.data.failed, 1);
      assert.equal(result.data.failures.length, 1);
      assert.equal(result.data.failures[0].name, 'test_bad');
      assert.match(result.data.failures[0].message, /x should be 2/);
      assert.equal(ofType(events, 'error')[0].data.type, 'test_failed');
      assert.equal(done(events).status, 'failed');
      // Without run_tests the tests do not run.
      const plain = await run('nb', { block_uuid: 'tested', mode: 'block' });
      assert.deepEqual(ofType(plain.events, 'test_result'), []);
      assert.equal(done(plain.events).status, 'completed');
    });

    test('unsaved code runs without touching the block file; its outputs are persisted for downstream blocks and the pipeline API', async () => {
      const file = join(t.projectDir, 'data_loaders', 'a.py');
      const saved = readFileSync(file, 'utf8');
      const code = py('data_loader', "    print('unsaved')\n    return pd.DataFrame({'v': [5, 6, 7]})", 'import pandas as pd');
      const { events } = await run('chain', { block_uuid: 'a', mode: 'block', code });
      assert.equal(done(events).status, 'completed');
      assert.ok(ofType(events, 'stdout').some((ev) => ev.data.lines.includes('unsaved')));
      assert.deepEqual(ofType(events, 'output')[0].data.rows, [[5], [6], [7]]);
      assert.equal(readFileSync(file, 'utf8'), saved, 'the block file is unchanged');
      const scratch = join(dataDir(), '.executions');
      const leftovers = existsSync(scratch) ? readdirSync(scratch, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()) : [];
      assert.deepEqual(leftovers.map((d) => d.name), [], 'the temp file is removed');

      // Persisted in Mage's unpartitioned (notebook) layout.
      assert.ok(existsSync(join(dataDir(), 'pipelines', 'chain', '.variables', 'a', 'output_0', 'data.parquet')));
      const pipeline = await t.call('GET', '/api/pipelines/chain?includes_outputs=true', undefined, editor.token);
      const a = pipeline.body.pipeline.blocks.find((b: any) => b.uuid === 'a');
      assert.equal(a.outputs[0].type, 'table');
      assert.deepEqual(a.outputs[0].sample_data.rows, [[5], [6], [7]]);
      const detail = await t.call('GET', '/api/pipelines/chain/blocks/a', undefined, editor.token);
      assert.deepEqual(detail.body.block.outputs[0].sample_data.rows, [[5], [6], [7]]);

      // The next execution of a downstream block reads them.
      const b = await run('chain', { block_uuid: 'b', mode: 'block' });
      assert.deepEqual(ofType(b.events, 'block_start').map((ev) => ev.data.block_uuid), ['b']);
      assert.ok(ofType(b.events, 'stdout').some((ev) => ev.data.lines.includes('sum 18')));
      assert.deepEqual(ofType(b.events, 'output')[0].data.rows, [[50], [60], [70]]);

      // An error in unsaved code names the block's file, not the temp file.
      const failing = await run('chain', { block_uuid: 'a', mode: 'block', code: py('data_loader', "    raise RuntimeError('draft broke')") });
      const err = ofType(failing.events, 'error')[0].data;
      assert.equal(err.message, 'draft broke');
      assert.match(err.stack.join('\n'), /data_loaders\/a\.py", line 6, in run_block/);
      assert.doesNotMatch(err.stack.join('\n'), /\.executions/);
      // A failed run leaves the last good outputs in place.
      const still = await t.call('GET', '/api/pipelines/chain/blocks/a', undefined, editor.token);
      assert.deepEqual(still.body.block.outputs[0].sample_data.rows, [[5], [6], [7]]);
    });

    test('run_upstream runs the upstream blocks first; run_incomplete_upstream only those never executed; run_downstream the blocks below', async () => {
      const up = await run('chain', { block_uuid: 'c', mode: 'block', run_upstream: true });
      assert.deepEqual(ofType(up.events, 'block_start').map((ev) => ev.data.block_uuid), ['a', 'b', 'c']);
      assert.deepEqual(ofType(up.events, 'block_end').map((ev) => ev.data.status), ['completed', 'completed', 'completed']);
      assert.deepEqual(ofType(up.events, 'output').map((ev) => ev.data.block_uuid), ['a', 'b', 'c']);
      assert.deepEqual(ofType(up.events, 'output').at(-1)!.data.data, { total: 60 });

      rmSync(join(dataDir(), 'pipelines', 'chain', '.variables', 'b'), { recursive: true, force: true });
      const incomplete = await run('chain', { block_uuid: 'c', mode: 'block', run_incomplete_upstream: true });
      assert.deepEqual(ofType(incomplete.events, 'block_start').map((ev) => ev.data.block_uuid), ['b', 'c']);
      assert.deepEqual(ofType(incomplete.events, 'output').at(-1)!.data.data, { total: 60 });

      const down = await run('chain', { block_uuid: 'a', mode: 'block', run_downstream: true });
      assert.deepEqual(ofType(down.events, 'block_start').map((ev) => ev.data.block_uuid), ['a', 'b', 'c']);

      const whole = await run('chain', { mode: 'pipeline' });
      assert.deepEqual(ofType(whole.events, 'block_start').map((ev) => ev.data.block_uuid), ['a', 'b', 'c']);
      assert.equal(whole.execution.block_uuid, null);
      assert.equal(done(whole.events).status, 'completed');
      const snap = await t.call('GET', `/api/executions/${whole.execution.id}`, undefined, editor.token);
      assert.equal(snap.body.execution.status, 'completed');
      assert.deepEqual(snap.body.execution.blocks.map((b: any) => [b.uuid, b.status]), [['a', 'completed'], ['b', 'completed'], ['c', 'completed']]);
      assert.deepEqual(snap.body.execution.blocks[2].outputs[0].data, { total: 60 });
    });

    test('a failing block stops the execution: the blocks after it are skipped', async () => {
      const code = py('data_loader', "    raise ValueError('no data')");
      const failed = await run('chain', { block_uuid: 'a', mode: 'block', run_downstream: true, code });
      assert.deepEqual(ofType(failed.events, 'block_start').map((ev) => ev.data.block_uuid), ['a']);
      assert.equal(done(failed.events).status, 'failed');
      const snap = await t.call('GET', `/api/executions/${failed.execution.id}`, undefined, editor.token);
      assert.deepEqual(snap.body.execution.blocks.map((b: any) => [b.uuid, b.status]), [['a', 'failed'], ['b', 'skipped'], ['c', 'skipped']]);
      assert.equal(snap.body.execution.blocks[0].error.name, 'ValueError');
    });

    test('TypeScript blocks: saved and unsaved code run, and a busy loop is interrupted', async () => {
      const saved = await run('ts', { block_uuid: 't1', mode: 'block' });
      assert.ok(ofType(saved.events, 'stdout').some((ev) => ev.data.lines.includes('from ts')));
      assert.deepEqual(ofType(saved.events, 'output')[0].data, { block_uuid: 't1', index: 0, variable_uuid: 'output_0', type: 'json', data: { n: 1 }, truncated: false });
      const draft = await run('ts', { block_uuid: 't1', mode: 'block', code: 'export default function () {\n  return { n: 2 };\n}\n' });
      assert.deepEqual(ofType(draft.events, 'output')[0].data.data, { n: 2 });
      assert.match(readFileSync(join(t.projectDir, 'data_loaders', 't1.ts'), 'utf8'), /n: 1/);

      const res = await start('ts', { block_uuid: 'spin', mode: 'block' });
      await readStream(t, res.body.execution.events_url, editor.token, { stopAfter: (ev) => ev.event === 'block_start' });
      const startedAt = Date.now();
      const cancelled = await t.call('DELETE', `/api/executions/${res.body.execution.id}`, undefined, editor.token);
      assert.equal(cancelled.body.execution.status, 'cancelled');
      assert.ok(Date.now() - startedAt < 5_000);
      const next = await run('ts', { block_uuid: 't1', mode: 'block' });
      assert.equal(done(next.events).status, 'completed');
    });

    test('bad requests are 4xx with a message naming the problem', async () => {
      const cases: Array<[string, Record<string, unknown>, number, RegExp]> = [
        ['nb', { block_uuid: 'nope', mode: 'block' }, 404, /Block nope does not exist in pipeline nb/],
        ['nope', { block_uuid: 'load', mode: 'block' }, 404, /nope/],
        ['nb', { block_uuid: 'load', mode: 'bogus' }, 400, /mode/],
        ['nb', { mode: 'block' }, 400, /block_uuid is required/],
        ['nb', { mode: 'pipeline', run_upstream: true }, 400, /run_upstream apply to mode "block"/],
        ['nb', { mode: 'pipeline', code: 'x = 1' }, 400, /block_uuid must name that block/],
        ['nb', { block_uuid: 'load', mode: 'block', surprise: 1 }, 400, /surprise/],
        ['nb', { block_uuid: 'load', run_tests: 'yes' }, 400, /run_tests/],
      ];
      for (const [pipeline, body, status, message] of cases) {
        const res = await start(pipeline, body);
        assert.equal(res.status, status, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        assert.match(res.body.error.message, message);
      }
      const missing = '0'.repeat(32);
      assert.equal((await t.call('GET', `/api/executions/${missing}`, undefined, editor.token)).status, 404);
      assert.equal((await readStream(t, `/api/executions/${missing}/events`, editor.token)).status, 404);
      assert.equal((await t.call('DELETE', `/api/executions/${missing}`, undefined, editor.token)).status, 404);
      assert.equal((await t.call('GET', '/api/pipelines/nb/executions?status=bogus', undefined, editor.token)).status, 400);
      assert.equal((await t.call('GET', '/api/pipelines/nope/executions', undefined, editor.token)).status, 404);
    });
  });
}

describe('interactive executions without authentication (one anonymous scope)', () => {
  let t: TestServer;
  let fixture: string;
  before(async () => {
    fixture = makeProject();
    t = await startTestServer({
      fixture,
      requireAuth: false,
      env: { INSTANCE_TYPE: 'web_server', BLOCKFLOW_EXECUTION_BUFFER_EVENTS: '10', BLOCKFLOW_EXECUTION_RETAIN_COUNT: '3' },
    });
  });
  let closed = false;
  after(async () => {
    if (!closed) await t?.close();
    rmSync(join(fixture, '..'), { recursive: true, force: true });
  });

  test('requests without a token start, stream and list executions', async () => {
    const res = await t.call('POST', '/api/pipelines/chain/executions', { execution: { block_uuid: 'a', mode: 'block' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const stream = await readStream(t, res.body.execution.events_url, null);
    assert.equal(stream.events.at(-1)!.data.status, 'completed');
    const list = await t.call('GET', '/api/pipelines/chain/executions');
    assert.deepEqual(list.body.executions.map((x: any) => x.id), [res.body.execution.id]);
    assert.equal((await t.call('GET', `/api/executions/${res.body.execution.id}`)).status, 200);
  });

  test('the replay buffer is bounded: older events are dropped and a gap event says how many', async () => {
    const res = await t.call('POST', '/api/pipelines/nb/executions', { execution: { block_uuid: 'ticker' } });
    assert.equal(res.status, 201);
    await readStream(t, res.body.execution.events_url, null);
    const replay = await readStream(t, res.body.execution.events_url, null);
    assert.ok(replay.ended);
    const [gap, ...events] = replay.events;
    assert.equal(gap.event, 'gap');
    assert.equal(gap.id, null);
    assert.equal(events.length, 10);
    assert.equal(gap.data.missed, events[0].id! - 1);
    assert.ok(gap.data.missed > 0);
    assert.equal(gap.data.snapshot_url, `/api/executions/${res.body.execution.id}`);
    assert.equal(events.at(-1)!.event, 'done');
  });

  test('finished executions are kept up to the retain count, oldest forgotten first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await t.call('POST', '/api/pipelines/chain/executions', { execution: { block_uuid: 'a' } });
      assert.equal(res.status, 201);
      await readStream(t, res.body.execution.events_url, null);
      ids.push(res.body.execution.id);
    }
    assert.equal((await t.call('GET', `/api/executions/${ids[0]}`)).status, 404);
    for (const id of ids.slice(1)) assert.equal((await t.call('GET', `/api/executions/${id}`)).status, 200);
  });

  test('stopping the server ends open streams and interrupts running executions', async () => {
    const marker = join(mkdtempSync(join(tmpdir(), 'blockflow-exec-marker-')), 'tick');
    const res = await t.call('POST', '/api/pipelines/nb/executions', { execution: { block_uuid: 'slow', variables: { marker } } });
    assert.equal(res.status, 201);
    let sawOutput!: () => void;
    const outputSeen = new Promise<void>((resolve) => (sawOutput = resolve));
    const reading = readStream(t, res.body.execution.events_url, null, { stopAfter: (ev) => (ev.event === 'stdout' && sawOutput(), false) });
    await outputSeen;
    const startedClosing = Date.now();
    closed = true;
    await t.close();
    assert.ok(Date.now() - startedClosing < 10_000, 'the open stream did not hold the server open');
    const stream = await reading;
    assert.ok(stream.ended, 'the server ended the stream');
    const at = existsSync(marker) ? readFileSync(marker, 'utf8') : '';
    await sleep(500);
    assert.equal(existsSync(marker) ? readFileSync(marker, 'utf8') : '', at, 'the block was stopped with the server');
    rmSync(join(marker, '..'), { recursive: true, force: true });
  });
});
