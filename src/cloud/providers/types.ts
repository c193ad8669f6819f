/** The contract between the reconciler and the places clusters run (local processes, Kubernetes). */
import type { ClusterConfig } from '../clusterConfig.js';

export type ObservedStatus = 'Starting' | 'Active' | 'Stopping' | 'Stopped' | 'Error';

export interface ReplicaObservation {
  id: string;
  pid?: number;
  port?: number;
  ready: boolean;
  /** Runs the desired pod template. */
  updated: boolean;
  restarts: number;
  state: string;
  lastExit?: string;
}

/** What a provider sees running for a cluster. */
export interface Observation {
  status: ObservedStatus;
  /** Why the status is not the desired one (crash, rollout in progress, API error), else null. */
  reason: string | null;
  desiredReplicas: number;
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  /** Where the cluster answers (a stable URL), when known. */
  url: string | null;
  /** Crash restarts so far (local provider). */
  restarts?: number;
  replicaDetails?: ReplicaObservation[];
}

export interface ObservedState extends Observation {
  /** The cluster version this observation was made against. */
  version: number;
  observedAt: string;
}

export interface ClusterRef {
  id: string;
  teamId: string;
}

/** The desired state of one cluster, with secret values in the clear (never persisted in this form). */
export interface ClusterSpec extends ClusterRef {
  name: string;
  replicas: number;
  config: ClusterConfig;
  /** Last restart request (ISO-8601), as kubectl's restartedAt annotation. */
  restartedAt: string | null;
  /** Keyed digest of the pod template (config's template keys + restartedAt): replicas roll when it changes. */
  templateHash: string;
  version: number;
}

export interface ClusterProvider {
  readonly name: string;
  /** Moves what runs toward `spec`. Idempotent; may return before the change has finished. */
  apply(spec: ClusterSpec): Promise<void>;
  observe(spec: ClusterSpec): Promise<Observation>;
  /** Removes everything that runs for the cluster. */
  destroy(ref: ClusterRef): Promise<void>;
  /** Called at start with every cluster that exists, to re-adopt what still runs and clean up the rest. */
  adopt(known: ClusterRef[]): Promise<void>;
  /** Stops the provider's own loops; `stopClusters` also stops what runs (else it is left for re-adoption). */
  close(options: { stopClusters: boolean }): Promise<void>;
}
