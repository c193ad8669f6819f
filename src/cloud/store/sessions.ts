import type { Kysely } from 'kysely';
import type { CloudDatabase } from '../db/schema.js';
import { hashToken, newRawToken } from '../../auth/tokens.js';
import { nowDbTime, toDbTime } from '../time.js';

export interface NewSession {
  token: string;
  expiresAt: Date;
}

export async function createSession(
  db: Kysely<CloudDatabase>,
  userId: string,
  ttlMs: number,
  meta: { address?: string; userAgent?: string } = {},
): Promise<NewSession> {
  const token = newRawToken();
  const now = new Date();
  const expiresAt = new Date(now.getTime() + ttlMs);
  await db
    .insertInto('sessions')
    .values({
      token_hash: hashToken(token),
      user_id: userId,
      created_at: toDbTime(now),
      expires_at: toDbTime(expiresAt),
      last_used_at: toDbTime(now),
      revoked_at: null,
      address: meta.address ?? null,
      user_agent: meta.userAgent ?? null,
    })
    .execute();
  return { token, expiresAt };
}

/**
 * The user id of a live session: not revoked, not past its absolute expiry, and used within `idleMs`.
 * Touches `last_used_at`.
 */
export async function userOfToken(db: Kysely<CloudDatabase>, token: string, idleMs: number): Promise<string | undefined> {
  const now = new Date();
  const row = await db
    .selectFrom('sessions')
    .select(['user_id', 'last_used_at'])
    .where('token_hash', '=', hashToken(token))
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', toDbTime(now))
    .where('last_used_at', '>', toDbTime(new Date(now.getTime() - idleMs)))
    .executeTakeFirst();
  if (!row) return undefined;
  await db.updateTable('sessions').set({ last_used_at: toDbTime(now) }).where('token_hash', '=', hashToken(token)).execute();
  return row.user_id;
}

export async function revokeSession(db: Kysely<CloudDatabase>, token: string): Promise<void> {
  await db.updateTable('sessions').set({ revoked_at: nowDbTime() }).where('token_hash', '=', hashToken(token)).execute();
}
