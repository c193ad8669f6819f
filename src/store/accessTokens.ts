/**
 * `oauth2_access_token`: login sessions. The `token` column holds the SHA-256 hex of the raw token (see
 * src/auth/tokens.ts), never the token, so a copy of the database cannot be replayed as live sessions.
 */
import type { Kysely, Selectable } from 'kysely';
import { rethrowDuplicate } from './errors.js';
import type { Database, Oauth2AccessTokenTable } from './schema.js';
import { dbTime, nowDbTime, type DbTime, type TimeInput } from './time.js';
import { affected } from './tx.js';

export type AccessTokenRow = Selectable<Oauth2AccessTokenTable>;

export interface NewAccessTokenOptions {
  /** The oauth2_application the token was issued through (Mage's frontend client). Default null. */
  applicationId?: number | null;
  refreshToken?: string | null;
}

export class AccessTokensRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Stores a session. `tokenHash` is the SHA-256 hex of the raw token. */
  async create(userId: number, tokenHash: string, expires: TimeInput, opts: NewAccessTokenOptions = {}): Promise<AccessTokenRow> {
    if (!/^[0-9a-f]{64}$/.test(tokenHash)) throw new Error('access token hash must be 64 lowercase hex characters (SHA-256)');
    const now = nowDbTime();
    try {
      return await this.db
        .insertInto('oauth2_access_token')
        .values({
          created_at: now,
          updated_at: now,
          expires: dbTime(expires),
          token: tokenHash,
          user_id: userId,
          oauth2_application_id: opts.applicationId ?? null,
          refresh_token: opts.refreshToken ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      rethrowDuplicate(err, 'oauth2_access_token');
    }
  }

  /** The token row for this hash, expired or not (the caller tells "expired" from "unknown"). */
  async findByHash(tokenHash: string): Promise<AccessTokenRow | undefined> {
    return this.db.selectFrom('oauth2_access_token').selectAll().where('token', '=', tokenHash).executeTakeFirst();
  }

  /** Ends a session now (logout): Mage sets `expires` to the current time rather than deleting the row. */
  async expire(id: number, at: TimeInput = new Date()): Promise<boolean> {
    const when = dbTime(at);
    const r = await this.db
      .updateTable('oauth2_access_token')
      .set({ expires: when, updated_at: nowDbTime() })
      .where('id', '=', id)
      .executeTakeFirst();
    return affected(r) > 0;
  }

  /** Ends every session of a user (password change, user removal). Returns how many were deleted. */
  async deleteForUser(userId: number): Promise<number> {
    return affected(await this.db.deleteFrom('oauth2_access_token').where('user_id', '=', userId).executeTakeFirst());
  }

  /** Deletes sessions that expired at or before `now`. Returns how many were deleted. */
  async deleteExpired(now: TimeInput = new Date()): Promise<number> {
    // Timestamps are fixed-width UTC text, so a text comparison is a time comparison.
    const cutoff: DbTime = dbTime(now);
    return affected(await this.db.deleteFrom('oauth2_access_token').where('expires', '<=', cutoff).executeTakeFirst());
  }
}
