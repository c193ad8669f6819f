/**
 * The differential suite (issue 10 item 4): real Mage 0.9.80 and Blockflow, each on its own copy of the same
 * fixture project, get the same requests in the same order; every answer is compared (effective status,
 * envelope keys, object keys and values, see compare.ts). A difference fails the test unless INTENDED lists it
 * with the reason, and each reason is one of the README's "Differences from Mage".
 *
 * Part of `npm test` (about a minute, plus the first install of mage-ai into a cached venv: see mageServer.ts);
 * `npm run test:mage` runs it alone; BLOCKFLOW_SKIP_MAGE_DIFF=1 skips it (for a machine without PyPI).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { diffValues, effectiveStatus, unexplained, type Answer, type IntendedDifference } from './compare.js';
import { MAGE_API_KEY, MAGE_OWNER, startMage, type RunningMage } from './mageServer.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/mage_project', import.meta.url));

/** Each documented difference; the README's "Differences from Mage" names the same ones. */
const INTENDED: IntendedDifference[] = [
  { request: '*', path: /^\$\.status$/, kind: 'extra_key', why: 'Mage adds "status": 200 beside an error in a 200 body; Blockflow answers with the HTTP status instead.' },
  { request: '*', path: /^\$\.status$/, kind: 'missing_key', why: 'as above: no "status" key beside an error, the HTTP status is the code.' },
  { request: '*', path: /^\$\.error\.(exception|errors|traceback)$/, why: 'Blockflow never sends a stack trace or exception text in an error.' },
  {
    request: '*',
    path: /^\$(\.error\.code)?$/,
    why: 'HTTP status = error code: a missing record is 404, a duplicate 409, a bad trigger token 401, where Mage answers 500 or 400 inside a 200.',
  },
  { request: '*', path: /^\$\.error\.type$/, why: 'every Blockflow error has a machine-readable type; Mage leaves it out of its 500s.' },
  { request: '*', path: /^\$\.url_parameters$/, kind: 'missing_key', why: 'Blockflow does not echo the route parameters in an error.' },
  { request: 'block not found', path: /^\$\.error\.type$/, kind: 'value', why: 'a missing block is record_not_found (404), not record_invalid.' },
  {
    request: '*',
    path: /\.(pipeline_schedule\.token|pipeline_schedules\[\d+\]\.token|pipeline_schedule_token)$/,
    why: 'trigger tokens are stored only as SHA-256 hashes, so they are shown once, when the trigger is created, never again.',
  },
  {
    request: 'API trigger',
    path: /^\$\.pipeline_run\.(status|started_at)$/,
    why: 'an API-triggered run starts at once (status running), not on the scheduler\'s next tick.',
  },
  {
    request: 'run a block synchronously (/api/runs)',
    path: /./,
    why: "POST /api/runs is Mage Pro's; open-source Mage 0.9.80 has no such route, so its answer is checked against Mage Pro's documented shape in test/api/runsSpecExamples.test.ts instead.",
  },
  {
    request: 'block run outputs not found',
    path: /^\$(\.outcome|\.outputs|\.metadata)$/,
    why: 'the outputs of a block run that does not exist are a 404; Mage answers an empty list.',
  },
  {
    request: '*',
    path: /^\$\.error\.errors\[\d+\]$/,
    kind: 'value',
    why: 'Blockflow never sends a stack trace: `errors` lists what was wrong with the input instead.',
  },
  {
    request: 'logs of the run',
    path: /^\$\.logs\[\d+\]\.pipeline_run_logs$/,
    kind: 'length',
    why: "a run's scheduler and executor lines are in one pipeline.log; Mage splits them into pipeline.log and scheduler.log.",
  },
  {
    request: 'pipelines list',
    path: /^\$\.pipelines\[\d+\]\.(settings\.triggers|blocks\[\d+\]\.(status|color|has_callback|retry_config|timeout|all_upstream_blocks_executed))$/,
    why: "the pipelines list shows each block's real status, color, has_callback, retry_config, timeout and the pipeline's settings; Mage's list comes from a cache that drops them.",
  },
  {
    request: '*',
    path: /./,
    kind: 'extra_key',
    why: 'objects may carry keys Mage 0.9.80 does not send (newer Mage fields, counts, version); a key Mage sends is never missing.',
  },
];

interface Side {
  name: 'mage' | 'blockflow';
  url: string;
  /** Folders of this side (project, data) replaced by placeholders in answers, so paths compare. */
  folders: Array<[string, string]>;
  headers: Record<string, string>;
  /** Values a later request needs (ids, tokens), taken from this server's own answers. */
  vars: Record<string, unknown>;
}

