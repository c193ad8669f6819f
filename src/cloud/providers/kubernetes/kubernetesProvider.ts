/**
 * The Kubernetes provider: a Deployment (plus Service, and Secret for `config.secrets`) per cluster, in a
 * namespace per team. Start/stop goes through the /scale subresource, restart through the
 * kubectl.kubernetes.io/restartedAt annotation (what `kubectl rollout restart` patches), and environment changes
 * through the pod template, which makes the Deployment roll by itself.
 */
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Deployment,
} from '@kubernetes/client-node';
import type { ClusterProvider, ClusterRef, ClusterSpec, Observation } from '../types.js';
import {
  deploymentManifest,
  deploymentName,
  MANAGED_BY,
  namespaceManifest,
  namespaceName,
  RESTARTED_AT,
  restartPatch,
  scalePatch,
  secretManifest,
  secretName,
  serviceManifest,
  TEMPLATE_HASH,
  CONTAINER_PORT,
  type ManifestOptions,
} from './manifests.js';

export interface KubernetesProviderOptions extends ManifestOptions {
  /** Where the API server is and how to authenticate (KubeConfig.loadFromDefault() or loadFromOptions()). */
  kubeConfig: KubeConfig;
  /** Field manager sent with writes (default blockflow-cloud). */
  fieldManager?: string;
}

function statusCode(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

async function ignore(codes: number[], p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!codes.includes(statusCode(err) ?? -1)) throw err;
  }
}

/** Turns an ApiException into an Error whose message carries the API server's own reason. */
function explain(err: unknown, what: string): Error {
  if (err instanceof ApiException) {
    let message = '';
    try {
      const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      message = body?.message ?? '';
    } catch {
      message = String(err.body);
    }
    return new Error(`${what}: HTTP ${err.code}${message ? ` ${message}` : ''}`);
  }
  return err as Error;
}

/** A write lost a resourceVersion race; the caller reads again and retries. */
class ConflictRetry extends Error {
  constructor(readonly original: Error) {
    super(original.message);
  }
}

export class KubernetesProvider implements ClusterProvider {
  readonly name = 'kubernetes';
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly namespaces = new Set<string>();
  private readonly fieldManager: string;

  constructor(private readonly options: KubernetesProviderOptions) {
    this.apps = options.kubeConfig.makeApiClient(AppsV1Api);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.fieldManager = options.fieldManager ?? MANAGED_BY;
  }

  private async ensureNamespace(teamId: string): Promise<void> {
    const name = namespaceName(teamId);
    if (this.namespaces.has(name)) return;
    await ignore([409], this.core.createNamespace({ body: namespaceManifest(teamId), fieldManager: this.fieldManager }));
    this.namespaces.add(name);
  }

  private async readDeployment(ref: ClusterRef): Promise<V1Deployment | undefined> {
    try {
      return await this.apps.readNamespacedDeployment({ name: deploymentName(ref.id), namespace: namespaceName(ref.teamId) });
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw explain(err, 'reading the Deployment');
    }
  }

