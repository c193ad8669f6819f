/** What the Cloud API's route modules share, and the request-level checks (API key, session, team role). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ClusterService } from '../clusterService.js';
import type { CloudDatabase } from '../db/schema.js';
import type { LoginGuard } from '../loginGuard.js';
import type { PasswordHasher } from '../../auth/passwords.js';
import { isKnownApiKey } from '../store/apiClients.js';
import { userOfToken } from '../store/sessions.js';
import { roleAtLeast, roleOf, type TeamRole } from '../store/teams.js';
import { CloudApiError } from './errors.js';

export interface CloudApiContext {
  db: Kysely<CloudDatabase>;
  service: ClusterService;
  hasher: PasswordHasher;
  guard: LoginGuard;
  /** Absolute session lifetime. */
  sessionTtlMs: number;
  /** Sessions unused this long stop working. */
  sessionIdleMs: number;
  /** Set the Secure flag on the session cookie: always, never, or when the request came over https. */
  cookieSecure: boolean | 'auto';
}

export function apiKeyOf(req: FastifyRequest): string | undefined {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header) return header;
  const query = (req.query as Record<string, unknown> | undefined)?.api_key;
  return typeof query === 'string' && query ? query : undefined;
}

/** The session token from `Cookie: oauth_token=`, `Authorization: Bearer` or `OAUTH-TOKEN`. */
export function tokenOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim() || undefined;
  const header = req.headers['oauth-token'];
  if (typeof header === 'string' && header) return header;
  const cookie = req.headers.cookie;
  if (typeof cookie === 'string') {
    for (const part of cookie.split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name === 'oauth_token' && rest.length) return decodeURIComponent(rest.join('='));
    }
  }
  return undefined;
}

export async function requireApiKey(ctx: CloudApiContext, req: FastifyRequest): Promise<void> {
  const key = apiKeyOf(req);
  if (!key) throw new CloudApiError(401, 'missing X-API-KEY header (the client application key)', 'invalid_api_key');
  if (!(await isKnownApiKey(ctx.db, key))) throw new CloudApiError(401, 'unknown X-API-KEY', 'invalid_api_key');
}

/** The signed-in user's id; 401 without a live session. */
export async function requireUser(ctx: CloudApiContext, req: FastifyRequest): Promise<string> {
  await requireApiKey(ctx, req);
  const token = tokenOf(req);
  if (!token) throw new CloudApiError(401, 'not signed in: send the session token as Cookie oauth_token or Authorization: Bearer', 'unauthenticated');
  const userId = await userOfToken(ctx.db, token, ctx.sessionIdleMs);
  if (!userId) throw new CloudApiError(401, 'session expired or invalid; sign in again', 'unauthenticated');
  return userId;
}

/**
 * The user's role in the team, checked against `needed`. A team the user is not in answers 404, like a missing
 * one, so team ids cannot be probed.
 */
export async function requireRole(ctx: CloudApiContext, userId: string, teamId: string, needed: TeamRole): Promise<TeamRole> {
  const role = await roleOf(ctx.db, teamId, userId);
  if (!role) throw new CloudApiError(404, 'team not found', 'not_found');
  if (!roleAtLeast(role, needed)) throw new CloudApiError(403, `this needs the ${needed} role in the team; you are ${role}`, 'forbidden');
  return role;
}

export function bodyObject(req: FastifyRequest, key: string): Record<string, unknown> {
  const body = req.body as Record<string, unknown> | undefined;
  const inner = body?.[key];
  if (!inner || typeof inner !== 'object' || Array.isArray(inner)) {
    throw new CloudApiError(400, `the body must be {"${key}": {...}}`, 'bad_request');
  }
  return inner as Record<string, unknown>;
}

export function setEtag(reply: FastifyReply, version: number): void {
  void reply.header('ETag', `"${version}"`);
}

/** The version a client expects, from If-Match (`"3"`, `W/"3"`, `3`), or undefined (`*` or absent). */
export function ifMatchVersion(req: FastifyRequest): number | undefined {
  const header = req.headers['if-match'];
  if (typeof header !== 'string' || header.trim() === '*' || header.trim() === '') return undefined;
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(header.trim());
  if (!m) throw new CloudApiError(400, `If-Match must be an ETag from this API such as "3", got ${header}`, 'bad_request');
  return Number(m[1]);
}
