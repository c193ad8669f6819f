/**
 * Password hashing with scrypt (Node 20 has no built-in argon2), for the server's users and the cloud control
 * plane's users alike. Stored as `scrypt$N$r$p$salt$hash` (salt and hash base64url) so the cost can be raised
 * later and old hashes still verify: a check always uses the parameters written in the stored hash.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const BLOCK_SIZE = 8;
const PARALLELISM = 1;

/** The scrypt cost (N) used when none is given: 2^15, about 140 ms per check on a 2-core machine. */
export const DEFAULT_SCRYPT_COST = 2 ** 15;

interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

function scrypt(password: string, salt: Buffer, { N, r, p }: ScryptParams): Promise<Buffer> {
  // The exact memory scrypt needs (OpenSSL: 128·r·p for B plus 128·r·(N+2) for V and XY). Node's default
  // maxmem (32 MiB) is too small for N >= 2^15, and a plain 256·N·r falls short when p > N - 2.
  const maxmem = 128 * r * (N + p + 2);
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, KEY_LENGTH, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 2 && Number.isInteger(Math.log2(n));
}

/** Throws unless `cost` is a valid scrypt N (a power of two, at least 2); returns it. */
export function assertScryptCost(cost: number): number {
  if (!isPowerOfTwo(cost)) throw new Error(`scrypt cost must be a power of two, got ${cost}`);
  return cost;
}

/** `BLOCKFLOW_SCRYPT_N` (an integer >= 1024, lowered in tests) or {@link DEFAULT_SCRYPT_COST}. */
function defaultCost(): number {
  const fromEnv = Number(process.env.BLOCKFLOW_SCRYPT_N);
  return Number.isInteger(fromEnv) && fromEnv >= 1024 ? fromEnv : DEFAULT_SCRYPT_COST;
}

/**
 * Hashes `password` with a fresh 16-byte salt.
 * @param cost scrypt N, a power of two; defaults to `BLOCKFLOW_SCRYPT_N` when set (>= 1024), else 2^15.
 */
export async function hashPassword(password: string, cost = defaultCost()): Promise<string> {
  assertScryptCost(cost);
  const salt = randomBytes(SALT_LENGTH);
  const params = { N: cost, r: BLOCK_SIZE, p: PARALLELISM };
  const key = await scrypt(password, salt, params);
  return `scrypt$${cost}$${params.r}$${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

function parseStored(stored: string | null | undefined): { params: ScryptParams; salt: Buffer; hash: Buffer } | null {
  const parts = (stored ?? '').split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [, n, r, p, salt, hash] = parts;
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  if (!isPowerOfTwo(params.N) || !(Number.isInteger(params.r) && params.r > 0) || !(Number.isInteger(params.p) && params.p > 0)) {
    return null;
  }
  return { params, salt: Buffer.from(salt, 'base64url'), hash: Buffer.from(hash, 'base64url') };
}

/**
 * Checks `password` against a stored `scrypt$N$r$p$salt$hash`. When there is no usable stored hash (unknown user,
 * another format) it returns false after a dummy hash at `cost`, so unknown users cannot be told apart by timing.
 * @param cost scrypt N of the dummy check; pass the cost real hashes are made with. Same default as
 *   {@link hashPassword}.
 */
export async function verifyPassword(password: string, stored: string | null | undefined, cost = defaultCost()): Promise<boolean> {
  const parsed = parseStored(stored);
  if (!parsed) {
    await hashPassword(password, cost);
    return false;
  }
  const actual = await scrypt(password, parsed.salt, parsed.params);
  return actual.length === parsed.hash.length && timingSafeEqual(actual, parsed.hash);
}

/** A dummy check for unknown users: same cost as a real one (`cost` as in {@link verifyPassword}). */
export async function burnPasswordCheck(password: string, cost = defaultCost()): Promise<void> {
  await verifyPassword(password, null, cost);
}

export function generatePassword(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * The hashing functions bound to one cost, for a component configured with its own (the cloud control plane:
 * 2^15 by default, 2^10 in tests), independent of `BLOCKFLOW_SCRYPT_N`.
 */
export class PasswordHasher {
  /** @param cost scrypt N, a power of two (default 2^15); throws otherwise. */
  constructor(readonly cost = DEFAULT_SCRYPT_COST) {
    assertScryptCost(cost);
  }

  hash(password: string): Promise<string> {
    return hashPassword(password, this.cost);
  }

  /** {@link verifyPassword} with this hasher's cost for the dummy check of unknown users. */
  verify(password: string, stored: string | null | undefined): Promise<boolean> {
    return verifyPassword(password, stored, this.cost);
  }
}
