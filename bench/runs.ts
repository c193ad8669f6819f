/**
 * Benchmark of the synchronous block run (`npm run bench:runs`). A real server (SQLite, then PostgreSQL) runs in
 * this process with two baselines beside it, a bare node:http handler and a bare Fastify handler, both
 * answering the same small JSON; a separate load-generator process (bench/runsLoad.ts, autocannon) drives
 * each over loopback at concurrency 1 and 32. Prints a Markdown table with p50, p99 and requests per second.
 *
 * Environment:
 * - BENCH_DURATION: measured seconds per cell (default 5); BENCH_WARMUP: warm-up seconds (default 2).
 * - BENCH_DIALECTS: comma list of `sqlite`, `postgres` (default both). PostgreSQL is the local server
 *   (BLOCKFLOW_TEST_PG_URL to change it); a fresh database is created and dropped.
 * - BENCH_SOURCE=1: run the server from src/ under tsx instead of a compiled build (bench/runsBuild.ts).
 * - BLOCKFLOW_PYTHON / BLOCKFLOW_SKIP_VENV: the Python for Python blocks; default the prepared test venv.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { hashToken } from '../src/auth/tokens.js';
import type { StartServerOptions, RunningServer } from '../src/server/server.js';
import { createFreshPgDatabase } from '../test/helpers/pg.js';
import { makeRunsProject, removeRunsProject } from './runsProject.js';
import { buildForBench } from './runsBuild.js';
import type { LoadResult, LoadSpec } from './runsLoad.js';

type Dialect = 'sqlite' | 'postgres';

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const DIALECTS = (process.env.BENCH_DIALECTS ?? 'sqlite,postgres').split(',').map((d) => d.trim()).filter(Boolean) as Dialect[];
const CONCURRENCY = [1, 32];
/** Pause after each load run, for cancelled blocks' workers to be replaced. */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 1500);
const LOAD_SCRIPT = fileURLToPath(new URL('./runsLoad.ts', import.meta.url));
const SMALL_DICT = JSON.stringify({ run: { output: [{ id: null, score: 0.87 }] } });

interface Cell {
  target: string;
  dialect: string;
  connections: number;
  result: LoadResult;
}

function load(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', LOAD_SCRIPT, JSON.stringify(spec)], { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`load generator failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop() as string) as LoadResult);
    });
  });
}

/** A bare node:http handler: reads the JSON body, parses it, answers the same small JSON as the blocks. */
async function startBareHttp(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(SMALL_DICT) });
      res.end(SMALL_DICT);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A bare Fastify handler with the same JSON body parsing and answer. */
async function startBareFastify(): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify({ logger: false });
  app.post('/', async (_request, reply) => reply.header('content-type', 'application/json; charset=utf-8').send(SMALL_DICT));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => app.close() };
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Warm-up and measurement are two load-generator runs with a pause between: when autocannon stops it drops
 * the connections with requests in flight, which cancels those blocks (their workers are replaced), and the
 * replacement must not be timed.
 */
async function measure(cells: Cell[], target: string, dialect: string, url: string, body: unknown): Promise<void> {
  for (const connections of CONCURRENCY) {
    if (WARMUP > 0) await load({ url, body: JSON.stringify(body), connections, warmupSeconds: 0, durationSeconds: WARMUP });
    await sleep(SETTLE_MS);
    const result = await load({ url, body: JSON.stringify(body), connections, warmupSeconds: 0, durationSeconds: DURATION });
    await sleep(SETTLE_MS);
    cells.push({ target, dialect, connections, result });
    const bad = result.non2xx || result.errors ? ` (non-2xx ${result.non2xx}, first ${result.firstBadStatus}; errors ${result.errors})` : '';
    process.stderr.write(`  ${target} [${dialect}] c=${connections}: p50 ${fmt(result.p50)} ms, p99 ${fmt(result.p99)} ms, ${fmt(result.rps, 0)} req/s${bad}\n`);
  }
}

const FROM_SOURCE = process.env.BENCH_SOURCE === '1';

interface BenchServer {
  server: RunningServer;
  url: string;
  close(): Promise<void>;
}

