/**
 * `secret`: named values, stored as ciphertext only (the caller encrypts; this module never sees plain
 * values). Names are unique per `repo_name`; secrets outside any repo use ''.
 */
import type { Kysely, Selectable } from 'kysely';
import { rethrowDuplicate } from './errors.js';
import type { Database, SecretTable } from './schema.js';
import { nowDbTime } from './time.js';
import { affected } from './tx.js';

export type SecretRow = Selectable<SecretTable>;

export interface NewSecret {
  name: string;
  /** Ciphertext. */
  value: string;
  /** Default ''. */
  repo_name?: string;
  /** Which encryption key produced `value`. */
  key_uuid?: string | null;
}

export class SecretsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  /** Throws DuplicateRecordError when the name exists in this repo. */
  async create(input: NewSecret): Promise<SecretRow> {
    if (!input.name || !input.name.trim()) throw new Error('secret name must not be empty');
    const now = nowDbTime();
    try {
      return await this.db
        .insertInto('secret')
        .values({
          name: input.name,
          value: input.value,
          repo_name: input.repo_name ?? '',
          key_uuid: input.key_uuid ?? null,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (err) {
      rethrowDuplicate(err, 'secret');
    }
  }

  /** Creates the secret, or replaces the value (and key id) of the one with this name in this repo. */
  async upsert(input: NewSecret): Promise<SecretRow> {
    if (!input.name || !input.name.trim()) throw new Error('secret name must not be empty');
    const now = nowDbTime();
    return this.db
      .insertInto('secret')
      .values({
        name: input.name,
        value: input.value,
        repo_name: input.repo_name ?? '',
        key_uuid: input.key_uuid ?? null,
        created_at: now,
        updated_at: now,
      })
      // One statement, so two concurrent writers of the same name cannot both insert.
      .onConflict((oc) =>
        oc.columns(['name', 'repo_name']).doUpdateSet((eb) => ({
          value: eb.ref('excluded.value'),
          key_uuid: eb.ref('excluded.key_uuid'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async get(name: string, repoName = ''): Promise<SecretRow | undefined> {
    return this.db.selectFrom('secret').selectAll().where('name', '=', name).where('repo_name', '=', repoName).executeTakeFirst();
  }

  /** Ids and names only, by name: values never leave through a list. */
  async listNames(repoName = ''): Promise<Array<{ id: number; name: string }>> {
    return this.db.selectFrom('secret').select(['id', 'name']).where('repo_name', '=', repoName).orderBy('name', 'asc').execute();
  }

  async deleteByName(name: string, repoName = ''): Promise<boolean> {
    return affected(await this.db.deleteFrom('secret').where('name', '=', name).where('repo_name', '=', repoName).executeTakeFirst()) > 0;
  }
}
