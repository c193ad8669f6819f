/** Shared pieces of the control-plane tests: a control plane on loopback with fast timings, and an HTTP client. */
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startCloudServer, type CloudServer, type CloudServerOptions } from '../../src/cloud/server.js';
import type { ReplicaCommand } from '../../src/cloud/providers/local/localProvider.js';

export const FIXTURE_REPLICA = new URL('./fixtures/replicaServer.mjs', import.meta.url).pathname;
export const API_KEY = 'test-client-key-0123456789';
export const PASSWORD = 'correct horse battery';

export function fixtureReplicaCommand(port: number, projectDir: string): ReplicaCommand {
  return { cmd: process.execPath, args: [FIXTURE_REPLICA, projectDir, '--port', String(port)] };
}

/** Timings for tests: quick ticks, short grace periods and backoffs. */
export const FAST_LOCAL = {
  tickMs: 50,
  probeTimeoutMs: 1000,
  gracePeriodMs: 1500,
  backoffBaseMs: 200,
  backoffMaxMs: 1000,
  backoffResetMs: 60_000,
  startTimeoutMs: 30_000,
  replicaCommand: fixtureReplicaCommand,
  prepareProject: async (dir: string) => void mkdirSync(dir, { recursive: true }),
};

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export const TEAM_A = 'teamaaaaaaaaaaaa';
export const TEAM_B = 'teambbbbbbbbbbbb';

/** A control plane with two users in two teams (alice owns A, bob owns B, vera views A, mike is a member of A). */
export async function startTestCloud(dataDir: string, extra: Partial<CloudServerOptions> = {}): Promise<CloudServer> {
  return startCloudServer({
    port: 0,
    dataDir,
    apiKeys: [API_KEY],
    passwordCost: 1024,
    reconcileIntervalMs: 100,
    masterKey: randomBytes(32).toString('base64'),
    bootstrap: {
      users: ['alice@example.com', 'bob@example.com', 'vera@example.com', 'mike@example.com'].map((email) => ({ email, password: PASSWORD })),
      teams: [
        { id: TEAM_A, name: 'Team A', members: [{ email: 'alice@example.com', role: 'owner' }, { email: 'vera@example.com', role: 'viewer' }, { email: 'mike@example.com', role: 'member' }] },
        { id: TEAM_B, name: 'Team B', members: [{ email: 'bob@example.com', role: 'owner' }] },
      ],
    },
    ...extra,
    local: { ...FAST_LOCAL, ...extra.local },
  });
}

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A tiny client: JSON in, JSON out, with the API key and (when given) the session token. */
export class Client {
  constructor(readonly base: string, public token?: string, readonly apiKey = API_KEY) {}

  async call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
    const res = await fetch(this.base + path, {
      method,
      headers: {
        'content-type': 'application/json',
        'x-api-key': this.apiKey,
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  }

  async login(email: string, password = PASSWORD): Promise<this> {
    const res = await this.call('POST', '/api/v1/sessions', { session: { email, password } });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
    this.token = res.body.session.token;
    return this;
  }
}

export async function signedIn(server: CloudServer, email: string): Promise<Client> {
  return new Client(server.url).login(email);
}

/** Polls until `check` returns a value (not undefined); gives up after `timeoutMs` with the last value seen. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Waits until the cluster's observed status is `status` (and, for Active, made against the current version). */
export async function waitForObserved(client: Client, teamId: string, clusterId: string, status: string, timeoutMs = 30_000): Promise<any> {
  let seen: unknown;
  try {
    return await waitFor(`cluster ${clusterId} to be ${status}`, async () => {
      const res = await client.call('GET', `/api/v1/teams/${teamId}/clusters/${clusterId}`);
      const c = res.body.cluster;
      seen = c?.observed;
      return c && c.observed.status === status && c.observed.version === c.version ? c : undefined;
    }, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last observed ${JSON.stringify(seen)}`);
  }
}

/** GET /api/status of a cluster's stable URL. */
export async function clusterStatus(url: string): Promise<any> {
  const res = await fetch(`${url}/api/status`);
  if (!res.ok) throw new Error(`status ${res.status}`);
  return res.json();
}
