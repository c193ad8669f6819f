/**
 * Kubernetes objects of a cluster, built from its config (the Helm values shape) as pure functions: a
 * namespace per team, and per cluster a Deployment, a ClusterIP Service, and a Secret for `config.secrets`.
 * Each builder validates its result against the official schemas (kubernetes-models).
 */
import { createHash } from 'node:crypto';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { stableStringify, type ClusterConfig } from '../../clusterConfig.js';
import { teamNamespace } from '../local/localEnv.js';
import type { ClusterRef, ClusterSpec } from '../types.js';

export const CONTAINER_PORT = 6789;
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
export const TEMPLATE_HASH = 'blockflow.io/template-hash';
export const MANAGED_BY = 'blockflow-cloud';

export interface ManifestOptions {
  /** Image when the config names none (default blockflow/blockflow:latest). */
  defaultImage?: { repository: string; tag: string };
  /** Where the project lives in the container (default /home/src/project, the chart's mount point). */
  projectPath?: string;
}

export type Manifest = Record<string, any>;

export function namespaceName(teamId: string): string {
  return teamNamespace(teamId);
}

export function deploymentName(clusterId: string): string {
  return `blockflow-${clusterId}`;
}

export function secretName(clusterId: string): string {
  return `blockflow-${clusterId}-secret-env`;
}

export function selectorLabels(ref: ClusterRef): Record<string, string> {
  return { 'app.kubernetes.io/name': 'blockflow', 'app.kubernetes.io/instance': deploymentName(ref.id) };
}

export function labels(ref: ClusterRef): Record<string, string> {
  return {
    ...selectorLabels(ref),
    'app.kubernetes.io/managed-by': MANAGED_BY,
    'blockflow.io/cluster-id': ref.id,
    'blockflow.io/team-id': ref.teamId,
  };
}

/** Throws with every schema problem of `model`. */
function validated<T extends { validate(): void; toJSON(): unknown }>(model: T, what: string): Manifest {
  try {
    model.validate();
  } catch (err) {
    throw new Error(`invalid ${what}: ${(err as Error).message}`);
  }
  return JSON.parse(JSON.stringify(model.toJSON()));
}

export function namespaceManifest(teamId: string): Manifest {
  return validated(
    new Namespace({ metadata: { name: namespaceName(teamId), labels: { 'app.kubernetes.io/managed-by': MANAGED_BY, 'blockflow.io/team-id': teamId } } }),
    'Namespace',
  );
}

export function secretManifest(spec: ClusterSpec): Manifest | undefined {
  const secrets = spec.config.secrets;
  if (!secrets || Object.keys(secrets).length === 0) return undefined;
  return validated(
    new Secret({
      metadata: { name: secretName(spec.id), namespace: namespaceName(spec.teamId), labels: labels(spec) },
      type: 'Opaque',
      stringData: { ...secrets },
    }),
    'Secret',
  );
}

function imageOf(config: ClusterConfig, options: ManifestOptions): string {
  const fallback = options.defaultImage ?? { repository: 'blockflow/blockflow', tag: 'latest' };
  const repository = config.image?.repository || fallback.repository;
  if (typeof config.image?.digest === 'string' && config.image.digest) return `${repository}@${config.image.digest}`;
  return `${repository}:${config.image?.tag || fallback.tag}`;
}

function probe(config: unknown, timeoutSeconds: number): Manifest {
  const custom = config as Manifest | undefined;
  const enabled = custom?.enabled ?? true;
  if (!enabled) return {};
  return {
    httpGet: { path: custom?.path ?? '/api/status', port: custom?.port ?? 'http' },
    initialDelaySeconds: custom?.initialDelaySeconds ?? 5,
    timeoutSeconds: custom?.timeoutSeconds ?? timeoutSeconds,
  };
}

/** Digest of a pod template (without restartedAt): changes exactly when the pods must roll. */
export function templateDigest(template: Manifest): string {
  const copy = structuredClone(template);
  delete copy.metadata?.annotations?.[RESTARTED_AT];
  delete copy.metadata?.annotations?.[TEMPLATE_HASH];
  return createHash('sha256').update(stableStringify(copy)).digest('hex').slice(0, 16);
}

