/**
 * Login attempts kept in the database, so the rate limit holds across restarts and across several
 * control-plane instances sharing one PostgreSQL database.
 */
import type { Kysely } from 'kysely';
import type { CloudDatabase } from '../db/schema.js';
import { toDbTime } from '../time.js';

export async function recordLoginAttempt(
  db: Kysely<CloudDatabase>,
  email: string,
  address: string,
  success: boolean,
  at = new Date(),
): Promise<void> {
  await db.insertInto('login_attempts').values({ email, address, at: toDbTime(at), success: success ? 1 : 0 }).execute();
}

/** Failed attempts since `since` for the email and for the address, and the oldest of each (for Retry-After). */
export async function recentFailures(
  db: Kysely<CloudDatabase>,
  email: string,
  address: string,
  since: Date,
): Promise<{ byEmail: number; byAddress: number; oldestEmail?: string; oldestAddress?: string }> {
  const cutoff = toDbTime(since);
  const count = (column: 'email' | 'address', value: string) =>
    db
      .selectFrom('login_attempts')
      .select((eb) => [eb.fn.countAll<string | number>().as('n'), eb.fn.min('at').as('oldest')])
      .where(column, '=', value)
      .where('success', '=', 0)
      .where('at', '>', cutoff)
      .executeTakeFirstOrThrow();
  const [e, a] = await Promise.all([count('email', email), count('address', address)]);
  return {
    byEmail: Number(e.n),
    byAddress: Number(a.n),
    oldestEmail: (e.oldest as string | null) ?? undefined,
    oldestAddress: (a.oldest as string | null) ?? undefined,
  };
}

/** Forgets the failures of an email after a successful login, so a typo an hour ago does not count forever. */
export async function clearFailures(db: Kysely<CloudDatabase>, email: string): Promise<void> {
  await db.deleteFrom('login_attempts').where('email', '=', email).where('success', '=', 0).execute();
}

/** Drops attempts older than `before` (housekeeping). */
export async function pruneLoginAttempts(db: Kysely<CloudDatabase>, before: Date): Promise<void> {
  await db.deleteFrom('login_attempts').where('at', '<', toDbTime(before)).execute();
}
