/**
 * Done-when of the Cloud API: the spec's Python functions authenticate_session, update_cluster_status and
 * update_cluster_env_vars, run unchanged (only BASE_API and API_KEY replaced) with python3 and requests, really
 * start, stop and reconfigure a local cluster of real `blockflow start` replicas. Checked on the cluster's own /api/status and in the replica
 * process's environment.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { CloudServer } from '../../src/cloud/server.js';
import { defaultPrepareProject, defaultReplicaCommand } from '../../src/cloud/providers/local/localProvider.js';
import { API_KEY, Client, clusterStatus, PASSWORD, signedIn, startTestCloud, tempDir, TEAM_A, waitForObserved } from './helpers.js';

const run = promisify(execFile);
const PYTHON = process.env.BLOCKFLOW_TEST_PYTHON ?? '/root/.pyenv/versions/3.11.7/bin/python3';
const HARNESS = new URL('./fixtures/spec_harness.py', import.meta.url).pathname;
const ECHO = 'AI_SIDEKICK,DEFAULT_EXECUTOR_TYPE,ENABLE_SOME_FEATURE,KEEP_ME';

function processEnv(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

describe('the spec Python client against a local control plane', () => {
  const dir = tempDir('bf-cloud-spec-');
  let server: CloudServer;
  let alice: Client;
  let clusterId: string;

  async function spec(...args: string[]): Promise<string> {
    const { stdout } = await run(PYTHON, [HARNESS, `${server.url}/api/v1`, API_KEY, 'alice@example.com', PASSWORD, TEAM_A, clusterId, ...args]);
    return stdout;
  }

  before(async () => {
    // The real thing: each replica is `blockflow start <project>` on a project made by `blockflow init`.
    server = await startTestCloud(dir.path, {
      local: { replicaCommand: defaultReplicaCommand, prepareProject: defaultPrepareProject, baseEnv: { REQUIRE_USER_AUTHENTICATION: '0' }, gracePeriodMs: 10_000 },
    });
    alice = await signedIn(server, 'alice@example.com');
    const res = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, {
      cluster: {
        name: 'spec',
        status: 'Stopped',
        config: {
          extraEnvs: [{ name: 'BLOCKFLOW_STATUS_ECHO_ENV', value: ECHO }, { name: 'KEEP_ME', value: 'kept' }],
          image: { repository: 'blockflow', tag: 'dev' },
          ingress: { enabled: false },
        },
      },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    clusterId = res.body.cluster.id;
  });
  after(async () => {
    await server?.close({ stopClusters: true });
    dir.remove();
  });

  test('authenticate_session fails with ValueError on a wrong password', async () => {
    await assert.rejects(
      run(PYTHON, [HARNESS, `${server.url}/api/v1`, API_KEY, 'alice@example.com', 'wrong password', TEAM_A, clusterId, 'login']),
      (err: { stderr: string }) => /ValueError/.test(err.stderr) && /password invalid/.test(err.stderr),
    );
  });

  test('update_cluster_status(start=True) starts the cluster', async () => {
    assert.match(await spec('start'), /Cluster has been started\./);
    const c = await waitForObserved(alice, TEAM_A, clusterId, 'Active');
    assert.equal(c.status, 'Active');
    assert.equal(c.config.replicaCount, 1);
    assert.deepEqual(c.config.ingress, { enabled: false }, 'unknown keys round-trip');
    const status = await clusterStatus(c.observed.url);
    assert.equal(status.statuses[0].env.KEEP_ME, 'kept');
  });

  test('update_cluster_env_vars rolls the cluster onto the new variables', async () => {
    const before = await waitForObserved(alice, TEAM_A, clusterId, 'Active');
    const oldPid = (await clusterStatus(before.observed.url)).statuses[0].server_process_id;
    assert.match(await spec('env', 'AI_SIDEKICK=1', 'DEFAULT_EXECUTOR_TYPE=k8s', 'ENABLE_SOME_FEATURE=true'), /updated successfully/);
    const c = await waitForObserved(alice, TEAM_A, clusterId, 'Active');
    assert.ok(c.version > before.version);
    const status = await clusterStatus(c.observed.url);
    const item = status.statuses[0];
    assert.notEqual(item.server_process_id, oldPid, 'a new replica process serves the cluster');
    assert.deepEqual(item.env, { AI_SIDEKICK: '1', DEFAULT_EXECUTOR_TYPE: 'k8s', ENABLE_SOME_FEATURE: 'true', KEEP_ME: 'kept' });
    const env = processEnv(item.server_process_id);
    assert.equal(env.AI_SIDEKICK, '1');
    assert.equal(env.DEFAULT_EXECUTOR_TYPE, 'k8s');
    assert.equal(env.BLOCKFLOW_CLOUD_MASTER_KEY, undefined, 'the control plane does not leak its own secrets');
  });

  test('update_cluster_status(start=False) stops the cluster', async () => {
    const running = await waitForObserved(alice, TEAM_A, clusterId, 'Active');
    const pid = running.observed.replicaDetails[0].pid;
    assert.match(await spec('stop'), /Cluster has been stopped\./);
    const c = await waitForObserved(alice, TEAM_A, clusterId, 'Stopped');
    assert.equal(c.status, 'Stopped');
    assert.equal(c.config.replicaCount, 0);
    assert.throws(() => process.kill(pid, 0), 'the replica process is gone');
    await assert.rejects(clusterStatus(running.observed.url));
  });

  test('and it comes back with the new variables', async () => {
    await spec('start');
    const c = await waitForObserved(alice, TEAM_A, clusterId, 'Active');
    const item = (await clusterStatus(c.observed.url)).statuses[0];
    assert.deepEqual(item.env, { AI_SIDEKICK: '1', DEFAULT_EXECUTOR_TYPE: 'k8s', ENABLE_SOME_FEATURE: 'true', KEEP_ME: 'kept' });
  });
});