interface Step {
  name: string;
  method: string;
  path: (side: Side) => string;
  body?: (side: Side) => unknown;
  /** A body sent as is (for malformed JSON), instead of `body`. */
  rawBody?: string;
  /** Asserts on Blockflow's own answer (where Mage's cannot be compared). */
  check?: (ours: Answer) => void;
  /** Rewrites both answers' bodies before they are compared (for values that differ by nature). */
  normalize?: (body: unknown) => unknown;
  /** Keeps values from the answer for later steps. */
  keep?: (answer: Answer, side: Side) => void;
  /** Polls until this holds (for runs to finish) before comparing. */
  until?: (answer: Answer) => boolean;
}

async function send(side: Side, step: Step): Promise<Answer> {
  const body = step.rawBody ?? (step.body ? JSON.stringify(step.body(side)) : undefined);
  const res = await fetch(side.url + step.path(side), {
    method: step.method,
    headers: { ...side.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body,
  });
  let text = await res.text();
  for (const [folder, placeholder] of side.folders) text = text.split(folder).join(placeholder);
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

async function sendUntil(side: Side, step: Step): Promise<Answer> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answer = await send(side, step);
    if (!step.until || step.until(answer) || Date.now() > deadline) return answer;
    await new Promise((r) => setTimeout(r, 300));
  }
}

const LOADER = `@data_loader\ndef load(*args, **kwargs):\n    return [{'n': 1}, {'n': 2}, {'n': 3}]\n`;
const TRANSFORMER = `@transformer\ndef t(data, *args, **kwargs):\n    return [{'n': row['n'] * 10} for row in data]\n`;
const get = (path: string): Pick<Step, 'method' | 'path'> => ({ method: 'GET', path: () => path });

