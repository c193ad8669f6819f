/** The `user` table: accounts, Mage's legacy `roles` bitmask and the `owner` flag. */
import type { Kysely, Selectable } from 'kysely';
import { definedOnly, parseJson, toBool, toJson, type JsonObject } from './codec.js';
import { rethrowDuplicate } from './errors.js';
import type { Database, UserTable } from './schema.js';
import { nowDbTime, type DbTime } from './time.js';
import { affected, paged, type ListResult, type Page } from './tx.js';

export interface UserRow {
  id: number;
  created_at: DbTime;
  updated_at: DbTime;
  username: string | null;
  email: string | null;
  password_hash: string | null;
  /** Kept for Mage compatibility (bcrypt salt there); our hashes embed their salt, so this is usually null. */
  password_salt: string | null;
  /** Mage's legacy bitmask: 1 admin, 2 editor, 4 viewer. */
  roles: number | null;
  owner: boolean;
  avatar: string | null;
  first_name: string | null;
  last_name: string | null;
  preferences: JsonObject | null;
}

export interface NewUser {
  username?: string | null;
  email?: string | null;
  password_hash?: string | null;
  password_salt?: string | null;
  roles?: number | null;
  owner?: boolean;
  avatar?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  preferences?: JsonObject | null;
}

export type UserPatch = NewUser;

function toRow(r: Selectable<UserTable>): UserRow {
  return { ...r, owner: toBool(r.owner), preferences: parseJson<JsonObject>(r.preferences, 'user.preferences') };
}

function toColumns(input: NewUser) {
  return definedOnly({ ...input, preferences: toJson(input.preferences) });
}

export class UsersRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Throws DuplicateRecordError when the username or email is taken. */
  async create(input: NewUser): Promise<UserRow> {
    const now = nowDbTime();
    try {
      const row = await this.db
        .insertInto('user')
        .values({ ...toColumns(input), owner: input.owner ?? false, created_at: now, updated_at: now })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toRow(row);
    } catch (err) {
      rethrowDuplicate(err, 'user');
    }
  }

  async getById(id: number): Promise<UserRow | undefined> {
    const row = await this.db.selectFrom('user').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRow(row);
  }

  /** Mage's login takes either; the email match wins when one user's email is another's username. */
  async getByEmailOrUsername(emailOrUsername: string): Promise<UserRow | undefined> {
    const rows = await this.db
      .selectFrom('user')
      .selectAll()
      .where((eb) => eb.or([eb('email', '=', emailOrUsername), eb('username', '=', emailOrUsername)]))
      .execute();
    const row = rows.find((r) => r.email === emailOrUsername) ?? rows[0];
    return row && toRow(row);
  }

  /** One page of users by id ascending, and the total. */
  async list(page: Page = {}): Promise<ListResult<UserRow>> {
    const q = this.db.selectFrom('user').selectAll().orderBy('id', 'asc');
    return { rows: (await paged(q, page).execute()).map(toRow), count: await this.count() };
  }

  /** The first owner account (lowest id), if any. */
  async findOwner(): Promise<UserRow | undefined> {
    const row = await this.db.selectFrom('user').selectAll().where('owner', '=', true).orderBy('id', 'asc').limit(1).executeTakeFirst();
    return row && toRow(row);
  }

  /** Returns the updated row, or undefined when there is no such user. */
  async update(id: number, patch: UserPatch): Promise<UserRow | undefined> {
    try {
      const row = await this.db
        .updateTable('user')
        .set({ ...toColumns(patch), updated_at: nowDbTime() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row && toRow(row);
    } catch (err) {
      rethrowDuplicate(err, 'user');
    }
  }

  /** Deletes the user; their access tokens, role links and permissions go with them (ON DELETE CASCADE). */
  async delete(id: number): Promise<boolean> {
    return affected(await this.db.deleteFrom('user').where('id', '=', id).executeTakeFirst()) > 0;
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('user').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return r.n;
  }
}
