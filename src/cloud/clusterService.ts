/**
 * Changes of a cluster's desired state: validation, optimistic concurrency, sealing of secret values, and the
 * audit entry, written in one transaction. Knows nothing about HTTP.
 */
import type { Kysely } from 'kysely';
import {
  ConfigError,
  openConfig,
  podTemplateText,
  redactConfig,
  resolveDesired,
  sealConfig,
  stableStringify,
  VERSION_KEY,
  type ClusterConfig,
  type ClusterStatus,
  type ConfigLimits,
} from './clusterConfig.js';
import type { ClustersTable, CloudDatabase } from './db/schema.js';
import { newId } from './ids.js';
import type { ClusterSpec, ObservedState } from './providers/types.js';
import type { SecretBox } from './secretBox.js';
import { recordAudit } from './store/audit.js';
import { getTeamCluster, insertCluster, listTeamClusters, updateDesired, type DesiredPatch } from './store/clusters.js';
import { nowDbTime } from './time.js';

/** The version given by a client did not match: somebody else changed the cluster since it was read. */
export class VersionConflict extends Error {
  constructor(readonly current: number, readonly given: number) {
    super(`cluster was changed by someone else: version ${given} is stale, the current version is ${current}; read it again and retry`);
  }
}

export class ClusterNotFound extends Error {
  constructor() {
    super('cluster not found');
  }
}

export interface ClusterView {
  id: string;
  team_id: string;
  name: string;
  status: ClusterStatus;
  config: ClusterConfig;
  /** What runs. `version` is the cluster version it was observed against (0 before the first observation). */
  observed: ObservedState;
  version: number;
  restarted_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ClusterChange {
  name?: unknown;
  status?: unknown;
  config?: unknown;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$/;

function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ConfigError([`cluster.name must be 1-63 letters, digits, spaces, '.', '_' or '-', got ${JSON.stringify(name)}`]);
  }
  return name;
}

function audited(row: Pick<ClustersTable, 'name' | 'status' | 'restarted_at'>, config: ClusterConfig) {
  return { name: row.name, status: row.status, restarted_at: row.restarted_at, config: redactConfig(config) };
}

export interface ClusterServiceOptions {
  db: Kysely<CloudDatabase>;
  box: SecretBox;
  limits: ConfigLimits;
  /** Called after every committed change, to wake the reconciler. */
  onChange: (clusterId: string) => void;
}

export class ClusterService {
  constructor(private readonly options: ClusterServiceOptions) {}

  private get db() {
    return this.options.db;
  }

  /** The stored config in the clear. */
  configOf(row: ClustersTable): ClusterConfig {
    return openConfig(JSON.parse(row.config_json) as ClusterConfig, this.options.box, row.id);
  }

