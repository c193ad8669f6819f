/** The control plane on PostgreSQL (a fresh database per run): the same API paths as on SQLite. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { CloudServer } from '../../src/cloud/server.js';
import { Client, signedIn, startTestCloud, tempDir, TEAM_A, TEAM_B } from './helpers.js';

const ADMIN_URL = process.env.BLOCKFLOW_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

describe('Cloud API on PostgreSQL', () => {
  const dir = tempDir('bf-cloud-pg-');
  const dbName = `blockflow_cloud_test_${randomBytes(6).toString('hex')}`;
  let server: CloudServer;
  let alice: Client;

  before(async () => {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const url = new URL(ADMIN_URL);
    url.pathname = `/${dbName}`;
    server = await startTestCloud(dir.path, { databaseUrl: url.toString(), loginLimits: { maxPerEmail: 2 } });
    alice = await signedIn(server, 'alice@example.com');
  });

  after(async () => {
    await server?.close({ stopClusters: true });
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
    dir.remove();
  });

  test('create, read, conflicting update, isolation and audit work on PostgreSQL', async () => {
    const created = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, {
      cluster: { name: 'pg', status: 'Stopped', config: { extraEnvs: [{ name: 'SECRET', value: 'pg-secret' }] } },
    });
    assert.equal(created.status, 201);
    const path = `/api/v1/teams/${TEAM_A}/clusters/${created.body.cluster.id}`;
    const read = (await alice.call('GET', path)).body.cluster;
    assert.equal(read.config.extraEnvs[0].value, 'pg-secret');
    assert.equal((await alice.call('PUT', path, { cluster: { config: { ...read.config, extraEnvs: [] } } })).status, 200);
    const stale = await alice.call('PUT', path, { cluster: { config: { ...read.config, replicaCount: 0 } } });
    assert.equal(stale.status, 409);
    const bob = await signedIn(server, 'bob@example.com');
    assert.equal((await bob.call('GET', path)).status, 404);
    assert.equal((await bob.call('GET', `/api/v1/teams/${TEAM_B}/clusters/${read.id}`)).status, 404);
    const log = (await alice.call('GET', `/api/v1/teams/${TEAM_A}/audit_logs`)).body.audit_logs;
    assert.deepEqual(log.filter((e: any) => e.cluster_id === read.id).map((e: any) => e.action), ['cluster.create', 'cluster.update']);
    assert.equal(typeof log[0].id, 'number');

    const raw = await server.db.db.selectFrom('clusters').select('config_json').where('id', '=', read.id).executeTakeFirstOrThrow();
    assert.ok(!raw.config_json.includes('pg-secret'));
  });

  test('the login rate limit counts failures in the database', async () => {
    const c = new Client(server.url);
    for (let i = 0; i < 2; i++) assert.equal((await c.call('POST', '/api/v1/sessions', { session: { email: 'mike@example.com', password: 'x' } })).status, 401);
    assert.equal((await c.call('POST', '/api/v1/sessions', { session: { email: 'mike@example.com', password: 'x' } })).status, 429);
  });
});
