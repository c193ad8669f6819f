/**
 * AES-256-GCM encryption of secret config values (extraEnvs values, `secrets` entries) at rest.
 * The 32-byte master key comes from env BLOCKFLOW_CLOUD_MASTER_KEY (base64 or hex) or, when unset, from a key
 * file in the control plane's data dir that is generated on first start with mode 0600.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const PREFIX = 'enc:v1:';

export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error(`master key must be 32 bytes, got ${key.length}`);
  }

  /** Encrypts `plain`; `context` (e.g. the cluster id) is authenticated, so a value cannot be moved elsewhere. */
  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${PREFIX}${iv.toString('base64url')}:${tag.toString('base64url')}:${body.toString('base64url')}`;
  }

  open(sealed: string, context: string): string {
    if (!sealed.startsWith(PREFIX)) throw new Error('not an encrypted value');
    const [iv, tag, body] = sealed.slice(PREFIX.length).split(':');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }

  /**
   * A keyed digest of `data` (HMAC-SHA-256 under a subkey of the master key). Used for pod-template hashes,
   * which cover secret env values: a plain hash stored in the database would let low-entropy secrets be guessed.
   */
  digest(data: string): string {
    this.macKey ??= Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), 'blockflow-cloud template-hash', 32));
    return createHmac('sha256', this.macKey).update(data).digest('hex').slice(0, 16);
  }

  private macKey: Buffer | undefined;

  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(PREFIX);
  }
}

function parseKey(text: string, origin: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) throw new Error(`${origin} must hold 32 bytes as base64 or hex (got ${key.length} bytes)`);
  return key;
}

/**
 * Loads the master key: `envValue` (BLOCKFLOW_CLOUD_MASTER_KEY) wins; otherwise `keyFile` is read, or created
 * with a fresh random key.
 */
export function loadMasterKey(envValue: string | undefined, keyFile: string): Buffer {
  if (envValue) return parseKey(envValue, 'BLOCKFLOW_CLOUD_MASTER_KEY');
  if (existsSync(keyFile)) return parseKey(readFileSync(keyFile, 'utf8'), keyFile);
  mkdirSync(dirname(keyFile), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(keyFile, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}
