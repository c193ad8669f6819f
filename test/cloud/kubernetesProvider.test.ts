/**
 * The Kubernetes provider against the in-repo fake API server, driven by the real @kubernetes/client-node
 * 1.4.0, plus checks of what went over the wire and of the manifests themselves (kubernetes-models).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { FakeKubeApi } from './fakeKubeApi.js';
import { kubernetesContract } from './kubernetesContract.js';
import { KubernetesProvider } from '../../src/cloud/providers/kubernetes/kubernetesProvider.js';
import { deploymentManifest, serviceManifest, namespaceManifest, secretManifest, templateDigest } from '../../src/cloud/providers/kubernetes/manifests.js';
import type { ClusterSpec } from '../../src/cloud/providers/types.js';
import { waitFor } from './helpers.js';

export function kubeConfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server, skipTLSVerify: true }],
    users: [{ name: 'tester', token: 'fake-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
    currentContext: 'fake',
  });
  return kc;
}

let fake: FakeKubeApi | undefined;
kubernetesContract(
  'Kubernetes provider against the fake API server',
  async () => {
    fake = new FakeKubeApi();
    const url = await fake.start();
    return { kubeConfig: kubeConfigFor(url), image: { repository: 'blockflow/blockflow', tag: 'test' }, canFailRollouts: true, close: () => fake!.stop() };
  },
  { timeoutMs: 15_000 },
);

const spec = (over: Partial<ClusterSpec> = {}): ClusterSpec => ({
  id: '0123456789abcdef',
  teamId: 'fedcba9876543210',
  name: 'demo',
  replicas: 2,
  config: {
    replicaCount: 2,
    image: { repository: 'blockflow/blockflow', tag: '1.0' },
    extraEnvs: [{ name: 'A', value: '1' }, { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }],
    resources: { limits: { memory: '1Gi' } },
    config: { PLAIN: 'x' },
    secrets: { TOKEN: 'secret' },
    nodeSelector: { pool: 'a' },
  },
  restartedAt: null,
  templateHash: 'h',
  version: 1,
  ...over,
});

describe('Kubernetes manifests', () => {
  test('every manifest validates against the Kubernetes schemas, with DNS-1123 names of at most 63 characters', () => {
    const s = spec();
    const manifests = [deploymentManifest(s), serviceManifest(s), namespaceManifest(s.teamId), secretManifest(s)!];
    for (const m of manifests) {
      assert.ok(m.metadata.name.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(m.metadata.name), m.metadata.name);
    }
    new Deployment(manifests[0] as never).validate();
    const d = manifests[0];
    assert.equal(d.spec.replicas, 2);
    assert.deepEqual(d.spec.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
    assert.deepEqual(d.spec.template.spec.containers[0].envFrom, [{ secretRef: { name: 'blockflow-0123456789abcdef-secret-env' } }]);
    assert.deepEqual(d.spec.template.spec.containers[0].env.map((e: any) => e.name), ['PLAIN', 'A', 'NS']);
    assert.equal(d.spec.template.spec.containers[0].readinessProbe.httpGet.path, '/api/status');
    assert.deepEqual(d.spec.template.spec.nodeSelector, { pool: 'a' });
  });

  test('the template digest changes with env and secrets but not with replicas or restarts', () => {
    const base = deploymentManifest(spec()).spec.template;
    assert.equal(templateDigest(deploymentManifest(spec({ replicas: 5 })).spec.template), templateDigest(base));
    assert.equal(templateDigest(deploymentManifest(spec({ restartedAt: '2026-01-01T00:00:00.000Z' })).spec.template), templateDigest(base));
    const changed = spec();
    changed.config.extraEnvs = [{ name: 'A', value: '2' }];
    assert.notEqual(templateDigest(deploymentManifest(changed).spec.template), templateDigest(base));
    const secret = spec();
    secret.config.secrets = { TOKEN: 'rotated' };
    assert.notEqual(templateDigest(deploymentManifest(secret).spec.template), templateDigest(base));
  });

  test('a config that breaks the schema is refused with the schema message', () => {
    const bad = spec();
    bad.config.tolerations = 'everything';
    assert.throws(() => deploymentManifest(bad), /invalid Deployment: .*tolerations/);
  });
});

describe('Kubernetes provider on the wire', () => {
  let server: FakeKubeApi;
  let provider: KubernetesProvider;
  before(async () => {
    server = new FakeKubeApi();
    provider = new KubernetesProvider({ kubeConfig: kubeConfigFor(await server.start()) });
  });
  after(() => server.stop());

  test('scale goes through /scale as a merge patch, restart as a strategic merge patch of restartedAt, env as a PUT with resourceVersion', async () => {
    const s = spec({ config: { replicaCount: 1, extraEnvs: [{ name: 'A', value: '1' }] }, replicas: 1 });
    await provider.apply(s);
    await waitFor('Active', async () => ((await provider.observe(s)).status === 'Active' ? true : undefined));
    server.requests.length = 0;

    await provider.apply({ ...s, replicas: 0 });
    const scale = server.requests.find((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/blockflow-0123456789abcdef/scale'));
    assert.equal(scale?.contentType, 'application/merge-patch+json');
    assert.deepEqual(scale?.body, { spec: { replicas: 0 } });

    server.requests.length = 0;
    await provider.apply({ ...s, restartedAt: '2026-11-28T10:00:00.000Z' });
    const restart = server.requests.find((r) => r.method === 'PATCH' && r.path.endsWith('/deployments/blockflow-0123456789abcdef'));
    assert.equal(restart?.contentType, 'application/strategic-merge-patch+json');
    assert.deepEqual(restart?.body, { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-28T10:00:00.000Z' } } } } });

    server.requests.length = 0;
    await provider.apply({ ...s, restartedAt: '2026-11-28T10:00:00.000Z', config: { replicaCount: 1, extraEnvs: [{ name: 'A', value: '2' }] } });
    const put = server.requests.find((r) => r.method === 'PUT');
    assert.ok(put, 'the template is replaced');
    assert.ok((put!.body as any).metadata.resourceVersion, 'guarded by resourceVersion');
    assert.equal((put!.body as any).spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'], '2026-11-28T10:00:00.000Z', 'keeps the restart annotation');
    const live = server.get('deployments', 'blockflow-team-fedcba9876543210', 'blockflow-0123456789abcdef')!;
    assert.deepEqual(live.spec.template.spec.containers[0].env, [{ name: 'A', value: '2' }]);
  });

  test('an API error surfaces as the observed reason with the server message', async () => {
    const s = spec({ id: 'ffffffffffffffff' });
    s.config.image = { repository: 'x', tag: '1' };
    server.requests.length = 0;
    const broken = { ...s, config: { ...s.config, tolerations: [{ key: 1 }] } };
    await assert.rejects(provider.apply(broken), /invalid Deployment/);
  });

  test('at start, Deployments of clusters that no longer exist are removed', async () => {
    const orphan = spec({ id: 'aaaaaaaaaaaaaaaa', replicas: 0 });
    await provider.apply(orphan);
    assert.ok(server.get('deployments', 'blockflow-team-fedcba9876543210', 'blockflow-aaaaaaaaaaaaaaaa'));
    await provider.adopt([{ id: '0123456789abcdef', teamId: 'fedcba9876543210' }]);
    assert.equal(server.get('deployments', 'blockflow-team-fedcba9876543210', 'blockflow-aaaaaaaaaaaaaaaa'), undefined);
    assert.ok(server.get('deployments', 'blockflow-team-fedcba9876543210', 'blockflow-0123456789abcdef'));
  });
});
