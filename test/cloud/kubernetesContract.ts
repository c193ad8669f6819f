/**
 * The Kubernetes provider's contract, driven through the whole control plane and checked with the real
 * @kubernetes/client-node: run against the in-repo fake API server (kubernetesProvider.test.ts) and, opt-in,
 * against a real cluster (kubernetesProvider.e2e.test.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { CloudServer } from '../../src/cloud/server.js';
import { Client, signedIn, startTestCloud, tempDir, TEAM_A, waitFor, waitForObserved } from './helpers.js';

export interface KubeTarget {
  kubeConfig: KubeConfig;
  /** Image the cluster's pods run (must answer GET /api/status on port 6789). */
  image: { repository: string; tag: string };
  /** A fake API server can also make a rollout fail on purpose. */
  canFailRollouts: boolean;
  close(): Promise<void>;
}

export function kubernetesContract(name: string, makeTarget: () => Promise<KubeTarget>, options: { timeoutMs: number; skip?: string | false }) {
  describe(name, { skip: options.skip }, () => {
    const dir = tempDir('bf-cloud-k8s-');
    let target: KubeTarget;
    let server: CloudServer;
    let alice: Client;
    let apps: AppsV1Api;
    let core: CoreV1Api;
    const namespace = `blockflow-team-${TEAM_A}`;
    const created: string[] = [];

    before(async () => {
      target = await makeTarget();
      apps = target.kubeConfig.makeApiClient(AppsV1Api);
      core = target.kubeConfig.makeApiClient(CoreV1Api);
      server = await startTestCloud(dir.path, { provider: 'kubernetes', kubernetes: { kubeConfig: target.kubeConfig } });
      alice = await signedIn(server, 'alice@example.com');
    });
    after(async () => {
      for (const id of created) await alice?.call('DELETE', `/api/v1/teams/${TEAM_A}/clusters/${id}`);
      if (server) await waitFor('deletions', async () => ((await apps.listNamespacedDeployment({ namespace })).items.length === 0 ? true : undefined), options.timeoutMs).catch(() => undefined);
      await server?.close();
      await target?.close();
      dir.remove();
    });

    const deployment = (id: string) => apps.readNamespacedDeployment({ name: `blockflow-${id}`, namespace });
    const wait = (id: string, status: string) => waitForObserved(alice, TEAM_A, id, status, options.timeoutMs);

    test('a cluster is a Deployment in its team namespace, with the config as pod template, and a Service', async () => {
      const res = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, {
        cluster: {
          name: 'kube',
          config: {
            replicaCount: 1,
            image: target.image,
            resources: { requests: { cpu: '50m', memory: '64Mi' } },
            extraEnvs: [{ name: 'GREETING', value: 'hello' }, { name: 'KUBE_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
          },
        },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const id = res.body.cluster.id;
      created.push(id);
      const active = await wait(id, 'Active');
      assert.equal(active.observed.readyReplicas, 1);
      const d = await deployment(id);
      assert.equal(d.spec?.replicas, 1);
      const container = d.spec!.template.spec!.containers[0];
      assert.equal(container.image, `${target.image.repository}:${target.image.tag}`);
      assert.deepEqual(container.env?.map((e) => e.name), ['GREETING', 'KUBE_NAMESPACE']);
      assert.equal(container.env?.[1].valueFrom?.fieldRef?.fieldPath, 'metadata.namespace');
      assert.equal(container.resources?.requests?.cpu, '50m');
      assert.equal(d.metadata?.labels?.['blockflow.io/team-id'], TEAM_A);
      const svc = await core.readNamespacedService({ name: `blockflow-${id}`, namespace });
      assert.equal(svc.spec?.ports?.[0].port, 6789);
    });

    test('stop and start scale the Deployment to 0 and back', async () => {
      const id = created[0];
      await alice.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${id}`, { cluster: { status: 'Stopped' } });
      await wait(id, 'Stopped');
      assert.equal((await deployment(id)).spec?.replicas, 0);
      await alice.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${id}`, { cluster: { status: 'Active' } });
      await wait(id, 'Active');
      assert.equal((await deployment(id)).spec?.replicas, 1);
    });

    test('an env change rewrites the pod template (a rollout), keeping valueFrom entries', async () => {
      const id = created[0];
      const before = await deployment(id);
      const cluster = (await alice.call('GET', `/api/v1/teams/${TEAM_A}/clusters/${id}`)).body.cluster;
      const extraEnvs = [...cluster.config.extraEnvs.filter((e: any) => e.name !== 'GREETING'), { name: 'GREETING', value: 'hi' }, { name: 'AI_SIDEKICK', value: '1' }];
      const put = await alice.call('PUT', `/api/v1/teams/${TEAM_A}/clusters/${id}`, { cluster: { config: { ...cluster.config, extraEnvs } } });
      assert.equal(put.status, 200);
      await wait(id, 'Active');
      const after = await deployment(id);
      assert.ok((after.metadata?.generation ?? 0) > (before.metadata?.generation ?? 0));
      const env = JSON.parse(JSON.stringify(Object.fromEntries(after.spec!.template.spec!.containers[0].env!.map((e) => [e.name, e.value ?? e.valueFrom]))));
      assert.deepEqual(env, { KUBE_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } }, GREETING: 'hi', AI_SIDEKICK: '1' });
    });

    test('restart sets the kubectl.kubernetes.io/restartedAt annotation', async () => {
      const id = created[0];
      const res = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters/${id}/restart`);
      await wait(id, 'Active');
      const annotations = (await deployment(id)).spec?.template.metadata?.annotations ?? {};
      assert.equal(annotations['kubectl.kubernetes.io/restartedAt'], res.body.cluster.restarted_at);
    });

    test('a rollout that cannot progress is reported as Error with the reason', async (t) => {
      if (!target.canFailRollouts) return t.skip('only the fake API server fails rollouts on demand');
      const res = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, { cluster: { name: 'broken', config: { image: { repository: 'blockflow', tag: 'crashloop' } } } });
      created.push(res.body.cluster.id);
      const failed = await wait(res.body.cluster.id, 'Error');
      assert.match(failed.observed.reason, /ProgressDeadlineExceeded/);
    });

    test('DELETE removes the Deployment, Service and cluster', async () => {
      const res = await alice.call('POST', `/api/v1/teams/${TEAM_A}/clusters`, { cluster: { name: 'gone', status: 'Stopped', config: { image: target.image, secrets: { TOKEN: 'x' } } } });
      const id = res.body.cluster.id;
      await wait(id, 'Stopped');
      assert.equal((await core.readNamespacedSecret({ name: `blockflow-${id}-secret-env`, namespace })).stringData?.TOKEN ?? 'x', 'x');
      assert.equal((await alice.call('DELETE', `/api/v1/teams/${TEAM_A}/clusters/${id}`)).status, 200);
      await waitFor('the Deployment to go', async () => {
        try {
          await deployment(id);
          return undefined;
        } catch (err) {
          return (err as { code?: number }).code === 404 ? true : undefined;
        }
      }, options.timeoutMs);
      await assert.rejects(core.readNamespacedService({ name: `blockflow-${id}`, namespace }), (err: { code?: number }) => err.code === 404);
      await assert.rejects(core.readNamespacedSecret({ name: `blockflow-${id}-secret-env`, namespace }), (err: { code?: number }) => err.code === 404);
    });
  });
}