const STEPS: Step[] = [
  { name: 'status', ...get('/api/status') },
  { name: 'pipelines list', ...get('/api/pipelines') },
  { name: 'pipeline detail', ...get('/api/pipelines/etl_demo') },
  { name: 'pipeline with content', ...get('/api/pipelines/etl_demo?include_content=true') },
  { name: 'block detail', ...get('/api/pipelines/etl_demo/blocks/block1') },
  { name: 'pipeline not found', ...get('/api/pipelines/no_such_pipeline') },
  { name: 'block not found', ...get('/api/pipelines/etl_demo/blocks/no_such_block') },
  { name: 'file content', ...get('/api/file_contents/data_loaders%2Fblock1.py') },
  { name: 'secrets list', ...get('/api/secrets') },
  { name: 'pipeline variables', ...get('/api/pipelines/etl_demo/variables') },
  { name: 'create pipeline', method: 'POST', path: () => '/api/pipelines', body: () => ({ pipeline: { name: 'diff pipe', type: 'python' } }) },
  { name: 'create pipeline again', method: 'POST', path: () => '/api/pipelines', body: () => ({ pipeline: { name: 'diff pipe', type: 'python' } }) },
  { name: 'add loader', method: 'POST', path: () => '/api/pipelines/diff_pipe/blocks', body: () => ({ block: { name: 'load', type: 'data_loader', language: 'python', content: LOADER } }) },
  {
    name: 'add transformer',
    method: 'POST',
    path: () => '/api/pipelines/diff_pipe/blocks',
    body: () => ({ block: { name: 'double', type: 'transformer', language: 'python', content: TRANSFORMER, upstream_blocks: ['load'] } }),
  },
  { name: 'new pipeline detail', ...get('/api/pipelines/diff_pipe') },
  { name: 'new block with content', ...get('/api/pipelines/diff_pipe/blocks/double') },
  { name: 'add variable', method: 'POST', path: () => '/api/pipelines/diff_pipe/variables', body: () => ({ variable: { name: 'threshold', value: 3 } }) },
  { name: 'variables after add', ...get('/api/pipelines/diff_pipe/variables') },
  { name: 'add secret', method: 'POST', path: () => '/api/secrets', body: () => ({ secret: { name: 'diff_secret', value: 'shh' } }) },
  { name: 'secrets after add', ...get('/api/secrets') },
  {
    name: 'create API trigger',
    method: 'POST',
    path: () => '/api/pipelines/diff_pipe/pipeline_schedules',
    body: () => ({ pipeline_schedule: { name: 'api trigger', schedule_type: 'api' } }),
    keep: (a, s) => {
      const schedule = (a.body as { pipeline_schedule?: { id: number; token: string } }).pipeline_schedule;
      s.vars.scheduleId = schedule?.id;
      s.vars.triggerToken = schedule?.token;
    },
  },
  { name: 'trigger detail', method: 'GET', path: (s) => `/api/pipeline_schedules/${s.vars.scheduleId}` },
  {
    name: 'activate trigger',
    method: 'PUT',
    path: (s) => `/api/pipeline_schedules/${s.vars.scheduleId}`,
    body: () => ({ pipeline_schedule: { status: 'active' } }),
  },
  { name: 'pipeline triggers', ...get('/api/pipelines/diff_pipe/pipeline_schedules') },
  {
    name: 'API trigger with a wrong token',
    method: 'POST',
    path: (s) => `/api/pipeline_schedules/${s.vars.scheduleId}/pipeline_runs/not_the_token`,
    body: () => ({ pipeline_run: { variables: {} } }),
  },
  {
    name: 'API trigger',
    method: 'POST',
    path: (s) => `/api/pipeline_schedules/${s.vars.scheduleId}/pipeline_runs/${s.vars.triggerToken}`,
    body: () => ({ pipeline_run: { variables: { threshold: 5 } } }),
    keep: (a, s) => {
      s.vars.runId = (a.body as { pipeline_run?: { id: number } }).pipeline_run?.id;
    },
  },
  {
    name: 'run detail when done',
    method: 'GET',
    path: (s) => `/api/pipeline_runs/${s.vars.runId}`,
    until: (a) => ['completed', 'failed'].includes((a.body as { pipeline_run?: { status: string } }).pipeline_run?.status ?? ''),
  },
  { name: 'runs of the pipeline', ...get('/api/pipeline_runs?pipeline_uuid=diff_pipe') },
  {
    name: 'block runs of the run',
    method: 'GET',
    path: (s) => `/api/block_runs?pipeline_run_id=${s.vars.runId}`,
    keep: (a, s) => {
      for (const b of (a.body as { block_runs?: Array<{ id: number; block_uuid: string }> }).block_runs ?? []) s.vars[`blockRun:${b.block_uuid}`] = b.id;
    },
  },
  // The same pipeline ran in both: the outputs each block run stored must be the same values.
  { name: 'outputs of the loader run', method: 'GET', path: (s) => `/api/block_runs/${s.vars['blockRun:load']}/outputs` },
  { name: 'outputs of the transformer run', method: 'GET', path: (s) => `/api/block_runs/${s.vars['blockRun:double']}/outputs` },
  { name: 'block runs of the pipeline', ...get('/api/block_runs?pipeline_uuid=diff_pipe') },
  { name: 'blocks of the pipeline', ...get('/api/pipelines/diff_pipe/blocks') },
  { name: 'all triggers', ...get('/api/pipeline_schedules') },
  {
    name: 'logs of the run',
    method: 'GET',
    path: (s) => `/api/pipelines/diff_pipe/logs?pipeline_run_id[]=${s.vars.runId}`,
    // The lines' text differs by nature (each server logs its own steps): compare the keys every line carries.
    normalize: (body) => {
      const logs = (body as { logs?: Array<Record<string, Array<{ content?: string }>>> }).logs ?? [];
      for (const entry of logs) {
        for (const file of [...(entry.block_run_logs ?? []), ...(entry.pipeline_run_logs ?? [])]) {
          const keys = (file.content ?? '')
            .split('\n')
            .filter((l) => l.includes('{'))
            .map((l) => Object.keys(JSON.parse(l.slice(l.indexOf('{'))) as object));
          // The keys on every line, as an object: a key Mage has and we lack is then a missing_key.
          const common = keys.length ? keys.reduce((a, b) => a.filter((k) => b.includes(k))) : [];
          (file as { content?: unknown }).content = Object.fromEntries(common.map((k) => [k, true]));
        }
      }
      return body;
    },
  },
  // Mage Pro's synchronous block run; Mage 0.9.80 (open source) has no such route.
  {
    name: 'run a block synchronously (/api/runs)',
    method: 'POST',
    path: (s) => `/api/runs/${s.vars.triggerToken}`,
    body: () => ({ run: { pipeline_uuid: 'diff_pipe', block_uuid: 'double', run_upstream_blocks: true, record: false } }),
    check: (ours) => {
      assert.equal(ours.status, 200, JSON.stringify(ours.body));
      assert.match(JSON.stringify((ours.body as { run?: unknown }).run), /10.*20.*30/);
    },
  },
  // Bad input: a clear error, the same class of status as Mage's.
  { name: 'run not found', ...get('/api/pipeline_runs/999999') },
  { name: 'block run outputs not found', ...get('/api/block_runs/999999/outputs') },
  { name: 'trigger not found', ...get('/api/pipeline_schedules/999999') },
  { name: 'file outside the project', ...get('/api/file_contents/..%2F..%2Fetc%2Fpasswd') },
  { name: 'create pipeline without a name', method: 'POST', path: () => '/api/pipelines', body: () => ({ pipeline: { type: 'python' } }) },
  { name: 'create pipeline from malformed JSON', method: 'POST', path: () => '/api/pipelines', rawBody: '{"pipeline": {"name": ' },
  { name: 'add block of an unknown type', method: 'POST', path: () => '/api/pipelines/diff_pipe/blocks', body: () => ({ block: { name: 'odd', type: 'no_such_type', language: 'python' } }) },
  { name: 'add block to a missing pipeline', method: 'POST', path: () => '/api/pipelines/no_such_pipeline/blocks', body: () => ({ block: { name: 'x', type: 'data_loader', language: 'python' } }) },
  { name: 'delete a missing secret', method: 'DELETE', path: () => '/api/secrets/no_such_secret' },
  { name: 'rename pipeline', method: 'PUT', path: () => '/api/pipelines/diff_pipe', body: () => ({ pipeline: { name: 'diff pipe two' } }) },
  { name: 'renamed pipeline', ...get('/api/pipelines/diff_pipe_two') },
  { name: 'delete block with downstream', method: 'DELETE', path: () => '/api/pipelines/diff_pipe_two/blocks/load' },
  { name: 'delete secret', method: 'DELETE', path: () => '/api/secrets/diff_secret' },
  { name: 'delete pipeline', method: 'DELETE', path: () => '/api/pipelines/diff_pipe_two' },
  { name: 'deleted pipeline', ...get('/api/pipelines/diff_pipe_two') },
];

