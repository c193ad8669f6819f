import type { Kysely } from 'kysely';
import type { CloudDatabase } from '../db/schema.js';
import { newId } from '../ids.js';
import { hashToken } from '../../auth/tokens.js';
import { nowDbTime } from '../time.js';

/** Registers a client application key (idempotent for the same key). */
export async function addApiClient(db: Kysely<CloudDatabase>, name: string, key: string): Promise<void> {
  await db
    .insertInto('api_clients')
    .values({ id: newId(), name, key_hash: hashToken(key), created_at: nowDbTime() })
    .onConflict((oc) => oc.column('key_hash').doNothing())
    .execute();
}

/** Looked up by hash: equality on a SHA-256 of the key leaks nothing useful through timing. */
export async function isKnownApiKey(db: Kysely<CloudDatabase>, key: string): Promise<boolean> {
  const row = await db.selectFrom('api_clients').select('id').where('key_hash', '=', hashToken(key)).executeTakeFirst();
  return row !== undefined;
}

export async function countApiClients(db: Kysely<CloudDatabase>): Promise<number> {
  const row = await db.selectFrom('api_clients').select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}