  async apply(spec: ClusterSpec): Promise<void> {
    const namespace = namespaceName(spec.teamId);
    await this.ensureNamespace(spec.teamId);
    await this.applySecret(spec);

    const desired = deploymentManifest(spec, this.options);
    // Status updates by the Deployment controller also move resourceVersion, so a guarded replace can meet a
    // 409 Conflict that no other writer caused: read again and retry a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.converge(spec, desired);
        break;
      } catch (err) {
        if (!(err instanceof ConflictRetry) || attempt >= 5) throw err instanceof ConflictRetry ? err.original : err;
      }
    }
    await ignore([409], this.core.createNamespacedService({ namespace, body: serviceManifest(spec), fieldManager: this.fieldManager })).catch(
      (err) => {
        throw explain(err, 'creating the Service');
      },
    );
  }

  private async converge(spec: ClusterSpec, desired: ReturnType<typeof deploymentManifest>): Promise<void> {
    const namespace = namespaceName(spec.teamId);
    const name = deploymentName(spec.id);
    const live = await this.readDeployment(spec);
    if (!live) {
      try {
        await this.apps.createNamespacedDeployment({ namespace, body: desired, fieldManager: this.fieldManager });
      } catch (err) {
        if (statusCode(err) === 409) throw new ConflictRetry(explain(err, 'creating the Deployment'));
        throw explain(err, 'creating the Deployment');
      }
      return;
    }
    const liveAnnotations = live.spec?.template?.metadata?.annotations ?? {};
    if (liveAnnotations[TEMPLATE_HASH] !== desired.spec.template.metadata.annotations[TEMPLATE_HASH]) {
      // A new pod template: replace it, guarded by resourceVersion. Replicas and restartedAt keep their live
      // values here; they have their own levers below.
      const body = structuredClone(desired);
      body.metadata.resourceVersion = live.metadata?.resourceVersion;
      body.spec.replicas = live.spec?.replicas ?? spec.replicas;
      delete body.spec.template.metadata.annotations[RESTARTED_AT];
      if (liveAnnotations[RESTARTED_AT]) body.spec.template.metadata.annotations[RESTARTED_AT] = liveAnnotations[RESTARTED_AT];
      try {
        await this.apps.replaceNamespacedDeployment({ name, namespace, body, fieldManager: this.fieldManager });
      } catch (err) {
        const error = explain(err, 'updating the Deployment pod template');
        throw statusCode(err) === 409 ? new ConflictRetry(error) : error;
      }
    }
    if ((live.spec?.replicas ?? 1) !== spec.replicas) {
      try {
        await this.apps.patchNamespacedDeploymentScale(
          { name, namespace, body: scalePatch(spec.replicas), fieldManager: this.fieldManager },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch (err) {
        throw explain(err, 'scaling the Deployment');
      }
    }
    if (spec.restartedAt && liveAnnotations[RESTARTED_AT] !== spec.restartedAt) {
      try {
        await this.apps.patchNamespacedDeployment(
          { name, namespace, body: restartPatch(spec.restartedAt), fieldManager: this.fieldManager },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        );
      } catch (err) {
        throw explain(err, 'restarting the Deployment');
      }
    }
  }

  private async applySecret(spec: ClusterSpec): Promise<void> {
    const namespace = namespaceName(spec.teamId);
    const name = secretName(spec.id);
    const body = secretManifest(spec);
    try {
      if (!body) {
        await ignore([404], this.core.deleteNamespacedSecret({ name, namespace }));
        return;
      }
      try {
        await this.core.replaceNamespacedSecret({ name, namespace, body, fieldManager: this.fieldManager });
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
        await this.core.createNamespacedSecret({ namespace, body, fieldManager: this.fieldManager });
      }
    } catch (err) {
      throw explain(err, 'writing the Secret');
    }
  }

  async observe(spec: ClusterSpec): Promise<Observation> {
    const live = await this.readDeployment(spec);
    const base = {
      desiredReplicas: spec.replicas,
      replicas: live?.status?.replicas ?? 0,
      readyReplicas: live?.status?.readyReplicas ?? 0,
      updatedReplicas: live?.status?.updatedReplicas ?? 0,
      url: `http://${deploymentName(spec.id)}.${namespaceName(spec.teamId)}.svc:${CONTAINER_PORT}`,
    };
    if (!live) return { ...base, status: spec.replicas ? 'Starting' : 'Stopped', reason: 'the Deployment does not exist yet' };
    const conditions = live.status?.conditions ?? [];
    const progressing = conditions.find((c) => c.type === 'Progressing');
    const failure = conditions.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
    const generationSeen = (live.status?.observedGeneration ?? 0) >= (live.metadata?.generation ?? 0);
    if (spec.replicas === 0) {
      return base.replicas > 0 || !generationSeen
        ? { ...base, status: 'Stopping', reason: `${base.replicas} pod(s) still running` }
        : { ...base, status: 'Stopped', reason: null };
    }
    if (progressing?.status === 'False') {
      return { ...base, status: 'Error', reason: `${progressing.reason ?? 'rollout failed'}: ${progressing.message ?? ''}`.trim() };
    }
    if (failure) return { ...base, status: 'Error', reason: `${failure.reason ?? 'ReplicaFailure'}: ${failure.message ?? ''}`.trim() };
    const done =
      generationSeen &&
      base.updatedReplicas === spec.replicas &&
      base.readyReplicas === spec.replicas &&
      (live.status?.availableReplicas ?? 0) === spec.replicas &&
      base.replicas === spec.replicas &&
      (live.spec?.replicas ?? 0) === spec.replicas;
    if (done) return { ...base, status: 'Active', reason: null };
    return {
      ...base,
      status: 'Starting',
      reason: `rollout: ${base.updatedReplicas} of ${spec.replicas} updated, ${base.readyReplicas} ready`,
    };
  }

  async destroy(ref: ClusterRef): Promise<void> {
    const namespace = namespaceName(ref.teamId);
    const name = deploymentName(ref.id);
    try {
      await ignore([404], this.apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: 'Foreground' }));
      await ignore([404], this.core.deleteNamespacedService({ name, namespace }));
      await ignore([404], this.core.deleteNamespacedSecret({ name: secretName(ref.id), namespace }));
    } catch (err) {
      throw explain(err, 'deleting the cluster');
    }
  }

  /** Deployments this control plane made for clusters it no longer knows are deleted. */
  async adopt(known: ClusterRef[]): Promise<void> {
    const ids = new Set(known.map((k) => k.id));
    const list = await this.apps.listDeploymentForAllNamespaces({ labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY}` });
    for (const d of list.items) {
      const id = d.metadata?.labels?.['blockflow.io/cluster-id'];
      const teamId = d.metadata?.labels?.['blockflow.io/team-id'];
      if (id && teamId && !ids.has(id)) await this.destroy({ id, teamId });
    }
  }

  async close(): Promise<void> {
    // Nothing runs in this process: the Deployments are Kubernetes' to keep.
  }
}
