import type { Kysely } from 'kysely';
import type { CloudDatabase, TeamsTable } from '../db/schema.js';
import { newId } from '../ids.js';
import { nowDbTime } from '../time.js';

export type TeamRole = 'owner' | 'admin' | 'member' | 'viewer';
export const TEAM_ROLES: readonly TeamRole[] = ['owner', 'admin', 'member', 'viewer'];

const RANK: Record<TeamRole, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };

/** True when `role` is at least `needed` (owner > admin > member > viewer). */
export function roleAtLeast(role: TeamRole, needed: TeamRole): boolean {
  return RANK[role] >= RANK[needed];
}

export async function createTeam(db: Kysely<CloudDatabase>, name: string, id = newId()): Promise<TeamsTable> {
  const row: TeamsTable = { id, name, created_at: nowDbTime() };
  await db.insertInto('teams').values(row).execute();
  return row;
}

export async function findTeam(db: Kysely<CloudDatabase>, id: string): Promise<TeamsTable | undefined> {
  return db.selectFrom('teams').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Adds a member, or changes the role of an existing one. */
export async function setMembership(db: Kysely<CloudDatabase>, teamId: string, userId: string, role: TeamRole): Promise<void> {
  await db
    .insertInto('memberships')
    .values({ team_id: teamId, user_id: userId, role, created_at: nowDbTime() })
    .onConflict((oc) => oc.columns(['team_id', 'user_id']).doUpdateSet({ role }))
    .execute();
}

export async function removeMembership(db: Kysely<CloudDatabase>, teamId: string, userId: string): Promise<void> {
  await db.deleteFrom('memberships').where('team_id', '=', teamId).where('user_id', '=', userId).execute();
}

/** The user's role in the team, or undefined when not a member. */
export async function roleOf(db: Kysely<CloudDatabase>, teamId: string, userId: string): Promise<TeamRole | undefined> {
  const row = await db
    .selectFrom('memberships')
    .select('role')
    .where('team_id', '=', teamId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row?.role as TeamRole | undefined;
}

export async function teamsOfUser(db: Kysely<CloudDatabase>, userId: string): Promise<Array<TeamsTable & { role: TeamRole }>> {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('teams', 'teams.id', 'memberships.team_id')
    .select(['teams.id', 'teams.name', 'teams.created_at', 'memberships.role'])
    .where('memberships.user_id', '=', userId)
    .orderBy('teams.created_at')
    .execute();
  return rows.map((r) => ({ ...r, role: r.role as TeamRole }));
}

export async function membersOf(db: Kysely<CloudDatabase>, teamId: string): Promise<Array<{ user_id: string; email: string; role: TeamRole }>> {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['memberships.user_id', 'users.email', 'memberships.role'])
    .where('memberships.team_id', '=', teamId)
    .orderBy('users.email')
    .execute();
  return rows.map((r) => ({ ...r, role: r.role as TeamRole }));
}
