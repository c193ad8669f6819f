/**
 * Access tokens. The raw token is 32 random bytes; only its SHA-256 is stored, so a database leak does not leak
 * sessions (Mage stores them in plain text). Mage's login answer carries an HS256 JWT `{token, expires}`
 * (the `oauth_token` cookie value); we issue the same so Mage clients keep working, and accept the raw token in
 * headers and the JWT anywhere.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new session token: 256 random bits, base64url. Also the cloud control plane's session tokens. */
export function newRawToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * What is stored for a token or API key (server and cloud control plane): its SHA-256 in hex. A fast hash
 * suffices for 256-bit random secrets.
 */
export function hashToken(raw: string): string {
  return createHash('sha256').update(raw).digest('hex');
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');

export function signJwt(payload: Record<string, unknown>, secret: string): string {
  const head = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64(JSON.stringify(payload));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** Returns the payload when the signature is valid, otherwise null. */
export function verifyJwt(jwt: string, secret: string): Record<string, unknown> | null {
  const parts = jwt.split('.');
  if (parts.length !== 3) return null;
  const [head, body, sig] = parts;
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    return payload && typeof payload === 'object' ? (payload as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Constant-time comparison of two hex digests. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
