/**
 * Cluster rows. Every lookup a client can trigger is scoped by team id in the same query, so a cluster of
 * another team is indistinguishable from a missing one.
 */
import type { Kysely } from 'kysely';
import type { ClustersTable, CloudDatabase } from '../db/schema.js';

export async function insertCluster(db: Kysely<CloudDatabase>, row: ClustersTable): Promise<void> {
  await db.insertInto('clusters').values(row).execute();
}

export async function getTeamCluster(db: Kysely<CloudDatabase>, teamId: string, id: string): Promise<ClustersTable | undefined> {
  return db
    .selectFrom('clusters')
    .selectAll()
    .where('id', '=', id)
    .where('team_id', '=', teamId)
    .where('deleting', '=', 0)
    .executeTakeFirst();
}

export async function listTeamClusters(db: Kysely<CloudDatabase>, teamId: string): Promise<ClustersTable[]> {
  return db
    .selectFrom('clusters')
    .selectAll()
    .where('team_id', '=', teamId)
    .where('deleting', '=', 0)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export type DesiredPatch = Partial<Pick<ClustersTable, 'name' | 'status' | 'config_json' | 'restarted_at' | 'deleting'>>;

/**
 * Writes a change of the desired state when the row is still at `expectedVersion`, bumping the version.
 * Returns the new row, or 'conflict' when the version moved on, or 'missing'.
 */
export async function updateDesired(
  db: Kysely<CloudDatabase>,
  teamId: string,
  id: string,
  expectedVersion: number,
  patch: DesiredPatch,
  updatedAt: string,
): Promise<ClustersTable | 'conflict' | 'missing'> {
  const result = await db
    .updateTable('clusters')
    .set({ ...patch, version: expectedVersion + 1, updated_at: updatedAt })
    .where('id', '=', id)
    .where('team_id', '=', teamId)
    .where('deleting', '=', 0)
    .where('version', '=', expectedVersion)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 1) {
    return (await db.selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
  }
  return (await getTeamCluster(db, teamId, id)) ? 'conflict' : 'missing';
}

/** Every cluster, including ones being deleted: what the reconciler works through. */
export async function listAllClusters(db: Kysely<CloudDatabase>): Promise<ClustersTable[]> {
  return db.selectFrom('clusters').selectAll().orderBy('created_at').execute();
}

export async function getClusterForReconcile(db: Kysely<CloudDatabase>, id: string): Promise<ClustersTable | undefined> {
  return db.selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function setObserved(db: Kysely<CloudDatabase>, id: string, observedJson: string): Promise<void> {
  await db.updateTable('clusters').set({ observed_json: observedJson }).where('id', '=', id).execute();
}

export async function removeCluster(db: Kysely<CloudDatabase>, id: string): Promise<void> {
  await db.deleteFrom('clusters').where('id', '=', id).where('deleting', '=', 1).execute();
}
