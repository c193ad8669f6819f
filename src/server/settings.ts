/** Server settings from the environment, with Mage's variable names where Mage has one. */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ServerSettings } from '../api/context.js';

/** Reads a boolean env var: 0/false/no/off are false, anything else non-empty is true. */
export function envFlag(value: string | undefined, defaultValue: boolean): boolean {
  if (value === undefined || value.trim() === '') return defaultValue;
  return !['0', 'false', 'no', 'off'].includes(value.trim().toLowerCase());
}

/**
 * The JWT secret: `JWT_SECRET` when set (Mage's insecure default `materia` is refused), otherwise a random
 * secret generated once and kept in `<dataDir>/.secrets/jwt_secret` (mode 0600).
 */
export function loadJwtSecret(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.JWT_SECRET;
  if (fromEnv) {
    if (fromEnv === 'materia') throw new Error('JWT_SECRET is set to Mage\'s public default "materia"; choose a secret of your own.');
    return fromEnv;
  }
  const dir = join(dataDir, '.secrets');
  const file = join(dir, 'jwt_secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return secret;
}

export function settingsFromEnv(dataDir: string, env: NodeJS.ProcessEnv = process.env): ServerSettings {
  const ttl = Number(env.MAGE_ACCESS_TOKEN_EXPIRY_TIME ?? 2_592_000);
  return {
    requireAuth: envFlag(env.REQUIRE_USER_AUTHENTICATION, true),
    jwtSecret: loadJwtSecret(dataDir, env),
    tokenTtlSeconds: Number.isFinite(ttl) && ttl > 0 ? ttl : 2_592_000,
    instanceId: `${process.pid}-${randomBytes(4).toString('hex')}`,
    bodyLimit: Number(env.BLOCKFLOW_BODY_LIMIT ?? 10 * 1024 * 1024),
  };
}
