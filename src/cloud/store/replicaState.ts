/** What the local provider persists so a restarted control plane can re-adopt its replica processes. */
import type { Kysely } from 'kysely';
import type { CloudDatabase, ReplicasTable } from '../db/schema.js';

export interface ReplicaStateStore {
  listReplicas(): Promise<ReplicasTable[]>;
  saveReplica(row: ReplicasTable): Promise<void>;
  removeReplica(clusterId: string, replicaId: string): Promise<void>;
  endpointPort(clusterId: string): Promise<number | undefined>;
  saveEndpointPort(clusterId: string, port: number): Promise<void>;
  removeCluster(clusterId: string): Promise<void>;
}

export function dbReplicaStateStore(db: Kysely<CloudDatabase>): ReplicaStateStore {
  return {
    listReplicas: () => db.selectFrom('replicas').selectAll().execute(),
    async saveReplica(row) {
      await db
        .insertInto('replicas')
        .values(row)
        .onConflict((oc) => oc.columns(['cluster_id', 'replica_id']).doUpdateSet({ pid: row.pid, port: row.port, template_hash: row.template_hash }))
        .execute();
    },
    async removeReplica(clusterId, replicaId) {
      await db.deleteFrom('replicas').where('cluster_id', '=', clusterId).where('replica_id', '=', replicaId).execute();
    },
    async endpointPort(clusterId) {
      const row = await db.selectFrom('cluster_endpoints').select('port').where('cluster_id', '=', clusterId).executeTakeFirst();
      return row?.port;
    },
    async saveEndpointPort(clusterId, port) {
      await db
        .insertInto('cluster_endpoints')
        .values({ cluster_id: clusterId, port })
        .onConflict((oc) => oc.column('cluster_id').doUpdateSet({ port }))
        .execute();
    },
    async removeCluster(clusterId) {
      await db.deleteFrom('replicas').where('cluster_id', '=', clusterId).execute();
      await db.deleteFrom('cluster_endpoints').where('cluster_id', '=', clusterId).execute();
    },
  };
}