describe(`Blockflow answers as Mage ${'0.9.80'} does`, { skip: process.env.BLOCKFLOW_SKIP_MAGE_DIFF === '1' ? 'BLOCKFLOW_SKIP_MAGE_DIFF=1' : false }, () => {
  let base: string;
  let mage: RunningMage;
  let ours: RunningServer;
  let sides: [Side, Side];

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'blockflow-mage-diff-'));
    cpSync(FIXTURE, join(base, 'mage', 'etl'), { recursive: true });
    cpSync(FIXTURE, join(base, 'blockflow', 'etl'), { recursive: true });
    mage = await startMage(join(base, 'mage', 'etl'), join(base, 'mage-data'));
    ours = await startServer({
      projectDir: join(base, 'blockflow', 'etl'),
      port: 0,
      host: '127.0.0.1',
      logger: false,
      env: {
        ...process.env,
        MAGE_DATA_DIR: join(base, 'blockflow-data'),
        MAGE_DATABASE_CONNECTION_URL: '',
        DATABASE_URL: '',
        DEFAULT_OWNER_EMAIL: MAGE_OWNER.email,
        DEFAULT_OWNER_PASSWORD: MAGE_OWNER.password,
      },
    });
    const login = await fetch(`${ours.url}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ session: MAGE_OWNER }),
    });
    const jwt = ((await login.json()) as { session: { token: string } }).session.token;
    const ourToken = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')).token as string;
    sides = [
      { name: 'mage', url: mage.url, folders: [[join(base, 'mage-data'), '<DATA>'], [join(base, 'mage', 'etl'), '<PROJECT>']], headers: { 'x-api-key': MAGE_API_KEY, authorization: `Bearer ${mage.token}` }, vars: {} },
      { name: 'blockflow', url: ours.url, folders: [[join(base, 'blockflow-data'), '<DATA>'], [join(base, 'blockflow', 'etl'), '<PROJECT>']], headers: { 'x-api-key': MAGE_API_KEY, authorization: `Bearer ${ourToken}` }, vars: {} },
    ];
  });
  after(async () => {
    await ours?.close();
    await mage?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  for (const step of STEPS) {
    test(step.name, async () => {
      const [m, o] = [await sendUntil(sides[0], step), await sendUntil(sides[1], step)];
      step.check?.(o);
      if (step.normalize) [m.body, o.body] = [step.normalize(m.body), step.normalize(o.body)];
      step.keep?.(m, sides[0]);
      step.keep?.(o, sides[1]);
      const [ms, os] = [effectiveStatus(m), effectiveStatus(o)];
      const diffs = [
        // Error codes may differ (documented below); success where the other fails never may.
        ...(ms >= 400 !== os >= 400 ? [{ path: '$.outcome', kind: 'status' as const, mage: ms, ours: os }] : []),
        ...(ms === os ? [] : [{ path: '$', kind: 'status' as const, mage: ms, ours: os }]),
        ...diffValues(m.body, o.body),
      ];
      const left = unexplained(step.name, diffs, INTENDED);
      // A report of every difference left, one JSON line per request, for working through them.
      if (process.env.BLOCKFLOW_MAGE_DIFF_REPORT && left.length > 0) {
        appendFileSync(process.env.BLOCKFLOW_MAGE_DIFF_REPORT, `${JSON.stringify({ step: step.name, mageStatus: m.status, ourStatus: o.status, left })}\n`);
      }
      assert.deepEqual(left, [], `${step.method} ${step.path(sides[1])}: differences from Mage not documented:\n${JSON.stringify(left, null, 1).slice(0, 4000)}`);
    });
  }
});
