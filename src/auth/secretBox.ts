/**
 * Encryption at rest for secret values: AES-256-GCM with a project key. The key comes from
 * `BLOCKFLOW_SECRET_KEY` (base64, 32 bytes) or a key file generated once at `<dataDir>/.secrets/key` (mode
 * 0600), the same place Mage keeps its Fernet key. Ciphertext format: `v1:<key id>:<iv>:<tag>:<data>` (base64url),
 * so a future key rotation can tell which key sealed a value.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class SecretBox {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('The secret key must be 32 bytes.');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 12);
  }

  static load(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretBox {
    if (env.BLOCKFLOW_SECRET_KEY) return new SecretBox(Buffer.from(env.BLOCKFLOW_SECRET_KEY, 'base64'));
    const dir = join(dataDir, '.secrets');
    const file = join(dir, 'key');
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      try {
        writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
        chmodSync(file, 0o600);
      } catch (err) {
        // Another process created it first; use theirs.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    return new SecretBox(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const b = (x: Buffer) => x.toString('base64url');
    return `v1:${this.keyId}:${b(iv)}:${b(cipher.getAuthTag())}:${b(data)}`;
  }

  open(sealed: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 5 || parts[0] !== 'v1') throw new Error('Not a sealed secret value.');
    if (parts[1] !== this.keyId) throw new Error(`Secret was sealed with key ${parts[1]}, not the current key ${this.keyId}.`);
    const [iv, tag, data] = parts.slice(2).map((p) => Buffer.from(p, 'base64url'));
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  }
}
