/**
 * Password hashing with scrypt (Node 20 has no built-in argon2). Stored as `scrypt$N$r$p$salt$hash` so the cost
 * can be raised later and old hashes still verify. N defaults to 2^15 (about 140 ms on a 2-core machine);
 * `BLOCKFLOW_SCRYPT_N` lowers it for tests.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_LENGTH = 32;

function scrypt(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function defaultCost(): number {
  const fromEnv = Number(process.env.BLOCKFLOW_SCRYPT_N);
  return Number.isInteger(fromEnv) && fromEnv >= 1024 ? fromEnv : 2 ** 15;
}

export async function hashPassword(password: string, cost = defaultCost()): Promise<string> {
  const salt = randomBytes(16);
  const r = 8;
  const p = 1;
  // Node's default maxmem (32 MiB) is too small for N >= 2^15, so it is sized from the parameters.
  const key = await scrypt(password, salt, { N: cost, r, p, maxmem: 256 * cost * r });
  return `scrypt$${cost}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const parts = (stored ?? '').split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    // Still spend the time of a real check, so unknown users cannot be told apart by timing.
    await hashPassword(password);
    return false;
  }
  const [, n, r, p, salt, hash] = parts;
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scrypt(password, Buffer.from(salt, 'base64url'), { N, r: R, p: P, maxmem: 256 * N * R });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A dummy check for unknown users: same cost as a real one. */
export async function burnPasswordCheck(password: string): Promise<void> {
  await verifyPassword(password, null);
}

export function generatePassword(): string {
  return randomBytes(12).toString('base64url');
}
