/** The local provider through the API: start, stop, env roll, rolling restart, crashes, scale. Real processes. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CloudServer } from '../../src/cloud/server.js';
import { Client, clusterStatus, signedIn, startTestCloud, tempDir, TEAM_A, waitFor, waitForObserved } from './helpers.js';

describe('local provider lifecycle', () => {
  const dir = tempDir('bf-cloud-local-');
  let server: CloudServer;
  let alice: Client;

  before(async () => {
    server = await startTestCloud(dir.path);
    alice = await signedIn(server, 'alice@example.com');
  });
  after(async () => {
    await server?.close({ stopClusters: true });
    dir.remove();
  });

  async function create(name: string, config: Record<string, unknown>, status?: string) {
    const res = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, { cluster: { name, config, ...(status ? { status } : {}) } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.cluster;
  }

  test('a started cluster answers on its stable port with its environment; stopping ends its processes', async () => {
    const c = await create('life', { extraEnvs: [{ name: 'GREETING', value: 'hello' }, { name: 'BLOCKFLOW_STATUS_ECHO_ENV', value: 'GREETING,KUBE_NS' }, { name: 'KUBE_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }] });
    const active = await waitForObserved(alice, TEAM_A, c.id, 'Active');
    assert.equal(active.observed.readyReplicas, 1);
    const status = await clusterStatus(active.observed.url);
    assert.deepEqual(status.statuses[0].env, { GREETING: 'hello', KUBE_NS: `blockflow-team-${TEAM_A}` });
    const pid = status.statuses[0].server_process_id;

    const put = await alice.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${c.id}`, { cluster: { status: 'Stopped' } });
    assert.equal(put.status, 200);
    assert.equal(put.body.cluster.config.replicaCount, 0);
    const stopped = await waitForObserved(alice, TEAM_A, c.id, 'Stopped');
    assert.equal(stopped.observed.replicas, 0);
    assert.throws(() => process.kill(pid, 0));
  });

  test('changing extraEnvs rolls the replica: the new one is ready before the old one stops', async () => {
    const c = await create('roll', { extraEnvs: [{ name: 'COLOR', value: 'blue' }, { name: 'BLOCKFLOW_STATUS_ECHO_ENV', value: 'COLOR' }] });
    const first = await waitForObserved(alice, TEAM_A, c.id, 'Active');
    const url = first.observed.url;
    const oldPid = (await clusterStatus(url)).statuses[0].server_process_id;

    // Poll the stable URL during the roll: it must answer every time (surge first, so no gap).
    let polling = true;
    const failures: string[] = [];
    const poller = (async () => {
      while (polling) {
        try {
          await clusterStatus(url);
        } catch (err) {
          failures.push(String(err));
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const config = { ...first.config, extraEnvs: [{ name: 'COLOR', value: 'green' }, { name: 'BLOCKFLOW_STATUS_ECHO_ENV', value: 'COLOR' }] };
    const put = await alice.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${c.id}`, { cluster: { config } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const rolled = await waitForObserved(alice, TEAM_A, c.id, 'Active');
    polling = false;
    await poller;
    const now = await clusterStatus(rolled.observed.url);
    assert.equal(rolled.observed.url, url, 'the stable URL does not change');
    assert.equal(now.statuses[0].env.COLOR, 'green');
    assert.notEqual(now.statuses[0].server_process_id, oldPid);
    assert.deepEqual(failures, []);
    await waitFor('old replica to exit', async () => { try { process.kill(oldPid, 0); return undefined; } catch { return true; } });
  });

  test('restart replaces every replica with a new process', async () => {
    const c = await create('restart', { replicaCount: 2 });
    const active = await waitForObserved(alice, TEAM_A, c.id, 'Active');
    const before = new Set(active.observed.replicaDetails.map((r: any) => r.pid));
    assert.equal(before.size, 2);
    const res = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters/${c.id}/restart`);
    assert.equal(res.status, 200);
    assert.ok(res.body.cluster.restarted_at);
    const after = await waitForObserved(alice, TEAM_A, c.id, 'Active');
    const pids = after.observed.replicaDetails.map((r: any) => r.pid);
    assert.equal(pids.length, 2);
    for (const pid of pids) assert.ok(!before.has(pid));
  });

  test('a crashed replica is restarted; a replica that keeps crashing is reported as Error with the reason', async () => {
    const c = await create('crashy', {});
    const active = await waitForObserved(alice, TEAM_A, c.id, 'Active');
    const pid = active.observed.replicaDetails[0].pid;
    await fetch(`${active.observed.url}/crash`, { method: 'POST' });
    const back = await waitFor('a new replica', async () => {
      const got = await waitForObserved(alice, TEAM_A, c.id, 'Active');
      return got.observed.replicaDetails[0].pid !== pid ? got : undefined;
    });
    assert.equal(back.observed.restarts, 1);

    const bad = await create('crashloop', { extraEnvs: [{ name: 'FIXTURE_CRASH_AT_START', value: '1' }] });
    const failing = await waitFor('Error with two restarts', async () => {
      const got = (await alice.call('GET', `/api/v1/teams/${TEAM_A}/clusters/${bad.id}`)).body.cluster;
      return got.observed.status === 'Error' && got.observed.restarts >= 2 ? got : undefined;
    });
    assert.match(failing.observed.reason, /exited with code 1/);
    // Fixing the config brings it up.
    const fixed = await alice.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${bad.id}`, { cluster: { config: { extraEnvs: [] } } });
    assert.equal(fixed.status, 200);
    await waitForObserved(alice, TEAM_A, bad.id, 'Active');
  });

  test('a replica that ignores SIGTERM is killed after the grace period', async () => {
    const c = await create('stubborn', { extraEnvs: [{ name: 'FIXTURE_IGNORE_SIGTERM', value: '1' }] });
    const active = await waitForObserved(alice, TEAM_A, c.id, 'Active');
    const pid = active.observed.replicaDetails[0].pid;
    await alice.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${c.id}`, { cluster: { status: 'Stopped' } });
    await waitForObserved(alice, TEAM_A, c.id, 'Stopped');
    assert.throws(() => process.kill(pid, 0));
  });

  test('scaling up and down adds and removes replicas without rolling the others', async () => {
    const c = await create('scale', { replicaCount: 1 });
    const one = await waitForObserved(alice, TEAM_A, c.id, 'Active');
    const firstPid = one.observed.replicaDetails[0].pid;
    await alice.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${c.id}`, { cluster: { config: { ...one.config, replicaCount: 3 } } });
    const three = await waitForObserved(alice, TEAM_A, c.id, 'Active');
    assert.equal(three.observed.readyReplicas, 3);
    assert.ok(three.observed.replicaDetails.some((r: any) => r.pid === firstPid));
    await alice.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${c.id}`, { cluster: { config: { ...three.config, replicaCount: 1 } } });
    const back = await waitFor('one replica', async () => {
      const got = await waitForObserved(alice, TEAM_A, c.id, 'Active');
      return got.observed.replicas === 1 ? got : undefined;
    });
    assert.equal(back.observed.readyReplicas, 1);
  });
});
