/**
 * `POST /api/sessions` (log in) and `PUT /api/sessions/{any}` (log out), mage-api.md §2.3.
 * The answer carries Mage's JWT form of the token; the raw token is only ever stored hashed.
 */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { ApiError, badRequest } from '../errors.js';
import { itemEnvelope } from '../envelope.js';
import { presentUser } from './presenters.js';
import { burnPasswordCheck, verifyPassword } from '../../auth/passwords.js';
import { hashToken, newRawToken, signJwt } from '../../auth/tokens.js';
import { LoginLimiter } from '../../auth/loginLimiter.js';
import { toDbTime } from '../../store/time.js';

const INVALID = 'Email/username and/or password invalid.';

export default async function sessionRoutes(app: App, ctx: AppContext): Promise<void> {
  const limiter = (ctx.services.loginLimiter as LoginLimiter | undefined) ?? new LoginLimiter();

  app.post(
    '/api/sessions',
    {
      config: { public: true },
      schema: {
        tags: ['sessions'],
        summary: 'Log in with email or username and password; returns a session token.',
        body: Type.Object(
          {
            session: Type.Object(
              {
                email: Type.Optional(Type.String({ maxLength: 320 })),
                username: Type.Optional(Type.String({ maxLength: 320 })),
                password: Type.String({ minLength: 1, maxLength: 1024 }),
              },
              { additionalProperties: false },
            ),
            api_key: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { session } = request.body;
      const login = session.email ?? session.username;
      if (!login) throw badRequest('session.email or session.username is required.');
      const wait = limiter.retryAfter(login, request.ip);
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        throw new ApiError(429, 'too_many_requests', `Too many failed logins; try again in ${wait} seconds.`);
      }
      const user = await ctx.store.users.getByEmailOrUsername(login);
      if (!user) {
        await burnPasswordCheck(session.password);
        limiter.recordFailure(login, request.ip);
        throw new ApiError(401, 'invalid_credentials', INVALID);
      }
      if (!(await verifyPassword(session.password, user.password_hash))) {
        limiter.recordFailure(login, request.ip);
        throw new ApiError(401, 'invalid_credentials', INVALID);
      }
      limiter.recordSuccess(login);
      const raw = newRawToken();
      const expires = new Date(Date.now() + ctx.settings.tokenTtlSeconds * 1000);
      await ctx.store.accessTokens.create(user.id, hashToken(raw), expires);
      const jwt = signJwt({ token: raw, expires: Math.floor(expires.getTime() / 1000) }, ctx.settings.jwtSecret);
      reply.header(
        'set-cookie',
        `oauth_token=${jwt}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${ctx.settings.tokenTtlSeconds}${request.protocol === 'https' ? '; Secure' : ''}`,
      );
      return itemEnvelope('session', { expires: toDbTime(expires), token: jwt, user: presentUser(user) });
    },
  );

  app.put(
    '/api/sessions/:id',
    {
      config: { resource: 'sessions', action: 'update' },
      // Logging out needs no payload; a bare `PUT /api/sessions/1` is validated as `{}`.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ['sessions'],
        summary: 'Log out: expires the token used for this request.',
        params: Type.Object({ id: Type.String() }),
        body: Type.Optional(Type.Object({ session: Type.Optional(Type.Object({}, { additionalProperties: true })) }, { additionalProperties: true })),
      },
    },
    async (request, reply) => {
      const { auth } = request;
      if (auth.tokenId !== null) await ctx.store.accessTokens.expire(auth.tokenId);
      reply.header('set-cookie', 'oauth_token=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0');
      return itemEnvelope('session', { expires: toDbTime(new Date()), token: null, user: auth.user ? presentUser(auth.user) : null });
    },
  );
}
