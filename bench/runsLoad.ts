/**
 * The load generator of the /api/runs benchmark, run as its own process (`node --import tsx bench/runsLoad.ts
 * '<json>'`): autocannon against one URL, with every response time kept at full (sub-millisecond) resolution,
 * since autocannon's own histogram rounds to whole milliseconds. Prints one JSON line:
 * `{p50, p99, mean, rps, requests, non2xx, errors}` (times in ms).
 */
import { createRequire } from 'node:module';

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
}
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void): void;
}
type Autocannon = (options: Record<string, unknown>, done: (err: Error | null, result: AutocannonResult) => void) => AutocannonInstance;
// autocannon ships no type declarations.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

/** What to run, passed as the first argument (JSON). */
export interface LoadSpec {
  url: string;
  /** JSON request body (sent as application/json). */
  body: string;
  headers?: Record<string, string>;
  connections: number;
  /** Seconds of warm-up at the same concurrency, not measured. */
  warmupSeconds: number;
  /** Seconds measured. */
  durationSeconds: number;
}

export interface LoadResult {
  p50: number;
  p99: number;
  mean: number;
  rps: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** First non-2xx status seen, to explain a failed cell. */
  firstBadStatus: number | null;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

function run(spec: LoadSpec, seconds: number): Promise<LoadResult> {
  const times: number[] = [];
  let non2xx = 0;
  let firstBadStatus: number | null = null;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(spec.headers ?? {}) },
        body: spec.body,
        connections: spec.connections,
        duration: seconds,
      },
      (err, result) => {
        if (err) return reject(err);
        times.sort((a, b) => a - b);
        const seconds = result.duration || spec.durationSeconds;
        resolve({
          p50: percentile(times, 50),
          p99: percentile(times, 99),
          mean: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length),
          rps: times.length / seconds,
          requests: times.length,
          non2xx,
          errors: result.errors + result.timeouts,
          firstBadStatus,
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) times.push(responseTime);
      else {
        non2xx++;
        firstBadStatus ??= statusCode;
      }
    });
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  if (spec.warmupSeconds > 0) await run(spec, spec.warmupSeconds);
  const result = await run(spec, spec.durationSeconds);
  process.stdout.write(JSON.stringify(result) + '\n');
}

await main();