/** A production-like server (authentication on, scheduler running, logger off) on a copy of the project. */
async function startBenchServer(dialect: Dialect, fixture: string, start: (options: StartServerOptions) => Promise<RunningServer>): Promise<BenchServer> {
  const base = mkdtempSync(join(tmpdir(), 'blockflow-bench-'));
  const projectDir = join(base, 'project');
  cpSync(fixture, projectDir, { recursive: true });
  const pg = dialect === 'postgres' ? await createFreshPgDatabase() : undefined;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MAGE_DATA_DIR: join(base, 'data'),
    DEFAULT_OWNER_EMAIL: 'owner@example.com',
    DEFAULT_OWNER_PASSWORD: 'owner-password-1',
    MAGE_DATABASE_CONNECTION_URL: pg?.url ?? '',
  };
  delete env.DATABASE_URL;
  const server = await start({ projectDir, port: 0, host: '127.0.0.1', env, logger: false });
  return {
    server,
    url: server.url,
    async close() {
      await server.close();
      await pg?.drop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  if (!process.env.BLOCKFLOW_PYTHON) {
    // The test runner's venv (pandas, pyarrow), prepared on first use; a JavaScript module without types.
    const helper = '../scripts/prepare-test-env.mjs';
    const { prepareTestEnv } = (await import(helper)) as { prepareTestEnv(): string };
    process.env.BLOCKFLOW_PYTHON = prepareTestEnv();
  }
  process.env.BLOCKFLOW_SKIP_VENV ??= '1';
  let start: (options: StartServerOptions) => Promise<RunningServer>;
  let build: string | null = null;
  if (FROM_SOURCE) {
    start = (await import('../src/server/server.js')).startServer;
  } else {
    process.stderr.write('[bench:runs] compiling src/ for the benchmark...\n');
    build = buildForBench();
    start = (await import(pathToFileURL(join(build, 'dist', 'server', 'server.js')).href)).startServer;
  }
  const cells: Cell[] = [];
  const fixture = makeRunsProject('bench');
  const loadBefore = loadavg();
  const baselineBody = JSON.stringify({ run: { pipeline_uuid: 'ts_score', block_uuid: 'ts_score', record: false, store_variables: false } });
  process.stderr.write('[bench:runs] baselines\n');
  const bareHttp = await startBareHttp();
  const bareFastify = await startBareFastify();
  try {
    await measure(cells, 'bare node:http handler', '—', bareHttp.url, JSON.parse(baselineBody));
    await measure(cells, 'bare Fastify handler', '—', bareFastify.url, JSON.parse(baselineBody));
  } finally {
    await bareHttp.close();
    await bareFastify.close();
  }
  for (const dialect of DIALECTS) {
    process.stderr.write(`[bench:runs] ${dialect}\n`);
    const t = await startBenchServer(dialect, fixture, start);
    try {
      const tokens: Record<string, string> = {};
      for (const pipeline of ['ts_score', 'py_score']) {
        tokens[pipeline] = `bench_${pipeline}_${'0'.repeat(16)}`;
        await t.server.ctx.store.schedules.create({ name: `bench ${pipeline}`, pipeline_uuid: pipeline, schedule_type: 'api', token_hash: hashToken(tokens[pipeline]), status: 'active' });
      }
      const runUrl = (pipeline: string) => `${t.url}/api/runs/${tokens[pipeline]}`;
      const body = (pipeline: string, record: boolean, storeVariables = false) => ({
        run: { pipeline_uuid: pipeline, block_uuid: pipeline, record, store_variables: storeVariables },
      });
      // First calls start the runtimes' code paths; their answers must be right before anything is timed.
      for (const pipeline of ['ts_score', 'py_score']) {
        const res = await fetch(runUrl(pipeline), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body(pipeline, false)) });
        const text = await res.text();
        if (res.status !== 200 || text !== SMALL_DICT) throw new Error(`${pipeline} answered ${res.status} ${text}`);
      }
      await measure(cells, 'TypeScript block, record: false', dialect, runUrl('ts_score'), body('ts_score', false));
      await measure(cells, 'TypeScript block, record: true', dialect, runUrl('ts_score'), body('ts_score', true));
      await measure(cells, 'Python block, record: false', dialect, runUrl('py_score'), body('py_score', false));
      await measure(cells, 'Python block, record: true', dialect, runUrl('py_score'), body('py_score', true));
      const runs = await t.server.ctx.store.pipelineRuns.list({ limit: 1 });
      process.stderr.write(`  runs recorded in the database: ${runs.count}\n`);
    } finally {
      await t.close();
    }
  }
  removeRunsProject(fixture);
  if (build) rmSync(build, { recursive: true, force: true });
  printTable(cells, loadBefore, loadavg());
}

function printTable(cells: Cell[], loadBefore: number[], loadAfter: number[]): void {
  const base = (connections: number) => cells.find((c) => c.target === 'bare node:http handler' && c.connections === connections);
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  const lines = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; server ${FROM_SOURCE ? 'from src/ under tsx' : 'compiled (as `npm run build`)'}. ${DURATION} s measured after ${WARMUP} s warm-up per cell; load from a separate autocannon process over loopback. Response times in ms; "Δ p50" is the p50 minus the bare node:http handler's p50 at the same concurrency. Load average before / after: ${load(loadBefore)} / ${load(loadAfter)} (the machine is shared; other work inflates the figures).`,
    '',
    '| Target | DB | Concurrency | p50 (ms) | p99 (ms) | Δ p50 (ms) | Requests/s |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const c of cells) {
    const b = base(c.connections);
    const delta = b && !c.target.startsWith('bare node:http') ? fmt(c.result.p50 - b.result.p50) : '—';
    lines.push(`| ${c.target} | ${c.dialect} | ${c.connections} | ${fmt(c.result.p50)} | ${fmt(c.result.p99)} | ${delta} | ${fmt(c.result.rps, 0)} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
