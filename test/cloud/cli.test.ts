/** `blockflow cloud ...` as a user runs it: real CLI subprocesses against a control plane. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CloudServer } from '../../src/cloud/server.js';
import { API_KEY, Client, PASSWORD, signedIn, startTestCloud, tempDir, TEAM_A, waitForObserved } from './helpers.js';

const run = promisify(execFile);
const ENTRY = new URL('./fixtures/cloudCli.ts', import.meta.url).pathname;
const ARGS = ['--import', 'tsx', ENTRY];

describe('blockflow cloud CLI', () => {
  const dir = tempDir('bf-cloud-cli-');
  const home = join(dir.path, 'home');
  let server: CloudServer;
  let alice: Client;
  const env = () => ({ ...process.env, HOME: home });
  const cli = async (...args: string[]) => (await run(process.execPath, [...ARGS, 'cloud', ...args], { env: env() })).stdout;

  before(async () => {
    server = await startTestCloud(join(dir.path, 'cp'));
    alice = await signedIn(server, 'alice@example.com');
  });
  after(async () => {
    await server?.close({ stopClusters: true });
    dir.remove();
  });

  test('login keeps the token in ~/.blockflow/cloud.json with mode 0600; a wrong password says so', async () => {
    await assert.rejects(cli('login', '--url', server.url, '--email', 'alice@example.com', '--password', 'nope', '--api-key', API_KEY), (err: { stderr: string }) =>
      /password invalid/.test(err.stderr),
    );
    const out = await cli('login', '--url', server.url, '--email', 'alice@example.com', '--password', PASSWORD, '--api-key', API_KEY);
    assert.match(out, /Signed in as alice@example.com \(team teamaaaaaaaaaaaa\)/);
    const file = join(home, '.blockflow', 'cloud.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(saved.teamId, TEAM_A);
    assert.equal((await new Client(server.url, saved.token).call('GET', '/api/v1/teams')).status, 200);
  });

  test('clusters create, ls, stop, start, env set and restart', async () => {
    assert.match(await cli('clusters', 'create', 'web', '--env', 'A=1'), /Created cluster web/);
    const ls = await cli('clusters', 'ls');
    assert.match(ls, /^ID\s+NAME\s+STATUS\s+OBSERVED/m);
    assert.match(ls, /\bweb\s+Active\b/);
    const id = (await alice.call('GET', `/api/v1/teams/${TEAM_A}/clusters`)).body.clusters.find((c: any) => c.name === 'web').id;
    await waitForObserved(alice, TEAM_A, id, 'Active');

    await cli('clusters', 'stop', 'web');
    await waitForObserved(alice, TEAM_A, id, 'Stopped');
    await cli('clusters', 'start', id);
    await waitForObserved(alice, TEAM_A, id, 'Active');

    // A valueFrom entry added through the API survives `env set`.
    const current = (await alice.call('GET', `/api/v1/teams/${TEAM_A}/clusters/${id}`)).body.cluster;
    const withRef = [...current.config.extraEnvs, { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }];
    assert.equal((await alice.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${id}`, { cluster: { config: { ...current.config, extraEnvs: withRef } } })).status, 200);
    assert.match(await cli('clusters', 'env', 'set', 'web', 'A=2', 'B=3'), /Set A, B on cluster web/);
    const after = await waitForObserved(alice, TEAM_A, id, 'Active');
    assert.deepEqual(after.config.extraEnvs, [
      { name: 'A', value: '2' },
      { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'B', value: '3' },
    ]);

    assert.match(await cli('clusters', 'restart', 'web'), /restarting/);
    const restarted = await waitForObserved(alice, TEAM_A, id, 'Active');
    assert.ok(restarted.restarted_at);
    await assert.rejects(cli('clusters', 'start', 'nope'), (err: { stderr: string }) => /no cluster nope/.test(err.stderr));
  });

  test('cloud start runs a control plane with a first admin and a generated client key', async () => {
    const child = spawn(process.execPath, [...ARGS, 'cloud', 'start', '--port', '0', '--data-dir', join(dir.path, 'cp2'), '--admin-email', 'root@example.com'], {
      env: { ...env(), BLOCKFLOW_CLOUD_ADMIN_PASSWORD: 'admin password 1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const out = await new Promise<string>((resolve, reject) => {
        let text = '';
        child.stdout!.on('data', (d) => {
          text += d;
          if (/Client API key/.test(text)) resolve(text);
        });
        child.on('exit', (code) => reject(new Error(`cloud start exited with ${code}: ${text}`)));
      });
      const url = /listening on (\S+)\/api\/v1/.exec(out)![1];
      const key = /Client API key \(X-API-KEY\): (\S+)/.exec(out)![1];
      const root = await new Client(url, undefined, key).login('root@example.com', 'admin password 1');
      const teams = (await root.call('GET', '/api/v1/teams')).body.teams;
      assert.deepEqual(teams.map((t: any) => [t.name, t.role]), [['Default', 'owner']]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
  });
});
