/** Reads and writes secrets: values sealed with the project's SecretBox before they reach the database. */
import type { Store } from '../store/db.js';
import type { SecretBox } from '../auth/secretBox.js';

export class SecretResolver {
  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    /** Mage's `repo_name` column: secrets are scoped to the project. */
    private readonly repoName: string,
  ) {}

  async get(name: string): Promise<string | undefined> {
    const row = await this.store.secrets.get(name, this.repoName);
    return row ? this.box.open(row.value) : undefined;
  }

  async set(name: string, value: string) {
    return this.store.secrets.upsert({ name, value: this.box.seal(value), repo_name: this.repoName, key_uuid: this.box.keyId });
  }

  list() {
    return this.store.secrets.listNames(this.repoName);
  }

  delete(name: string) {
    return this.store.secrets.deleteByName(name, this.repoName);
  }
}
