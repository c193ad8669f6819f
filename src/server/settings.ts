/** Server settings from the environment, with Mage's variable names where Mage has one. */
import { randomBytes } from 'node:crypto';
import { readOrCreateKeyFile } from '../auth/keyFiles.js';
import { jsonLimitsFromEnv } from '../api/jsonLimits.js';
import type { ServerSettings } from '../api/context.js';

/** Reads a boolean env var: 0/false/no/off are false, anything else non-empty is true. */
export function envFlag(value: string | undefined, defaultValue: boolean): boolean {
  if (value === undefined || value.trim() === '') return defaultValue;
  return !['0', 'false', 'no', 'off'].includes(value.trim().toLowerCase());
}

/**
 * The JWT secret: `JWT_SECRET` when set (Mage's insecure default `materia` is refused), otherwise a random
 * secret generated once and kept in `<keysDir>/jwt_secret` (mode 0600; the folder: src/auth/keyFiles.ts).
 */
export function loadJwtSecret(keysDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.JWT_SECRET;
  if (fromEnv) {
    if (fromEnv === 'materia') throw new Error('JWT_SECRET is set to Mage\'s public default "materia"; choose a secret of your own.');
    return fromEnv;
  }
  return readOrCreateKeyFile(keysDir, 'jwt_secret', () => randomBytes(32).toString('base64url'));
}

/** Settings from `env`; `keysDir` is the prepared key folder (prepareKeysDir). */
export function settingsFromEnv(keysDir: string, env: NodeJS.ProcessEnv = process.env): ServerSettings {
  const ttl = Number(env.MAGE_ACCESS_TOKEN_EXPIRY_TIME ?? 2_592_000);
  return {
    requireAuth: envFlag(env.REQUIRE_USER_AUTHENTICATION, true),
    keysDir,
    jwtSecret: loadJwtSecret(keysDir, env),
    tokenTtlSeconds: Number.isFinite(ttl) && ttl > 0 ? ttl : 2_592_000,
    instanceId: `${process.pid}-${randomBytes(4).toString('hex')}`,
    bodyLimit: Number(env.BLOCKFLOW_BODY_LIMIT ?? 10 * 1024 * 1024),
    jsonLimits: jsonLimitsFromEnv(env),
  };
}
