import type { Kysely } from 'kysely';
import type { CloudDatabase } from '../db/schema.js';
import { nowDbTime } from '../time.js';

export interface AuditEntry {
  actorUserId: string | null;
  teamId: string | null;
  clusterId: string | null;
  action: string;
  /** Already redacted: the audit log never sees secret values. */
  before: unknown;
  after: unknown;
}

export async function recordAudit(db: Kysely<CloudDatabase>, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      at: nowDbTime(),
      actor_user_id: entry.actorUserId,
      team_id: entry.teamId,
      cluster_id: entry.clusterId,
      action: entry.action,
      before_json: entry.before === undefined ? null : JSON.stringify(entry.before),
      after_json: entry.after === undefined ? null : JSON.stringify(entry.after),
    })
    .execute();
}

export interface AuditRecord {
  id: number;
  at: string;
  actor_user_id: string | null;
  team_id: string | null;
  cluster_id: string | null;
  action: string;
  before: unknown;
  after: unknown;
}

export async function auditOfTeam(db: Kysely<CloudDatabase>, teamId: string, clusterId?: string): Promise<AuditRecord[]> {
  let q = db.selectFrom('audit_log').selectAll().where('team_id', '=', teamId);
  if (clusterId) q = q.where('cluster_id', '=', clusterId);
  const rows = await q.orderBy('id').execute();
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at,
    actor_user_id: r.actor_user_id,
    team_id: r.team_id,
    cluster_id: r.cluster_id,
    action: r.action,
    before: r.before_json === null ? null : JSON.parse(r.before_json),
    after: r.after_json === null ? null : JSON.parse(r.after_json),
  }));
}
