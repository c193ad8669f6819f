/**
 * charts/blockflow: rendered (with the in-repo renderer, and with the helm binary too when HELM_BIN or `helm`
 * is available) and every object validated against the Kubernetes schemas (kubernetes-models).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import YAML from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { HelmRenderer } from './helmTemplate.js';

const CHART = new URL('../../charts/blockflow', import.meta.url).pathname;
const MODELS: Record<string, { validate(): void } & any> = { Deployment, ConfigMap, Secret, Service, ServiceAccount };

function objects(rendered: Iterable<string>): any[] {
  return [...rendered].flatMap((text) => YAML.parseAllDocuments(text).map((d) => d.toJS())).filter((o) => o);
}

function validateAll(objs: any[]): void {
  for (const o of objs) {
    const Model = MODELS[o.kind];
    assert.ok(Model, `unexpected kind ${o.kind}`);
    new Model(o).validate();
    assert.ok(o.metadata.name.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata.name), o.metadata.name);
  }
}

function helmBinary(): string | undefined {
  const candidate = process.env.HELM_BIN ?? 'helm';
  try {
    execFileSync(candidate, ['version', '--short'], { stdio: 'ignore' });
    return candidate;
  } catch {
    return undefined;
  }
}

describe('Helm chart charts/blockflow', () => {
  test('renders with the default values into valid objects', () => {
    const objs = objects(new HelmRenderer().renderChart(CHART, {}).values());
    validateAll(objs);
    assert.deepEqual(objs.map((o) => o.kind).sort(), ['ConfigMap', 'Deployment', 'Secret', 'Service', 'ServiceAccount']);
    const d = objs.find((o) => o.kind === 'Deployment');
    assert.equal(d.spec.replicas, 1);
    assert.equal(d.spec.template.spec.containers[0].image, 'blockflow/blockflow:0.1.0');
    assert.deepEqual(d.spec.template.spec.containers[0].env, [{ name: 'KUBE_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }]);
    assert.deepEqual(d.spec.selector.matchLabels, { 'app.kubernetes.io/name': 'blockflow', 'app.kubernetes.io/instance': 'release' });
  });

  test('a Cloud API cluster config works as values: stopped, env, image, resources, secrets', () => {
    const config = {
      replicaCount: 0,
      image: { repository: 'registry.local/blockflow', tag: '2.0.0', pullPolicy: 'Always' },
      extraEnvs: [{ name: 'AI_SIDEKICK', value: '1' }, { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
      resources: { limits: { cpu: '2', memory: '4Gi' }, requests: { cpu: '1', memory: '2Gi' } },
      config: { DEFAULT_EXECUTOR_TYPE: 'k8s' },
      secrets: { DB_PASSWORD: 'pw' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'data', effect: 'NoSchedule' }],
      extraVolumes: [{ name: 'project', persistentVolumeClaim: { claimName: 'blockflow-project' } }],
      extraVolumeMounts: [{ name: 'project', mountPath: '/home/src' }],
      ingress: { enabled: false },
    };
    const objs = objects(new HelmRenderer().renderChart(CHART, config, { Name: 'team-a', Namespace: 'blockflow-team-a' }).values());
    validateAll(objs);
    const d = objs.find((o) => o.kind === 'Deployment');
    const c = d.spec.template.spec.containers[0];
    assert.equal(d.spec.replicas, 0);
    assert.equal(c.image, 'registry.local/blockflow:2.0.0');
    assert.equal(c.imagePullPolicy, 'Always');
    assert.deepEqual(c.env, config.extraEnvs);
    assert.deepEqual(c.resources, config.resources);
    assert.deepEqual(d.spec.template.spec.tolerations, config.tolerations);
    assert.deepEqual(c.volumeMounts, config.extraVolumeMounts);
    assert.deepEqual(objs.find((o) => o.kind === 'ConfigMap').data, { DEFAULT_EXECUTOR_TYPE: 'k8s' });
    assert.deepEqual(objs.find((o) => o.kind === 'Secret').stringData, { DB_PASSWORD: 'pw' });
  });

  test('changing config or secrets changes the pod-template checksums (the pods roll)', () => {
    const annotations = (values: object) =>
      objects(new HelmRenderer().renderChart(CHART, values).values()).find((o) => o.kind === 'Deployment').spec.template.metadata.annotations;
    const a = annotations({ config: { A: '1' }, secrets: { S: '1' } });
    const b = annotations({ config: { A: '2' }, secrets: { S: '1' } });
    const c = annotations({ config: { A: '1' }, secrets: { S: '2' } });
    assert.notEqual(a['checksum/config'], b['checksum/config']);
    assert.equal(a['checksum/secrets'], b['checksum/secrets']);
    assert.notEqual(a['checksum/secrets'], c['checksum/secrets']);
  });

  test('existingSecret replaces the chart Secret', () => {
    const objs = objects(new HelmRenderer().renderChart(CHART, { existingSecret: 'prod-env', serviceAccount: { create: false } }).values());
    validateAll(objs);
    assert.ok(!objs.some((o) => o.kind === 'Secret' || o.kind === 'ServiceAccount'));
    const d = objs.find((o) => o.kind === 'Deployment');
    assert.deepEqual(d.spec.template.spec.containers[0].envFrom[1], { secretRef: { name: 'prod-env' } });
    assert.equal(d.spec.template.spec.serviceAccountName, 'default');
  });

  const helm = helmBinary();
  test('helm lint and helm template agree with the in-repo renderer', { skip: helm ? false : 'no helm binary (set HELM_BIN)' }, () => {
    execFileSync(helm!, ['lint', CHART], { stdio: 'pipe' });
    const values = { replicaCount: 2, config: { A: '1' }, extraEnvs: [{ name: 'X', value: 'y' }] };
    const fromHelm = objects([execFileSync(helm!, ['template', 'release', CHART, '--set-json', `replicaCount=2`, '--set-json', `config=${JSON.stringify(values.config)}`, '--set-json', `extraEnvs=${JSON.stringify(values.extraEnvs)}`], { encoding: 'utf8' })]);
    const ours = objects(new HelmRenderer().renderChart(CHART, values).values());
    validateAll(fromHelm);
    const strip = (o: any) => {
      const copy = structuredClone(o);
      delete copy.spec?.template?.metadata?.annotations;
      return copy;
    };
    const byKey = (list: any[]) => Object.fromEntries(list.map((o) => [`${o.kind}/${o.metadata.name}`, strip(o)]));
    assert.deepEqual(byKey(ours), byKey(fromHelm));
  });
});
