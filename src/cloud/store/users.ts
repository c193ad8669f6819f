import type { Kysely } from 'kysely';
import type { CloudDatabase, UsersTable } from '../db/schema.js';
import { newId } from '../ids.js';
import { nowDbTime } from '../time.js';

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function createUser(db: Kysely<CloudDatabase>, email: string, passwordHash: string): Promise<UsersTable> {
  const row: UsersTable = { id: newId(), email: normaliseEmail(email), password_hash: passwordHash, created_at: nowDbTime() };
  await db.insertInto('users').values(row).execute();
  return row;
}

export async function findUserByEmail(db: Kysely<CloudDatabase>, email: string): Promise<UsersTable | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', normaliseEmail(email)).executeTakeFirst();
}

export async function findUserById(db: Kysely<CloudDatabase>, id: string): Promise<UsersTable | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function setPasswordHash(db: Kysely<CloudDatabase>, id: string, passwordHash: string): Promise<void> {
  await db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', id).execute();
}
