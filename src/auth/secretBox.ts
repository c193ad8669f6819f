/**
 * Encryption at rest for secret values: AES-256-GCM. {@link sealAesGcm}/{@link openAesGcm} are the one cipher
 * core; the server's {@link SecretBox} and the cloud control plane's box (src/cloud/secretBox.ts) each wrap it in
 * their own stored format.
 *
 * Server format: a project key from `BLOCKFLOW_SECRET_KEY` (base64, 32 bytes) or a key file `key` generated once
 * in the server's key folder (mode 0600; where that folder is: src/auth/keyFiles.ts). Ciphertext:
 * `v1:<key id>:<iv>:<tag>:<data>` (base64url), so a future key rotation can tell which key sealed a value.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readOrCreateKeyFile } from './keyFiles.js';

const IV_LENGTH = 12;
const TAG_LENGTH = 16;

/** One AES-256-GCM ciphertext, each part base64url. */
export interface AesGcmSealed {
  /** The 12-byte nonce, fresh for every seal. */
  iv: string;
  /** The 16-byte authentication tag. */
  tag: string;
  data: string;
}

function checkKey(key: Buffer): void {
  if (key.length !== 32) throw new Error(`an AES-256-GCM key must be 32 bytes, got ${key.length}`);
}

/**
 * Encrypts `plain` (UTF-8) under the 32-byte `key` with a random IV.
 * @param aad additional authenticated data: not stored, but the same value must be given to open.
 */
export function sealAesGcm(key: Buffer, plain: string, aad?: string | Buffer): AesGcmSealed {
  checkKey(key);
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  if (aad !== undefined) cipher.setAAD(Buffer.from(aad));
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  const b = (x: Buffer) => x.toString('base64url');
  return { iv: b(iv), tag: b(cipher.getAuthTag()), data: b(data) };
}

/**
 * Decrypts what {@link sealAesGcm} produced. Throws when a part is malformed, or when the key, the data or `aad`
 * differ from the sealing ones (GCM authentication).
 */
export function openAesGcm(key: Buffer, sealed: AesGcmSealed, aad?: string | Buffer): string {
  checkKey(key);
  const iv = Buffer.from(sealed.iv ?? '', 'base64url');
  const tag = Buffer.from(sealed.tag ?? '', 'base64url');
  if (iv.length !== IV_LENGTH || tag.length !== TAG_LENGTH || typeof sealed.data !== 'string') {
    throw new Error(`malformed AES-256-GCM value: expected a ${IV_LENGTH}-byte IV and a ${TAG_LENGTH}-byte tag`);
  }
  // authTagLength pins the tag to 16 bytes: GCM would otherwise accept truncated (weaker) tags.
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  if (aad !== undefined) decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64url')), decipher.final()]).toString('utf8');
}

/** The server's box: `v1:<key id>:<iv>:<tag>:<data>`, no additional authenticated data. */
export class SecretBox {
  /** The first 12 hex digits of the key's SHA-256, written into every ciphertext. */
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('The secret key must be 32 bytes.');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 12);
  }

  /** The box for `BLOCKFLOW_SECRET_KEY` in `env`, else for `<keysDir>/key` (created when missing). */
  static load(keysDir: string, env: NodeJS.ProcessEnv = process.env): SecretBox {
    if (env.BLOCKFLOW_SECRET_KEY) return new SecretBox(Buffer.from(env.BLOCKFLOW_SECRET_KEY, 'base64'));
    return new SecretBox(Buffer.from(readOrCreateKeyFile(keysDir, 'key', () => randomBytes(32).toString('base64')), 'base64'));
  }

  seal(plain: string): string {
    const { iv, tag, data } = sealAesGcm(this.key, plain);
    return `v1:${this.keyId}:${iv}:${tag}:${data}`;
  }

  open(sealed: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 5 || parts[0] !== 'v1') throw new Error('Not a sealed secret value.');
    if (parts[1] !== this.keyId) throw new Error(`Secret was sealed with key ${parts[1]}, not the current key ${this.keyId}.`);
    const [iv, tag, data] = parts.slice(2);
    return openAesGcm(this.key, { iv, tag, data });
  }
}
