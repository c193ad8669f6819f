/**
 * Shared pieces of the HTTP resource tests: a server on a copy of the Mage fixture project, users of each role,
 * requests with a verbatim path (fetch normalises `..` and `%2e%2e` segments away before sending), and the
 * assertion that an answer is Mage's error envelope with the expected status and a message naming the problem.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type Dialect, type TestServer, type TestServerOptions } from '../helpers/server.js';

/** The hand-built Mage project (pipeline `etl_demo`: block1 -> block2, block3 -> block4). */
export const MAGE_FIXTURE = fileURLToPath(new URL('../fixtures/mage_project', import.meta.url));

/**
 * Starts a server for resource tests. These tests run no blocks, so runtimes are not warmed at boot and the
 * scheduler loop is off. The
 * project's data dir is a fresh temp folder through MAGE_DATA_DIR in this process's environment: startServer
 * loads the project with process.env, so without it the fixture's `variables_dir: ~/.mage_data` would put
 * the SQLite database and outputs in the home folder, shared by every run.
 */
export async function startApiServer(dialect: Dialect, options: Omit<TestServerOptions, 'dialect'> = {}): Promise<TestServer> {
  process.env.BLOCKFLOW_WARM_RUNTIMES = '0';
  const dataDir = mkdtempSync(join(tmpdir(), 'blockflow-api-data-'));
  process.env.MAGE_DATA_DIR = dataDir;
  // web_server: no time-trigger loop, so the fixture's triggers.yaml starts no runs behind the tests' backs.
  const t = await startTestServer({ dialect, ...options, env: { MAGE_DATA_DIR: dataDir, INSTANCE_TYPE: 'web_server', ...(options.env ?? {}) } });
  const close = t.close.bind(t);
  t.close = async () => {
    await close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return t;
}

export type RoleName = 'admin' | 'editor' | 'viewer';

export interface TestUser {
  id: number;
  email: string;
  token: string;
}

/** Creates a user with `role` through the API (as the owner) and logs them in. */
export async function makeUser(t: TestServer, role: RoleName, name: string, password = 'password-123'): Promise<TestUser> {
  const email = `${name}@example.com`;
  const res = await t.call('POST', '/api/users', { user: { email, username: name, password, role } }, t.ownerToken);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { id: res.body.user.id, email, token: await t.login(email, password) };
}

/** Asserts Mage's error envelope with HTTP status = code, a type, and a message matching `message`. */
export function assertError(res: { status: number; body: any }, status: number, message: RegExp, type?: string): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.equal(typeof res.body?.error, 'object', `no error envelope: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error.code, status);
  assert.equal(typeof res.body.error.type, 'string');
  if (type) assert.equal(res.body.error.type, type);
  assert.match(res.body.error.message, message);
}

/** Sends `rawPath` exactly as given (no URL normalisation), with an optional JSON body and bearer token. */
export function rawCall(
  t: TestServer,
  method: string,
  rawPath: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: any }> {
  const url = new URL(t.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: rawPath,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
