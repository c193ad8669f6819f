/**
 * The scheduler's figures (`npm run bench:scheduler`), each beside a baseline measured in the same run:
 *
 * 1. API trigger → first block start. A server (SQLite, authentication off, runtimes warm) with an `api`
 *    trigger on a one-block TypeScript pipeline; each sample sends `POST /api/pipeline_schedules/{id}/
 *    pipeline_runs/{token}` and measures until the engine moves the run's first block run to `running` (the
 *    block's code is handed to the runtime right after). Samples are taken one at a time on an idle server
 *    (each run finishes before the next request). Baseline: the round trip of a bare `node:http` handler
 *    answering JSON on the same loopback, interleaved with the samples.
 * 2. 10,000 active cron triggers. A scheduler process alone with 10,000 active time triggers
 *    (`<i mod 60> * * * *`, so about 167 fall due each minute) on SQLite, pipelines without runnable blocks so
 *    the figures are the scheduler's; its CPU time (user + system) over a window after warm-up, per minute.
 *    Baseline: an idle Node.js process's CPU time over the same window. Delay: for every run of the window,
 *    `started_at - execution_date` (due time to start), p99; baseline: how late an idle Node.js process's
 *    timers fire when set for the same due times.
 *
 * Environment: BENCH_SCHED_SAMPLES (API samples, default 150), BENCH_SCHED_TRIGGERS (default 10000),
 * BENCH_SCHED_WINDOW_MS (default 60000), BENCH_SCHED_WARMUP_MS (default 8000).
 */
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { buildProject, usePreparedPython } from '../test/engine/projectBuilder.js';
import { startServer } from '../src/server/server.js';
import { openStore } from '../src/store/db.js';
import { nowDbTime, fromDbTime } from '../src/store/time.js';
import type { Engine, EngineEvent } from '../src/engine/engine.js';

const SAMPLES = Number(process.env.BENCH_SCHED_SAMPLES ?? 150);
const TRIGGERS = Number(process.env.BENCH_SCHED_TRIGGERS ?? 10_000);
const WINDOW_MS = Number(process.env.BENCH_SCHED_WINDOW_MS ?? 60_000);
const WARMUP_MS = Number(process.env.BENCH_SCHED_WARMUP_MS ?? 8000);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const f = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));

async function apiTriggerLatency(): Promise<{ trigger: number[]; bare: number[] }> {
  const projectDir = buildProject({
    hook: { blocks: [{ uuid: 'first', type: 'data_loader', language: 'typescript', code: 'export default async function first() {\n  return 1;\n}\n' }] },
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-sched-'));
  const server = await startServer({
    projectDir,
    port: 0,
    host: '127.0.0.1',
    logger: false,
    env: { ...process.env, REQUIRE_USER_AUTHENTICATION: '0', MAGE_DATA_DIR: dataDir, MAGE_DATABASE_CONNECTION_URL: '', DATABASE_URL: '' },
  });
  const bare = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
  const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/`;
  const engine = server.ctx.services.engine as Engine;
  const created = await fetch(`${server.url}/api/pipelines/hook/pipeline_schedules`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pipeline_schedule: { name: 'bench', schedule_type: 'api', status: 'active' } }),
  }).then((r) => r.json() as Promise<any>);
  const { id, token } = created.pipeline_schedule;
  const firstBlock = new Map<number, number>();
  engine.on('event', (e: EngineEvent) => {
    if (e.type === 'block' && e.status === 'running' && !firstBlock.has(e.runId)) firstBlock.set(e.runId, performance.now());
  });
  const trigger: number[] = [];
  const bareTimes: number[] = [];
  for (let i = 0; i < SAMPLES + 10; i++) {
    const b0 = performance.now();
    await (await fetch(bareUrl, { method: 'POST', body: '{}' })).text();
    const b1 = performance.now();
    const t0 = performance.now();
    const res = await fetch(`${server.url}/api/pipeline_schedules/${id}/pipeline_runs/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pipeline_run: { variables: { i } } }),
    });
    const body = (await res.json()) as any;
    if (res.status !== 200) throw new Error(`API trigger answered ${res.status}: ${JSON.stringify(body)}`);
    const runId = body.pipeline_run.id as number;
    await engine.waitForRun(runId);
    const started = firstBlock.get(runId);
    if (started === undefined) throw new Error(`run ${runId} had no block start`);
    if (i >= 10) {
      trigger.push(started - t0);
      bareTimes.push(b1 - b0);
    }
  }
  bare.close();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  return { trigger, bare: bareTimes };
}

function runChild(args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BLOCKFLOW_WARM_RUNTIMES: '0', MAGE_DATA_DIR: '' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`child exited ${code} without a result: ${out}`));
      }
    });
  });
}

