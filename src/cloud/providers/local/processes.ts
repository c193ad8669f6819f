/** Low-level process handling for local replicas: free ports, liveness, identity, process-group signals. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import http from 'node:http';

/** A port that was free a moment ago (listen on 0, read it, close). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True when process `pid` carries `marker` (NAME=value) in its environment, so a PID reused by an unrelated
 * process is never adopted or killed. Where /proc is missing (not Linux) it answers `fallback`.
 */
export function hasEnvMarker(pid: number, marker: string, fallback: boolean): boolean {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return process.platform === 'linux' ? false : fallback;
  }
  return environ.split('\0').includes(marker);
}

/** Signals the whole process group led by `pid` (replicas are spawned detached, as group leaders). */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Resolves once `pid` is gone (polling: adopted processes are not our children, so no exit event). */
export async function waitForExit(pid: number, timeoutMs: number, exited?: Promise<unknown>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let done = false;
  exited?.then(() => (done = true));
  while (Date.now() < deadline) {
    if (done || !isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return done || !isAlive(pid);
}

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** GET http://127.0.0.1:port/api/status with a timeout; ok on a 2xx answer. */
export function probeStatus(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/api/status', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300, detail: `HTTP ${res.statusCode}` }));
      res.on('error', (err) => resolve({ ok: false, detail: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, detail: err.message }));
  });
}