  /** What the API shows. `redactSecrets` hides secret values (for viewers). */
  view(row: ClustersTable, redactSecrets = false): ClusterView {
    const plain = this.configOf(row);
    const config = { ...(redactSecrets ? redactConfig(plain) : plain), [VERSION_KEY]: row.version };
    return {
      id: row.id,
      team_id: row.team_id,
      name: row.name,
      status: row.status as ClusterStatus,
      config,
      observed: JSON.parse(row.observed_json),
      version: row.version,
      restarted_at: row.restarted_at,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  specOf(row: ClustersTable): ClusterSpec {
    const config = this.configOf(row);
    return {
      id: row.id,
      teamId: row.team_id,
      name: row.name,
      replicas: row.status === 'Stopped' ? 0 : config.replicaCount ?? 1,
      config,
      restartedAt: row.restarted_at,
      templateHash: this.options.box.digest(podTemplateText(config, row.restarted_at)),
      version: row.version,
    };
  }

  async list(teamId: string): Promise<ClustersTable[]> {
    return listTeamClusters(this.db, teamId);
  }

  async get(teamId: string, id: string): Promise<ClustersTable> {
    const row = await getTeamCluster(this.db, teamId, id);
    if (!row) throw new ClusterNotFound();
    return row;
  }

  async create(actorUserId: string, teamId: string, body: ClusterChange): Promise<ClustersTable> {
    const name = checkName(body.name);
    const desired = resolveDesired({ status: 'Active', config: { replicaCount: 1, extraEnvs: [] } }, body, this.options.limits);
    if (body.config === undefined) desired.config.extraEnvs = [];
    const id = newId();
    const now = nowDbTime();
    const row: ClustersTable = {
      id,
      team_id: teamId,
      name,
      status: desired.status,
      config_json: JSON.stringify(sealConfig(desired.config, this.options.box, id)),
      version: 1,
      restarted_at: null,
      deleting: 0,
      observed_json: JSON.stringify({
        status: desired.status === 'Active' ? 'Starting' : 'Stopped',
        reason: desired.status === 'Active' ? 'waiting for the reconciler' : null,
        desiredReplicas: desired.config.replicaCount ?? 0,
        replicas: 0,
        readyReplicas: 0,
        updatedReplicas: 0,
        url: null,
        version: 0,
        observedAt: new Date().toISOString(),
      }),
      created_at: now,
      updated_at: now,
    };
    await this.db.transaction().execute(async (trx) => {
      await insertCluster(trx, row);
      await recordAudit(trx, {
        actorUserId,
        teamId,
        clusterId: id,
        action: 'cluster.create',
        before: null,
        after: audited(row, desired.config),
      });
    });
    this.options.onChange(id);
    return row;
  }

  /**
   * Applies a change. `expectedVersion` comes from If-Match, the body's `version` or the config's `_version`;
   * without one the change applies to whatever is current (still atomically).
   */
  async update(
    actorUserId: string,
    teamId: string,
    id: string,
    change: ClusterChange,
    expectedVersion: number | undefined,
    action = 'cluster.update',
  ): Promise<ClustersTable> {
    return this.writeDesired(actorUserId, teamId, id, expectedVersion, (current) => {
      const before = this.configOf(current);
      const desired = resolveDesired({ status: current.status as ClusterStatus, config: before }, change, this.options.limits);
      const name = change.name === undefined ? current.name : checkName(change.name);
      const next = { name, status: desired.status, restarted_at: current.restarted_at };
      const unchanged =
        name === current.name && desired.status === current.status && stableStringify(desired.config) === stableStringify(before);
      if (unchanged) return null;
      return {
        patch: { name, status: desired.status, config_json: JSON.stringify(sealConfig(desired.config, this.options.box, id)) },
        action,
        before: audited(current, before),
        after: audited(next, desired.config),
      };
    });
  }

  /** A rolling restart: bumps restartedAt, which is part of the pod template. */
  async restart(actorUserId: string, teamId: string, id: string, expectedVersion: number | undefined): Promise<ClustersTable> {
    return this.writeDesired(actorUserId, teamId, id, expectedVersion, (current) => {
      const restartedAt = new Date().toISOString();
      return {
        patch: { restarted_at: restartedAt },
        action: 'cluster.restart',
        before: { restarted_at: current.restarted_at },
        after: { restarted_at: restartedAt },
      };
    });
  }

  /** Marks the cluster for deletion; the reconciler tears it down and removes the row. */
  async remove(actorUserId: string, teamId: string, id: string, expectedVersion: number | undefined): Promise<void> {
    await this.writeDesired(actorUserId, teamId, id, expectedVersion, (current) => ({
      patch: { deleting: 1 },
      action: 'cluster.delete',
      before: audited(current, this.configOf(current)),
      after: null,
    }));
  }

  /**
   * The one way a cluster's desired state changes: `plan` derives the change from the current row (null: nothing
   * to change), and the row is written with its audit entry in one transaction, guarded by its version. With
   * `expectedVersion` a newer row is a VersionConflict; without one the plan is made again from the newer row.
   */
  private async writeDesired(
    actorUserId: string,
    teamId: string,
    id: string,
    expectedVersion: number | undefined,
    plan: (current: ClustersTable) => { patch: DesiredPatch; action: string; before: unknown; after: unknown } | null,
  ): Promise<ClustersTable> {
    for (;;) {
      const current = await this.get(teamId, id);
      if (expectedVersion !== undefined && expectedVersion !== current.version) {
        throw new VersionConflict(current.version, expectedVersion);
      }
      const change = plan(current);
      if (!change) return current;
      const written = await this.db.transaction().execute(async (trx) => {
        const result = await updateDesired(trx, teamId, id, current.version, change.patch, nowDbTime());
        if (typeof result === 'string') return result;
        await recordAudit(trx, { actorUserId, teamId, clusterId: id, action: change.action, before: change.before, after: change.after });
        return result;
      });
      if (written === 'missing') throw new ClusterNotFound();
      if (written === 'conflict') {
        if (expectedVersion !== undefined) throw new VersionConflict(current.version + 1, expectedVersion);
        continue; // no version given: plan again from the newer row
      }
      this.options.onChange(id);
      return written;
    }
  }

  /** True when the change touches more than status and replicaCount (needs admin rights). */
  changesConfig(row: ClustersTable, change: ClusterChange): boolean {
    if (change.name !== undefined && change.name !== row.name) return true;
    if (change.config === undefined) return false;
    if (typeof change.config !== 'object' || change.config === null) return true;
    const { replicaCount: _a, [VERSION_KEY]: _b, ...given } = change.config as Record<string, unknown>;
    const { replicaCount: _c, ...current } = this.configOf(row);
    return stableStringify(given) !== stableStringify(current);
  }
}
