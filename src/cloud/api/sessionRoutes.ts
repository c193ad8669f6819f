/** POST /api/v1/sessions (sign in), DELETE /api/v1/sessions (sign out), GET /api/v1/users/me. */
import type { FastifyInstance } from 'fastify';
import { createSession, revokeSession } from '../store/sessions.js';
import { findUserById, findUserByEmail, normaliseEmail, setPasswordHash } from '../store/users.js';
import { teamsOfUser } from '../store/teams.js';
import { bodyObject, requireApiKey, requireUser, tokenOf, type CloudApiContext } from './context.js';
import { CloudApiError } from './errors.js';

/** Mage's message, the same for an unknown email and a wrong password. */
const INVALID = 'Email/username and/or password invalid.';

export function registerSessionRoutes(app: FastifyInstance, ctx: CloudApiContext): void {
  app.post('/api/v1/sessions', async (req, reply) => {
    await requireApiKey(ctx, req);
    const session = bodyObject(req, 'session');
    const { email, password } = session;
    if (typeof email !== 'string' || !email.trim() || typeof password !== 'string' || !password) {
      throw new CloudApiError(400, 'session.email and session.password are required', 'bad_request');
    }
    const normal = normaliseEmail(email);
    const wait = await ctx.guard.retryAfter(normal, req.ip);
    if (wait > 0) {
      void reply.header('Retry-After', String(wait));
      throw new CloudApiError(429, `too many failed sign-ins; try again in ${wait} s`, 'rate_limited');
    }
    const user = await findUserByEmail(ctx.db, normal);
    const ok = await ctx.hasher.verify(password, user?.password_hash);
    if (!user || !ok) {
      await ctx.guard.failed(normal, req.ip);
      throw new CloudApiError(401, INVALID, 'invalid_credentials');
    }
    await ctx.guard.succeeded(normal, req.ip);
    if (!user.password_hash.startsWith(`scrypt$${ctx.hasher.cost}$`)) {
      await setPasswordHash(ctx.db, user.id, await ctx.hasher.hash(password));
    }
    const { token, expiresAt } = await createSession(ctx.db, user.id, ctx.sessionTtlMs, {
      address: req.ip,
      userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : undefined,
    });
    const secure = ctx.cookieSecure === 'auto' ? req.protocol === 'https' : ctx.cookieSecure;
    void reply.header(
      'Set-Cookie',
      `oauth_token=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(ctx.sessionTtlMs / 1000)}${secure ? '; Secure' : ''}`,
    );
    return {
      session: {
        token,
        expires: expiresAt.toISOString(),
        user: { id: user.id, email: user.email },
      },
    };
  });

  app.delete('/api/v1/sessions', async (req) => {
    await requireUser(ctx, req);
    await revokeSession(ctx.db, tokenOf(req)!);
    return { session: { revoked: true } };
  });

  app.get('/api/v1/users/me', async (req) => {
    const userId = await requireUser(ctx, req);
    const user = await findUserById(ctx.db, userId);
    if (!user) throw new CloudApiError(401, 'user no longer exists', 'unauthenticated');
    const teams = await teamsOfUser(ctx.db, userId);
    return { user: { id: user.id, email: user.email, teams: teams.map((t) => ({ id: t.id, name: t.name, role: t.role })) } };
  });
}
