/** Teams, their members and roles, and the team's audit log. */
import type { FastifyInstance } from 'fastify';
import { auditOfTeam } from '../store/audit.js';
import { createTeam, findTeam, membersOf, removeMembership, roleOf, setMembership, teamsOfUser, TEAM_ROLES, type TeamRole } from '../store/teams.js';
import { createUser, findUserByEmail } from '../store/users.js';
import { recordAudit } from '../store/audit.js';
import { bodyObject, requireRole, requireUser, type CloudApiContext } from './context.js';
import { CloudApiError } from './errors.js';

function checkRole(role: unknown): TeamRole {
  if (!TEAM_ROLES.includes(role as TeamRole)) {
    throw new CloudApiError(422, `role must be one of ${TEAM_ROLES.join(', ')}, got ${JSON.stringify(role)}`, 'invalid_role');
  }
  return role as TeamRole;
}

export function registerTeamRoutes(app: FastifyInstance, ctx: CloudApiContext): void {
  app.get('/api/v1/teams', async (req) => {
    const userId = await requireUser(ctx, req);
    const teams = await teamsOfUser(ctx.db, userId);
    return { teams: teams.map((t) => ({ id: t.id, name: t.name, role: t.role, created_at: t.created_at })) };
  });

  app.post('/api/v1/teams', async (req) => {
    const userId = await requireUser(ctx, req);
    const { name } = bodyObject(req, 'team');
    if (typeof name !== 'string' || !name.trim() || name.length > 100) {
      throw new CloudApiError(422, 'team.name must be a non-empty string of at most 100 characters', 'invalid_team');
    }
    const team = await ctx.db.transaction().execute(async (trx) => {
      const t = await createTeam(trx, name.trim());
      await setMembership(trx, t.id, userId, 'owner');
      await recordAudit(trx, { actorUserId: userId, teamId: t.id, clusterId: null, action: 'team.create', before: null, after: { name: t.name } });
      return t;
    });
    return { team: { ...team, role: 'owner' } };
  });

  app.get<{ Params: { team_id: string } }>('/api/v1/teams/:team_id', async (req) => {
    const userId = await requireUser(ctx, req);
    const role = await requireRole(ctx, userId, req.params.team_id, 'viewer');
    const team = await findTeam(ctx.db, req.params.team_id);
    return { team: { ...team, role } };
  });

  app.get<{ Params: { team_id: string } }>('/api/v1/teams/:team_id/members', async (req) => {
    const userId = await requireUser(ctx, req);
    await requireRole(ctx, userId, req.params.team_id, 'viewer');
    return { members: await membersOf(ctx.db, req.params.team_id) };
  });

  /** Adds a member by email (creating the user when a password is given) or changes a member's role. */
  app.post<{ Params: { team_id: string } }>('/api/v1/teams/:team_id/members', async (req) => {
    const teamId = req.params.team_id;
    const userId = await requireUser(ctx, req);
    const myRole = await requireRole(ctx, userId, teamId, 'admin');
    const { email, role, password } = bodyObject(req, 'member');
    const wanted = checkRole(role);
    if (wanted === 'owner' && myRole !== 'owner') throw new CloudApiError(403, 'only an owner can make another owner', 'forbidden');
    if (typeof email !== 'string' || !email.includes('@')) throw new CloudApiError(422, 'member.email must be an email address', 'invalid_member');
    let user = await findUserByEmail(ctx.db, email);
    if (!user) {
      if (typeof password !== 'string' || password.length < 8) {
        throw new CloudApiError(404, `no user ${email}; give member.password (8+ characters) to create one`, 'not_found');
      }
      user = await createUser(ctx.db, email, await ctx.hasher.hash(password));
    }
    const before = await roleOf(ctx.db, teamId, user.id);
    if (before === 'owner' && myRole !== 'owner') throw new CloudApiError(403, 'only an owner can change an owner', 'forbidden');
    await setMembership(ctx.db, teamId, user.id, wanted);
    await recordAudit(ctx.db, {
      actorUserId: userId,
      teamId,
      clusterId: null,
      action: 'team.member.set',
      before: before ? { user_id: user.id, role: before } : null,
      after: { user_id: user.id, role: wanted },
    });
    return { member: { user_id: user.id, email: user.email, role: wanted } };
  });

  app.delete<{ Params: { team_id: string; user_id: string } }>('/api/v1/teams/:team_id/members/:user_id', async (req) => {
    const { team_id: teamId, user_id: target } = req.params;
    const userId = await requireUser(ctx, req);
    const myRole = await requireRole(ctx, userId, teamId, 'admin');
    const role = await roleOf(ctx.db, teamId, target);
    if (!role) throw new CloudApiError(404, 'member not found', 'not_found');
    if (role === 'owner') {
      if (myRole !== 'owner') throw new CloudApiError(403, 'only an owner can remove an owner', 'forbidden');
      const owners = (await membersOf(ctx.db, teamId)).filter((m) => m.role === 'owner');
      if (owners.length === 1) throw new CloudApiError(422, 'a team keeps at least one owner', 'last_owner');
    }
    await removeMembership(ctx.db, teamId, target);
    await recordAudit(ctx.db, { actorUserId: userId, teamId, clusterId: null, action: 'team.member.remove', before: { user_id: target, role }, after: null });
    return { member: { user_id: target, removed: true } };
  });

  app.get<{ Params: { team_id: string }; Querystring: { cluster_id?: string } }>('/api/v1/teams/:team_id/audit_logs', async (req) => {
    const userId = await requireUser(ctx, req);
    await requireRole(ctx, userId, req.params.team_id, 'admin');
    return { audit_logs: await auditOfTeam(ctx.db, req.params.team_id, req.query.cluster_id) };
  });
}
