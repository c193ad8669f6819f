/**
 * Authentication and authorisation as one Fastify hook. Each route declares `config: { resource, action }`
 * or `config: { public: true }`. The session token is read, in Mage's order, from the `OAUTH-TOKEN` header,
 * `Authorization: Bearer`, and the `oauth_token` cookie; a JWT (Mage's cookie form) is unwrapped to its inner
 * token. Mage's `X-API-KEY` / `api_key` is accepted and ignored: it is a public client id, not a credential.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from './context.js';
import { expiredToken, forbidden, invalidToken, unauthenticated } from './errors.js';
import { ACTION_MATRIX, atLeast, roleOf, type Action, type Role } from '../auth/roles.js';
import { hashToken, verifyJwt } from '../auth/tokens.js';
import type { UserRow } from '../store/users.js';

export interface RouteAuthConfig {
  public?: boolean;
  resource?: string;
  action?: Action;
}

export interface RequestAuth {
  user: UserRow | null;
  role: Role;
  /** Id of the access token row used, for logout. */
  tokenId: number | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: RequestAuth;
  }
  interface FastifyContextConfig {
    public?: boolean;
    resource?: string;
    action?: Action;
  }
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** The presented token, or undefined when none was sent. */
export function presentedToken(request: FastifyRequest): string | undefined {
  const h = request.headers;
  const oauth = h['oauth-token'];
  if (typeof oauth === 'string' && oauth) return oauth;
  const authz = h.authorization;
  if (typeof authz === 'string' && authz) {
    const m = /^Bearer\s+(.+)$/i.exec(authz.trim());
    return m ? m[1].trim() : authz.trim();
  }
  return readCookie(h.cookie, 'oauth_token');
}

export async function authenticate(ctx: AppContext, raw: string): Promise<{ user: UserRow; tokenId: number }> {
  let token = raw;
  if (raw.split('.').length === 3) {
    const payload = verifyJwt(raw, ctx.settings.jwtSecret);
    if (!payload || typeof payload.token !== 'string') throw invalidToken();
    token = payload.token;
  }
  const row = await ctx.store.accessTokens.findByHash(hashToken(token));
  if (!row) throw invalidToken();
  if (new Date(row.expires).getTime() <= Date.now()) throw expiredToken();
  const user = await ctx.store.users.getById(row.user_id);
  if (!user) throw invalidToken();
  return { user, tokenId: row.id };
}

export function registerAuth(app: FastifyInstance, ctx: AppContext): void {
  app.decorateRequest('auth', null as unknown as RequestAuth);
  // onRequest, before the body is read and validated: a caller without the right to the route learns
  // nothing about its payload rules and cannot make the server parse a large body.
  const authorize = async (request: FastifyRequest, config: RouteAuthConfig & { resource: string }): Promise<void> => {
    const raw = presentedToken(request);
    if (!raw) throw unauthenticated();
    const { user, tokenId } = await authenticate(ctx, raw);
    const role = roleOf(user);
    request.auth = { user, role, tokenId };
    const action = config.action ?? 'list';
    const needed = ACTION_MATRIX[config.resource]?.[action];
    if (!needed) throw forbidden(`The ${action} action is disabled for ${config.resource}.`);
    if (!atLeast(role, needed)) {
      throw forbidden(`The ${action} action on ${config.resource} needs the ${needed} role or higher; you are ${role}.`);
    }
  };
  // A callback hook: public routes (the synchronous runs among them) decide without waiting for anything.
  app.addHook('onRequest', (request, _reply, done) => {
    const config = request.routeOptions.config as RouteAuthConfig;
    if (config.public || !config.resource) {
      request.auth = { user: null, role: ctx.settings.requireAuth ? 'viewer' : 'owner', tokenId: null };
      return done();
    }
    if (!ctx.settings.requireAuth) {
      request.auth = { user: null, role: 'owner', tokenId: null };
      return done();
    }
    authorize(request, { ...config, resource: config.resource }).then(() => done(), done);
  });
}