/** An idle Node.js process: CPU over the window, and how late timers set for each minute's due time fire. */
const IDLE_CHILD = `
const [warmup, win] = process.argv.slice(1).map(Number);
setTimeout(() => {
  const before = process.cpuUsage();
  const start = Date.now();
  const late = [];
  for (let t = Math.ceil(start / 60000) * 60000; t < start + win; t += 60000) {
    for (let k = 0; k < 167; k++) setTimeout(() => late.push(Date.now() - t), t - Date.now());
  }
  setTimeout(() => {
    const u = process.cpuUsage(before);
    process.stdout.write(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, windowMs: Date.now() - start, late }) + '\\n');
  }, win);
}, warmup);
`;

async function cronTriggers() {
  const projectDir = buildProject({
    cron_a: { blocks: [] },
    cron_b: { blocks: [] },
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-sched-cron-'));
  const url = `sqlite://${join(dir, 'mage-ai.db')}`;
  const store = await openStore({ url });
  const now = nowDbTime();
  const rows = Array.from({ length: TRIGGERS }, (_, i) => ({
    name: `cron_${i}`,
    pipeline_uuid: i % 2 ? 'cron_a' : 'cron_b',
    schedule_type: 'time',
    schedule_interval: `${i % 60} * * * *`,
    status: 'active',
    last_enabled_at: now,
    variables: '{}',
    settings: '{}',
    created_at: now,
    updated_at: now,
  }));
  for (let i = 0; i < rows.length; i += 500) await store.db.insertInto('pipeline_schedule').values(rows.slice(i, i + 500)).execute();
  await store.close();
  const [sched, idle] = await Promise.all([
    runChild(['--import', 'tsx', join(ROOT, 'bench/schedulerCronChild.ts'), projectDir, url, String(WARMUP_MS), String(WINDOW_MS)]),
    runChild(['-e', IDLE_CHILD, String(WARMUP_MS + 2000), String(WINDOW_MS)]),
  ]);
  const check = await openStore({ url });
  const runs = await check.db
    .selectFrom('pipeline_run')
    .select(['execution_date', 'started_at'])
    .where('created_at', '>=', new Date(sched.wallStart).toISOString().replace('T', ' ').replace('Z', '000+00:00'))
    .where('created_at', '<=', new Date(sched.wallEnd).toISOString().replace('T', ' ').replace('Z', '000+00:00'))
    .execute();
  await check.close();
  rmSync(dir, { recursive: true, force: true });
  const delays = runs.filter((r) => r.started_at && r.execution_date).map((r) => fromDbTime(r.started_at!).getTime() - fromDbTime(r.execution_date!).getTime());
  return { sched, idle, delays };
}

// The server warms every runtime at boot; the prepared venv keeps it from building one per project.
usePreparedPython();
const cpu = cpus()[0]?.model ?? 'unknown';
console.log(`Scheduler benchmark: ${cpus().length} cores (${cpu}), Node.js ${process.version}`);
const api = await apiTriggerLatency();
console.log(`API trigger samples: ${api.trigger.length}`);
const cron = await cronTriggers();
const perMinute = (ms: number, windowMs: number) => (ms * 60_000) / windowMs;
const lines = [
  '| Figure | Blockflow | Baseline (same run) |',
  '|---|---|---|',
  `| API trigger → first block start, p50 | ${f(pct(api.trigger, 50))} ms | bare HTTP round trip ${f(pct(api.bare, 50))} ms |`,
  `| API trigger → first block start, p99 | ${f(pct(api.trigger, 99))} ms | bare HTTP round trip ${f(pct(api.bare, 99))} ms |`,
  `| ${TRIGGERS.toLocaleString('en-US')} active cron triggers: scheduler process CPU per minute | ${f(perMinute(cron.sched.cpuMs, cron.sched.windowMs))} ms | idle Node.js process ${f(perMinute(cron.idle.cpuMs, cron.idle.windowMs))} ms |`,
  `| due time → run start, p99 (${cron.delays.length} runs in ${Math.round(cron.sched.windowMs / 1000)} s) | ${cron.delays.length ? f(pct(cron.delays, 99)) + ' ms' : 'no run fell due'} | idle Node.js timer lateness ${cron.idle.late.length ? f(pct(cron.idle.late, 99)) + ' ms' : 'n/a'} |`,
  `| due time → run start, p50 | ${cron.delays.length ? f(pct(cron.delays, 50)) + ' ms' : 'n/a'} | idle Node.js timer lateness ${cron.idle.late.length ? f(pct(cron.idle.late, 50)) + ' ms' : 'n/a'} |`,
];
console.log(lines.join('\n'));
