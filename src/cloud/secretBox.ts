/**
 * Encryption of secret config values (extraEnvs values, `secrets` entries) at rest, on src/auth's AES-256-GCM
 * core. Format: `enc:v1:<iv>:<tag>:<body>` (base64url) with a context (the cluster id) as additional
 * authenticated data. The 32-byte master key comes from env BLOCKFLOW_CLOUD_MASTER_KEY (base64 or hex) or, when
 * unset, from a key file in the control plane's data dir that is generated on first start with mode 0600.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { openAesGcm, sealAesGcm } from '../auth/secretBox.js';

const PREFIX = 'enc:v1:';

/** The control plane's box: `enc:v1:` values bound to a context, and keyed digests. */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error(`master key must be 32 bytes, got ${key.length}`);
  }

  /** Encrypts `plain`; `context` (e.g. the cluster id) is authenticated, so a value cannot be moved elsewhere. */
  seal(plain: string, context: string): string {
    const { iv, tag, data } = sealAesGcm(this.key, plain, context);
    return `${PREFIX}${iv}:${tag}:${data}`;
  }

  /** Decrypts a sealed value; throws when it is not one, or when it was sealed with another key or context. */
  open(sealed: string, context: string): string {
    if (!sealed.startsWith(PREFIX)) throw new Error('not an encrypted value');
    const parts = sealed.slice(PREFIX.length).split(':');
    if (parts.length !== 3) throw new Error(`malformed encrypted value: expected ${PREFIX}<iv>:<tag>:<body>`);
    const [iv, tag, data] = parts;
    return openAesGcm(this.key, { iv, tag, data }, context);
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
