/**
 * Starts a real Blockflow server on a free loopback port for HTTP tests, on a copy of a project folder, with
 * SQLite (a file in the copy's data dir) or PostgreSQL (a fresh database dropped at the end).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { initProject } from '../../src/project/init.js';
import { createFreshPgDatabase } from './pg.js';

export type Dialect = 'sqlite' | 'postgres';

export interface TestServer {
  server: RunningServer;
  url: string;
  projectDir: string;
  /** Owner session token (raw form, for Authorization: Bearer). */
  ownerToken: string;
  call(method: string, path: string, body?: unknown, token?: string | null, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  login(email: string, password: string): Promise<string>;
  close(): Promise<void>;
}

export const OWNER = { email: 'owner@example.com', password: 'owner-password-1' };

export interface TestServerOptions {
  dialect?: Dialect;
  /** Folder to copy as the project (default: a new project from `blockflow init`). */
  fixture?: string;
  env?: Record<string, string>;
  requireAuth?: boolean;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const base = mkdtempSync(join(tmpdir(), 'blockflow-test-'));
  const projectDir = join(base, 'project');
  if (options.fixture) cpSync(options.fixture, projectDir, { recursive: true });
  else initProject(projectDir);
  let pg: Awaited<ReturnType<typeof createFreshPgDatabase>> | undefined;
  if (options.dialect === 'postgres') pg = await createFreshPgDatabase();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MAGE_DATA_DIR: join(base, 'data'),
    DEFAULT_OWNER_EMAIL: OWNER.email,
    DEFAULT_OWNER_PASSWORD: OWNER.password,
    DEFAULT_OWNER_USERNAME: 'owner',
    BLOCKFLOW_SCRYPT_N: '1024',
    REQUIRE_USER_AUTHENTICATION: options.requireAuth === false ? '0' : '1',
    ...(pg ? { MAGE_DATABASE_CONNECTION_URL: pg.url } : { MAGE_DATABASE_CONNECTION_URL: '' }),
    ...(options.env ?? {}),
  };
  delete env.DATABASE_URL;
  const server = await startServer({ projectDir, port: 0, host: '127.0.0.1', env, logger: false });
  const url = server.url;
  const call: TestServer['call'] = async (method, path, body, token, headers = {}) => {
    const h: Record<string, string> = { ...headers };
    if (body !== undefined && typeof body !== 'string') h['content-type'] = 'application/json';
    if (typeof body === 'string' && !h['content-type']) h['content-type'] = 'application/json';
    if (token) h.authorization = `Bearer ${token}`;
    const res = await fetch(url + path, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  const login = async (email: string, password: string) => {
    const res = await call('POST', '/api/sessions', { session: { email, password } });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
    // The answer carries Mage's JWT; its payload holds the raw token that headers carry.
    const jwt: string = res.body.session.token;
    return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')).token as string;
  };
  const ownerToken = options.requireAuth === false ? '' : await login(OWNER.email, OWNER.password);
  return {
    server,
    url,
    projectDir,
    ownerToken,
    call,
    login,
    async close() {
      await server.close();
      await pg?.drop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Runs `fn` once per database dialect, as separate describe blocks. */
export const DIALECTS: Dialect[] = ['sqlite', 'postgres'];
