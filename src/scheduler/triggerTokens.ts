/**
 * API trigger tokens. A token is 32 random hex digits (the shape of Mage's `uuid4().hex`, so Mage clients and
 * URL patterns that expect `\w+` accept it). Only its SHA-256 is stored (`pipeline_schedule.token_hash`): a copy
 * of the database cannot start runs. The raw token is shown once, when the trigger is created or rotated.
 */
import { randomBytes } from 'node:crypto';
import { hashToken, sameDigest } from '../auth/tokens.js';

/** A new raw trigger token. */
export function newTriggerToken(): string {
  return randomBytes(16).toString('hex');
}

/** The stored form of a raw token. */
export function triggerTokenHash(raw: string): string {
  return hashToken(raw);
}

/**
 * Whether `raw` is the token whose hash is `storedHash`. The comparison of the digests takes the same time
 * wherever they differ; a missing hash or an empty token never matches.
 */
export function triggerTokenMatches(raw: string | undefined | null, storedHash: string | null | undefined): boolean {
  if (!raw || !storedHash) return false;
  return sameDigest(hashToken(raw), storedHash);
}
