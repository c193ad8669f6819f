/**
 * Mage's split of query parameters (mage-api.md §1.4): keys starting with `_` are meta (`_limit`, `_offset`,
 * `_order_by[]`, `_format`), everything else is the query. Query values are always lists of strings, except
 * the exact strings `true`/`false`, which become booleans; `key[]=a,b` is a comma-joined list.
 */
import { badRequest } from './errors.js';

export type QueryValue = string | boolean;
export interface MageQuery {
  meta: Record<string, string | string[]>;
  query: Record<string, QueryValue[]>;
}

export function splitMageQuery(raw: Record<string, unknown>): MageQuery {
  const meta: Record<string, string | string[]> = {};
  const query: Record<string, QueryValue[]> = {};
  for (const [rawKey, rawValue] of Object.entries(raw ?? {})) {
    const values = (Array.isArray(rawValue) ? rawValue : [rawValue]).map((v) => String(v));
    const isList = rawKey.endsWith('[]');
    const key = isList ? rawKey.slice(0, -2) : rawKey;
    if (key.startsWith('_')) {
      const flat = isList ? values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean) : values;
      meta[key] = isList || flat.length > 1 ? flat : flat[0];
      continue;
    }
    const list = isList ? values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '') : values;
    query[key] = [...(query[key] ?? []), ...list.map((v) => (v === 'true' ? true : v === 'false' ? false : v))];
  }
  return { meta, query };
}

export function firstString(q: MageQuery, key: string): string | undefined {
  const v = q.query[key]?.[0];
  return v === undefined ? undefined : String(v);
}

export function stringList(q: MageQuery, key: string): string[] | undefined {
  const v = q.query[key];
  return v === undefined ? undefined : v.map(String);
}

/** A boolean query flag; `defaultValue` when absent. Accepts true/false/1/0. */
export function flag(q: MageQuery, key: string, defaultValue: boolean): boolean {
  const v = q.query[key]?.[0];
  if (v === undefined) return defaultValue;
  if (typeof v === 'boolean') return v;
  if (v === '1') return true;
  if (v === '0' || v === '') return false;
  throw badRequest(`Query parameter ${key} must be true or false, got "${v}".`);
}

export interface Paging {
  limit?: number;
  offset: number;
}

/** `_limit` and `_offset`, validated as non-negative integers. `defaultLimit` applies when `_limit` is absent. */
export function paging(q: MageQuery, defaultLimit?: number, maxLimit = 10_000): Paging {
  const parse = (name: string): number | undefined => {
    const raw = q.meta[name];
    if (raw === undefined) return undefined;
    const s = Array.isArray(raw) ? raw[0] : raw;
    if (!/^\d+$/.test(s ?? '')) throw badRequest(`${name} must be a non-negative integer, got "${s}".`);
    return Number(s);
  };
  const limit = parse('_limit') ?? defaultLimit;
  if (limit !== undefined && limit > maxLimit) throw badRequest(`_limit must be at most ${maxLimit}.`);
  return { limit, offset: parse('_offset') ?? 0 };
}

export function orderBy(q: MageQuery): string[] {
  const raw = q.meta['_order_by'] ?? q.query['order_by']?.map(String);
  if (raw === undefined) return [];
  return (Array.isArray(raw) ? raw : [raw]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

/** Applies paging to an in-memory list (file-backed resources) and gives Mage's list metadata. */
export function pageList<T>(items: T[], p: Paging): { page: T[]; count: number; next: boolean } {
  const end = p.limit === undefined ? items.length : p.offset + p.limit;
  return { page: items.slice(p.offset, end), count: items.length, next: end < items.length };
}
