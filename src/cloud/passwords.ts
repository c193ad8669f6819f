/**
 * Password hashing for control-plane users: scrypt with an explicit `maxmem` (Node's 32 MiB default rejects
 * N >= 2^15), stored as `scrypt$N$r$p$salt$hash` so the cost can be raised while old hashes still verify.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';

const KEY_LENGTH = 32;
const R = 8;
const P = 1;

function scrypt(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_LENGTH, { N, r, p, maxmem: 128 * N * r * 2 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export class PasswordHasher {
  private dummy: Promise<string> | undefined;

  /** @param cost scrypt N, a power of two (default 2^15; tests use 2^10). */
  constructor(readonly cost = 2 ** 15) {
    if (!Number.isInteger(Math.log2(cost)) || cost < 2) throw new Error(`scrypt cost must be a power of two, got ${cost}`);
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await scrypt(password, salt, this.cost, R, P);
    return `scrypt$${this.cost}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  }

  /**
   * Checks `password` against `stored`. With no stored hash (unknown user) a dummy hash of the same cost is
   * checked, so the answer takes as long as for a real user.
   */
  async verify(password: string, stored: string | null | undefined): Promise<boolean> {
    const target = stored ?? (await (this.dummy ??= this.hash(randomBytes(16).toString('hex'))));
    const parts = target.split('$');
    if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
    const [, n, r, p, salt, hash] = parts;
    const expected = Buffer.from(hash, 'base64url');
    const actual = await scrypt(password, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p));
    return stored != null && actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}
