/** The Cloud API over HTTP: sign-in, tokens, team isolation, roles, concurrency, bad configs, audit, encryption. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { CloudServer } from '../../src/cloud/server.js';
import { API_KEY, Client, PASSWORD, signedIn, startTestCloud, tempDir, TEAM_A, TEAM_B } from './helpers.js';

describe('Cloud API', () => {
  const dir = tempDir('bf-cloud-api-');
  let server: CloudServer;
  let alice: Client;
  let bob: Client;

  before(async () => {
    server = await startTestCloud(dir.path, { loginLimits: { maxPerEmail: 3, maxPerAddress: 50 } });
    alice = await signedIn(server, 'alice@example.com');
    bob = await signedIn(server, 'bob@example.com');
  });
  after(async () => {
    await server?.close({ stopClusters: true });
    dir.remove();
  });

  const stopped = (name: string, config: Record<string, unknown> = {}) => ({ cluster: { name, status: 'Stopped', config } });

  describe('sessions', () => {
    test('sign-in answers a token, expiry and user, and sets the oauth_token cookie', async () => {
      const res = await new Client(server.url).call('POST', '/api/v1/sessions', { session: { email: 'Alice@Example.com ', password: PASSWORD } });
      assert.equal(res.status, 200);
      assert.equal(typeof res.body.session.token, 'string');
      assert.ok(Date.parse(res.body.session.expires) > Date.now());
      assert.equal(res.body.session.user.email, 'alice@example.com');
      assert.match(res.headers.get('set-cookie') ?? '', /^oauth_token=[^;]+; Path=\/; HttpOnly; SameSite=Lax/);
    });

    test('bad credentials give an error in the body and 401; unknown users get the same answer', async () => {
      const c = new Client(server.url);
      const wrong = await c.call('POST', '/api/v1/sessions', { session: { email: 'mike@example.com', password: 'nope' } });
      const unknown = await c.call('POST', '/api/v1/sessions', { session: { email: 'nobody@example.com', password: 'nope' } });
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.body, unknown.body);
      assert.equal(wrong.body.error.message, 'Email/username and/or password invalid.');
    });

    test('the token works as Cookie oauth_token and as Authorization: Bearer, not without the API key', async () => {
      const cookie = await fetch(`${server.url}/api/v1/teams`, { headers: { 'x-api-key': API_KEY, cookie: `other=1; oauth_token=${alice.token}` } });
      assert.equal(cookie.status, 200);
      const bearer = await fetch(`${server.url}/api/v1/teams`, { headers: { 'x-api-key': API_KEY, authorization: `Bearer ${alice.token}` } });
      assert.deepEqual(((await bearer.json()) as any).teams.map((t: any) => t.id), [TEAM_A]);
      const noKey = await fetch(`${server.url}/api/v1/teams`, { headers: { authorization: `Bearer ${alice.token}` } });
      assert.equal(noKey.status, 401);
      const badKey = await new Client(server.url, alice.token, 'not-a-key').call('GET', '/api/v1/teams');
      assert.equal(badKey.status, 401);
      const noToken = await new Client(server.url).call('GET', '/api/v1/teams');
      assert.equal(noToken.status, 401);
    });

    test('sign-out revokes the token', async () => {
      const c = await signedIn(server, 'mike@example.com');
      assert.equal((await c.call('DELETE', '/api/v1/sessions')).status, 200);
      assert.equal((await c.call('GET', '/api/v1/teams')).status, 401);
    });

    test('repeated failures for one email are rate limited with 429 and Retry-After, even with the right password', async () => {
      const c = new Client(server.url);
      for (let i = 0; i < 3; i++) {
        assert.equal((await c.call('POST', '/api/v1/sessions', { session: { email: 'vera@example.com', password: 'guess' + i } })).status, 401);
      }
      const limited = await c.call('POST', '/api/v1/sessions', { session: { email: 'vera@example.com', password: PASSWORD } });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      assert.ok(limited.body.error);
      // Another email from the same address is not affected by the per-email limit.
      assert.equal((await c.call('POST', '/api/v1/sessions', { session: { email: 'mike@example.com', password: PASSWORD } })).status, 200);
    });

    test('sessions are stored as SHA-256 hashes, never the token', async () => {
      const db = new Database(join(dir.path, 'cloud.db'), { readonly: true });
      const rows = db.prepare('select token_hash from sessions').all() as Array<{ token_hash: string }>;
      db.close();
      assert.ok(rows.length > 0);
      assert.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(r.token_hash) && r.token_hash !== alice.token));
    });
  });

  describe('teams and isolation', () => {
    test("another team's cluster answers 404 to GET, PUT, restart and DELETE, like a missing one", async () => {
      const created = await bob.call('POST', `/api/v1/teams/${TEAM_B}/clusters`, stopped('bobs'));
      assert.equal(created.status, 201);
      const id = created.body.cluster.id;
      for (const path of [`/api/v1/teams/${TEAM_A}/clusters/${id}`, `/api/v1/teams/${TEAM_B}/clusters/${id}`]) {
        assert.equal((await alice.call('GET', path)).status, 404);
        assert.equal((await alice.call('PUT', path, { cluster: { status: 'Active' } })).status, 404);
        assert.equal((await alice.call('POST', `${path}/restart`)).status, 404);
        assert.equal((await alice.call('DELETE', path)).status, 404);
      }
      const missing = await alice.call('GET', `/api/v1/teams/${TEAM_A}/clusters/0000000000000000`);
      const foreign = await alice.call('GET', `/api/v1/teams/${TEAM_B}/clusters/${id}`);
      assert.deepEqual(Object.keys(foreign.body.error), Object.keys(missing.body.error));
      assert.equal((await alice.call('GET', `/api/v1/teams/${TEAM_B}/clusters`)).status, 404);
      const still = await bob.call('GET', `/api/v1/teams/${TEAM_B}/clusters/${id}`);
      assert.equal(still.body.cluster.status, 'Stopped');
      assert.equal(still.body.cluster.version, 1);
    });

    test('a cluster cannot be moved to another team through the body', async () => {
      const created = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, stopped('mine'));
      const id = created.body.cluster.id;
      const put = await alice.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${id}`, { cluster: { team_id: TEAM_B, config: { team_id: TEAM_B } } });
      assert.equal(put.status, 200);
      assert.equal(put.body.cluster.team_id, TEAM_A);
      assert.equal((await bob.call('GET', `/api/v1/teams/${TEAM_B}/clusters/${id}`)).status, 404);
    });

    test('roles: viewers read with secrets hidden, members start and stop, admins change config', async () => {
      const created = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, stopped('roles', { extraEnvs: [{ name: 'TOKEN', value: 's3cret' }] }));
      const path = `/api/v1/teams/${TEAM_A}/clusters/${created.body.cluster.id}`;
      // vera is rate limited by the test above, so a fresh viewer is added for this one.
      const added = await alice.call('POST', `/api/v1/teams/${TEAM_A}/members`, { member: { email: 'val@example.com', role: 'viewer', password: PASSWORD } });
      assert.equal(added.status, 200);
      const viewer = await signedIn(server, 'val@example.com');
      const seen = await viewer.call('GET', path);
      assert.equal(seen.status, 200);
      assert.equal(seen.body.cluster.config.extraEnvs[0].value, '[redacted]');
      assert.equal((await viewer.call('PUT', path, { cluster: { status: 'Active' } })).status, 403);
      const mike = await signedIn(server, 'mike@example.com');
      const current = (await mike.call('GET', path)).body.cluster;
      assert.equal(current.config.extraEnvs[0].value, 's3cret');
      const envChange = await mike.call('PUT', path, { cluster: { config: { ...current.config, extraEnvs: [] } } });
      assert.equal(envChange.status, 403);
      const start = await mike.call('PUT', path, { cluster: { config: { ...current.config, replicaCount: 0 }, status: 'Stopped' } });
      assert.equal(start.status, 200);
      assert.equal((await mike.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, stopped('nope'))).status, 403);
    });

    test('owners add members; a new member sees the team', async () => {
      const added = await alice.call('POST', `/api/v1/teams/${TEAM_A}/members`, { member: { email: 'newbie@example.com', role: 'viewer', password: 'long enough pw' } });
      assert.equal(added.status, 200, JSON.stringify(added.body));
      const newbie = await new Client(server.url).login('newbie@example.com', 'long enough pw');
      const teams = await newbie.call('GET', '/api/v1/teams');
      assert.deepEqual(teams.body.teams.map((t: any) => [t.id, t.role]), [[TEAM_A, 'viewer']]);
      const bad = await alice.call('POST', `/api/v1/teams/${TEAM_A}/members`, { member: { email: 'x@example.com', role: 'god' } });
      assert.equal(bad.status, 422);
    });
  });

  describe('concurrency', () => {
    test('two read-modify-write clients: the second PUT with a stale version gets 409 and nothing is lost', async () => {
      const created = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, stopped('race', { extraEnvs: [] }));
      const path = `/api/v1/teams/${TEAM_A}/clusters/${created.body.cluster.id}`;
      const readA = (await alice.call('GET', path)).body.cluster;
      const readB = (await alice.call('GET', path)).body.cluster;
      // Client A writes first (the config carries the version it read, as the spec's clients send it back).
      const a = await alice.call('PUT', path, { cluster: { config: { ...readA.config, extraEnvs: [{ name: 'A', value: '1' }] } } });
      assert.equal(a.status, 200);
      const b = await alice.call('PUT', path, { cluster: { config: { ...readB.config, extraEnvs: [{ name: 'B', value: '2' }] } } });
      assert.equal(b.status, 409);
      assert.equal(b.body.error.current_version, readA.version + 1);
      const now = (await alice.call('GET', path)).body.cluster;
      assert.deepEqual(now.config.extraEnvs, [{ name: 'A', value: '1' }]);
    });

    test('If-Match with the ETag works the same way, and simultaneous PUTs with one version let exactly one win', async () => {
      const created = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, stopped('etag'));
      const path = `/api/v1/teams/${TEAM_A}/clusters/${created.body.cluster.id}`;
      const got = await alice.call('GET', path);
      const etag = got.headers.get('etag')!;
      assert.equal(etag, `"${got.body.cluster.version}"`);
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          alice.call('PUT', path, { cluster: { config: { extraEnvs: [{ name: `W${i}`, value: String(i) }] } } }, { 'if-match': etag }),
        ),
      );
      const codes = answers.map((a) => a.status).sort();
      assert.deepEqual(codes, [200, 409, 409, 409, 409, 409]);
      const winner = answers.find((a) => a.status === 200)!.body.cluster.config.extraEnvs;
      assert.deepEqual((await alice.call('GET', path)).body.cluster.config.extraEnvs, winner);
    });
  });

  describe('bad configs', () => {
    test('a body nested 20,000 levels deep answers 400 naming the limit, and the API goes on answering', async () => {
      const deep = `{"cluster": {"name": "deep", "status": "Stopped", "config": {"x": ${'['.repeat(20_000)}${']'.repeat(20_000)}}}}`;
      const res = await fetch(`${server.url}/api/v1/teams/${TEAM_A}/clusters`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, authorization: `Bearer ${alice.token}` },
        body: deep,
      });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /nested more than 64 levels deep.*BLOCKFLOW_JSON_MAX_DEPTH/);
      const list = await alice.call('GET', `/api/v1/teams/${TEAM_A}/clusters`);
      assert.equal(list.status, 200);
      assert.ok(!list.body.clusters.some((c: { name: string }) => c.name === 'deep'));
    });

    test('contradictions and invalid values answer 422 with every problem, and change nothing', async () => {
      const created = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, stopped('bad'));
      const path = `/api/v1/teams/${TEAM_A}/clusters/${created.body.cluster.id}`;
      const cases: Array<[unknown, RegExp]> = [
        [{ status: 'Stopped', config: { replicaCount: 2 } }, /Stopped contradicts config.replicaCount 2/],
        [{ status: 'Active', config: { replicaCount: 0 } }, /Active contradicts config.replicaCount 0/],
        [{ status: 'Running' }, /status must be one of Active, Stopped/],
        [{ config: { replicaCount: -1 } }, /replicaCount must be an integer from 0 to 10/],
        [{ config: { replicaCount: 1.5 } }, /replicaCount/],
        [{ config: { replicaCount: 11 } }, /replicaCount/],
        [{ config: { extraEnvs: 'A=1' } }, /extraEnvs must be a list/],
        [{ config: { extraEnvs: [{ name: '1BAD', value: 'x' }] } }, /name must match/],
        [{ config: { extraEnvs: [{ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] } }, /exactly one of value and valueFrom/],
        [{ config: { extraEnvs: [{ name: 'A', value: 'x' }, { name: 'A', value: 'y' }] } }, /more than once/],
        [{ config: { extraEnvs: [{ name: 'A', valueFrom: { magic: {} } }] } }, /valueFrom must hold exactly one of/],
        [{ config: { extraEnvs: [{ name: 'A', value: { nested: true } }] } }, /value must be a string/],
        [{ config: { image: 'blockflow:latest' } }, /config.image must be an object/],
        [{ config: { resources: { limits: { cpu: [] } } } }, /quantity/],
        [{ config: [] }, /config must be an object/],
      ];
      for (const [cluster, message] of cases) {
        const res = await alice.call('PUT', path, { cluster });
        assert.equal(res.status, 422, JSON.stringify(cluster));
        assert.match(res.body.error.message, message);
      }
      const two = await alice.call('PUT', path, { cluster: { config: { replicaCount: 'x', extraEnvs: [{ name: '' }] } } });
      assert.ok(two.body.error.errors.length >= 2);
      assert.equal((await alice.call('PUT', path, { nope: {} })).status, 400);
      assert.equal((await alice.call('GET', path)).body.cluster.version, 1);
    });
  });

  describe('audit and secrets at rest', () => {
    test('changes are audited with before and after, secret values redacted; values are encrypted in the database', async () => {
      const created = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, stopped('audited', {
        extraEnvs: [{ name: 'DB_PASSWORD', value: 'hunter2-secret' }],
        secrets: { API_TOKEN: 'tok-secret-value' },
      }));
      const id = created.body.cluster.id;
      const path = `/api/v1/teams/${TEAM_A}/clusters/${id}`;
      const current = (await alice.call('GET', path)).body.cluster;
      await alice.call('PUT', path, { cluster: { config: { ...current.config, extraEnvs: [{ name: 'DB_PASSWORD', value: 'rotated-secret' }] } } });
      await alice.call('POST', `${path}/restart`);
      const log = (await alice.call('GET', `/api/v1/teams/${TEAM_A}/audit_logs?cluster_id=${id}`)).body.audit_logs;
      assert.deepEqual(log.map((e: any) => e.action), ['cluster.create', 'cluster.update', 'cluster.restart']);
      const update = log[1];
      assert.equal(update.before.config.extraEnvs[0].value, '[redacted]');
      assert.equal(update.after.config.extraEnvs[0].value, '[redacted]');
      assert.equal(update.after.config.extraEnvs[0].name, 'DB_PASSWORD');
      assert.ok(update.actor_user_id);
      const text = JSON.stringify(log);
      for (const secret of ['hunter2-secret', 'rotated-secret', 'tok-secret-value']) assert.ok(!text.includes(secret));

      const db = new Database(join(dir.path, 'cloud.db'), { readonly: true });
      const row = db.prepare('select config_json from clusters where id = ?').get(id) as { config_json: string };
      const audit = db.prepare('select before_json, after_json from audit_log').all();
      db.close();
      assert.ok(!row.config_json.includes('rotated-secret'));
      assert.ok(!row.config_json.includes('tok-secret-value'));
      assert.match(JSON.parse(row.config_json).extraEnvs[0].value, /^enc:v1:/);
      assert.ok(!JSON.stringify(audit).includes('secret-value'));
      // Bob (another team) cannot read Team A's audit log.
      assert.equal((await bob.call('GET', `/api/v1/teams/${TEAM_A}/audit_logs`)).status, 404);
    });

    test('DELETE removes the cluster', async () => {
      const created = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, stopped('doomed'));
      const path = `/api/v1/teams/${TEAM_A}/clusters/${created.body.cluster.id}`;
      assert.equal((await alice.call('DELETE', path)).status, 200);
      assert.equal((await alice.call('GET', path)).status, 404);
      const list = (await alice.call('GET', `/api/v1/teams/${TEAM_A}/clusters`)).body.clusters;
      assert.ok(!list.some((c: any) => c.name === 'doomed'));
    });
  });
});
