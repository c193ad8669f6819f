import { createHash, randomBytes } from 'node:crypto';

/** A new session token: 256 random bits, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored for a token or API key: its SHA-256 in hex (a fast hash suffices for 256-bit random secrets). */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
