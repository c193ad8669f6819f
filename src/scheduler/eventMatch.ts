/**
 * Event matchers (Mage's `EventMatcher.match`): an event matches a pattern when every key of the pattern is in
 * the event and its value matches: a list means "any of these", a mapping matches recursively, anything
 * else must be equal.
 */
import { isDeepStrictEqual } from 'node:util';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function eventMatches(pattern: Record<string, unknown> | null, event: unknown): boolean {
  if (!isRecord(pattern) || !isRecord(event)) return false;
  for (const [key, expected] of Object.entries(pattern)) {
    if (!Object.prototype.hasOwnProperty.call(event, key)) return false;
    const actual = event[key];
    if (Array.isArray(expected)) {
      if (!expected.some((option) => isDeepStrictEqual(option, actual))) return false;
    } else if (isRecord(expected)) {
      if (!eventMatches(expected, actual)) return false;
    } else if (!isDeepStrictEqual(expected, actual)) {
      return false;
    }
  }
  return true;
}