/**
 * The Deployment of a cluster. `replicas` is the desired count; the restartedAt annotation is set only when the
 * cluster was restarted (an update of a live Deployment keeps the live annotation, see KubernetesProvider).
 */
export function deploymentManifest(spec: ClusterSpec, options: ManifestOptions = {}): Manifest {
  const c = spec.config;
  const secret = secretManifest(spec);
  const env = [
    ...Object.entries(c.config ?? {}).map(([name, value]) => ({ name, value })),
    ...(c.extraEnvs ?? []).map((e) => ('value' in e ? { name: e.name, value: e.value } : { name: e.name, valueFrom: e.valueFrom })),
  ];
  const container: Manifest = {
    name: 'blockflow',
    image: imageOf(c, options),
    imagePullPolicy: c.image?.pullPolicy ?? 'IfNotPresent',
    args: ['start', options.projectPath ?? '/home/src/project', '--host', '0.0.0.0', '--port', String(CONTAINER_PORT)],
    ports: [{ name: 'http', containerPort: CONTAINER_PORT, protocol: 'TCP' }],
    env,
    ...(secret ? { envFrom: [{ secretRef: { name: secretName(spec.id) } }] } : {}),
    resources: c.resources ?? {},
    readinessProbe: (c.customReadinessProbe as Manifest | undefined) ?? probe(c.readinessProbe, 1),
    livenessProbe: (c.customLivenessProbe as Manifest | undefined) ?? probe(c.livenessProbe, 10),
    ...(c.securityContext ? { securityContext: c.securityContext } : {}),
    ...(c.extraVolumeMounts ? { volumeMounts: c.extraVolumeMounts } : {}),
  };
  for (const key of ['readinessProbe', 'livenessProbe']) if (Object.keys(container[key]).length === 0) delete container[key];
  const annotations: Record<string, string> = { ...((c.podAnnotations as Record<string, string> | undefined) ?? {}) };
  if (secret) {
    annotations['checksum/secrets'] = createHash('sha256').update(stableStringify(c.secrets)).digest('hex');
  }
  const template: Manifest = {
    metadata: { labels: { ...selectorLabels(spec), ...((c.podLabels as Record<string, string> | undefined) ?? {}) }, annotations },
    spec: {
      containers: [container],
      ...(c.podSecurityContext ? { securityContext: c.podSecurityContext } : {}),
      ...(c.nodeSelector ? { nodeSelector: c.nodeSelector } : {}),
      ...(c.tolerations ? { tolerations: c.tolerations } : {}),
      ...(c.affinity ? { affinity: c.affinity } : {}),
      ...(c.imagePullSecrets ? { imagePullSecrets: c.imagePullSecrets } : {}),
      ...(c.extraVolumes ? { volumes: c.extraVolumes } : {}),
    },
  };
  template.metadata.annotations[TEMPLATE_HASH] = templateDigest(template);
  if (spec.restartedAt) template.metadata.annotations[RESTARTED_AT] = spec.restartedAt;
  return validated(
    new Deployment({
      metadata: { name: deploymentName(spec.id), namespace: namespaceName(spec.teamId), labels: labels(spec) },
      spec: {
        replicas: spec.replicas,
        selector: { matchLabels: selectorLabels(spec) },
        // Surge first, as the local provider: with one replica the new pod is ready before the old one stops.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: template as never,
      },
    }),
    'Deployment',
  );
}

export function serviceManifest(ref: ClusterRef): Manifest {
  return validated(
    new Service({
      metadata: { name: deploymentName(ref.id), namespace: namespaceName(ref.teamId), labels: labels(ref) },
      spec: { type: 'ClusterIP', selector: selectorLabels(ref), ports: [{ name: 'http', port: CONTAINER_PORT, targetPort: 'http', protocol: 'TCP' }] },
    }),
    'Service',
  );
}

/** Body of PATCH .../deployments/{name}/scale (merge patch). */
export function scalePatch(replicas: number): Manifest {
  return { spec: { replicas } };
}

/** Body of the strategic merge patch that `kubectl rollout restart` sends. */
export function restartPatch(at: string): Manifest {
  return { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: at } } } } };
}
