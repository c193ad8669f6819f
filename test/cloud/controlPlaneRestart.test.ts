/**
 * The control plane dies (SIGKILL) while clusters run. Its replicas keep running; the next control plane on the
 * same data dir re-adopts them (same processes, same stable URL) and cleans up what is no longer wanted.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client, clusterStatus, tempDir, TEAM_A, waitFor, waitForObserved } from './helpers.js';

const SCRIPT = new URL('./fixtures/controlPlane.ts', import.meta.url).pathname;

function startControlPlane(dataDir: string, masterKey: string, port = 0): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, dataDir, masterKey, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /READY (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`control plane exited with ${code} before it was ready`)));
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('control-plane restart', () => {
  const dir = tempDir('bf-cloud-restart-');
  const masterKey = randomBytes(32).toString('base64');
  const children: ChildProcess[] = [];
  const replicaPids: number[] = [];

  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const pid of replicaPids) if (alive(pid)) process.kill(-pid, 'SIGKILL');
    dir.remove();
  });

  test('replicas survive a crash of the control plane and are re-adopted or cleaned up by the next one', async () => {
    const first = await startControlPlane(dir.path, masterKey);
    children.push(first.child);
    const alice = await new Client(first.url).login('alice@example.com');
    const keep = (await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, { cluster: { name: 'keep', config: { replicaCount: 2 } } })).body.cluster;
    const drop = (await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, { cluster: { name: 'drop' } })).body.cluster;
    const keepActive = await waitForObserved(alice, TEAM_A, keep.id, 'Active');
    const dropActive = await waitForObserved(alice, TEAM_A, drop.id, 'Active');
    const keepPids = keepActive.observed.replicaDetails.map((r: any) => r.pid).sort();
    const dropPid = dropActive.observed.replicaDetails[0].pid;
    replicaPids.push(...keepPids, dropPid);

    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    for (const pid of [...keepPids, dropPid]) assert.ok(alive(pid), 'replicas outlive the control plane');

    // While the control plane is down, another instance on the same database stops "drop".
    const db = new Database(join(dir.path, 'cloud.db'));
    db.prepare("update clusters set status = 'Stopped', version = version + 1 where id = ?").run(drop.id);
    db.close();

    const port = Number(new URL(first.url).port);
    const second = await startControlPlane(dir.path, masterKey, port);
    children.push(second.child);
    const alice2 = await new Client(second.url).login('alice@example.com');
    const adopted = await waitForObserved(alice2, TEAM_A, keep.id, 'Active');
    assert.deepEqual(adopted.observed.replicaDetails.map((r: any) => r.pid).sort(), keepPids, 'the same processes serve the cluster');
    assert.equal(adopted.observed.url, keepActive.observed.url, 'the stable URL is kept');
    const status = await clusterStatus(adopted.observed.url);
    assert.ok(keepPids.includes(status.statuses[0].server_process_id));

    await waitForObserved(alice2, TEAM_A, drop.id, 'Stopped');
    await waitFor('the dropped replica to exit', async () => (alive(dropPid) ? undefined : true));

    await alice2.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${keep.id}`, { cluster: { status: 'Stopped' } });
    await waitForObserved(alice2, TEAM_A, keep.id, 'Stopped');
    for (const pid of keepPids) assert.ok(!alive(pid));
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  });
});
