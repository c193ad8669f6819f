/**
 * Real Mage for the differential suite: mage-ai 0.9.80 from PyPI in a cached virtual environment, started on a
 * copy of a fixture project with its own data folder and a free port, signed in as Mage's default owner.
 *
 * The venv lives in `$BLOCKFLOW_MAGE_VENV`, default `~/.cache/blockflow/mage-ai-0.9.80`, so every checkout on a
 * machine (CI's fresh clones too) installs it once; a stamp file marks a finished install.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The Mage release the suite compares against. */
export const MAGE_VERSION = '0.9.80';
/** Mage's constant OAuth client id, sent as the API key on every request (mage-api.md §2.2). */
export const MAGE_API_KEY = 'zkWlN0PkIKSN0C11CfUHUj84OT5XOJ6tDZ6bDRO2';
/** Mage's default owner (DEFAULT_OWNER_EMAIL / _PASSWORD defaults). */
export const MAGE_OWNER = { email: 'admin@admin.com', password: 'admin' };

function venvDir(): string {
  return process.env.BLOCKFLOW_MAGE_VENV ?? join(process.env.HOME || homedir(), '.cache', 'blockflow', `mage-ai-${MAGE_VERSION}`);
}

function basePython(): string {
  for (const candidate of [process.env.BLOCKFLOW_BASE_PYTHON, '/root/.pyenv/versions/3.11.7/bin/python3', 'python3']) {
    if (!candidate) continue;
    const r = spawnSync(candidate, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim();
  }
  throw new Error('No Python 3 interpreter found for the Mage venv.');
}

/** The venv's python, installing mage-ai on first use (progress goes to stderr). */
export function ensureMageVenv(): string {
  const dir = venvDir();
  const python = join(dir, 'bin', 'python');
  const stamp = join(dir, '.blockflow-stamp');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === MAGE_VERSION) return python;
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`[mage-diff] installing mage-ai==${MAGE_VERSION} into ${dir} (first run only, a few minutes)\n`);
  if (!existsSync(python) && spawnSync(basePython(), ['-m', 'venv', dir], { stdio: 'inherit' }).status !== 0) {
    throw new Error('python -m venv failed');
  }
  // pip's resolver backtracks for a long time over mage-ai's many pins (an hour was not enough here); uv resolves
  // the same requirements in under a minute, so pip only installs uv into the venv.
  const uvInstall = spawnSync(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', 'uv'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (uvInstall.status !== 0) throw new Error('pip install uv failed');
  const uv = spawnSync(join(dir, 'bin', 'uv'), ['pip', 'install', '--python', python, `mage-ai==${MAGE_VERSION}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (uv.status !== 0) throw new Error(`uv pip install mage-ai==${MAGE_VERSION} failed`);
  writeFileSync(stamp, MAGE_VERSION);
  return python;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RunningMage {
  url: string;
  /** The raw access token of the owner (what `Authorization: Bearer` carries). */
  token: string;
  stop(): Promise<void>;
}

async function waitForStatus(url: string, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`mage exited with ${child.exitCode} before answering:\n${log()}`);
    try {
      const res = await fetch(`${url}/api/status`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`mage did not answer /api/status within ${timeoutMs} ms:\n${log()}`);
}

/** Starts `mage start <projectDir>` on a free loopback port and signs the owner in. */
export async function startMage(projectDir: string, dataDir: string): Promise<RunningMage> {
  const python = ensureMageVenv();
  const port = await freePort();
  let output = '';
  const child = spawn(python, ['-m', 'mage_ai.cli.main', 'start', projectDir, '--host', '127.0.0.1', '--port', String(port)], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? homedir(),
      MAGE_DATA_DIR: dataDir,
      REQUIRE_USER_AUTHENTICATION: '1',
      ENV: 'dev',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, 5_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForStatus(url, child, () => output, 120_000);
    const res = await fetch(`${url}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': MAGE_API_KEY },
      body: JSON.stringify({ session: MAGE_OWNER }),
    });
    const body = (await res.json()) as { session?: { token: string } };
    if (!body.session) throw new Error(`mage sign-in failed: ${JSON.stringify(body)}`);
    const jwt = body.session.token;
    const token = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')).token as string;
    return { url, token, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
