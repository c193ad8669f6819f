import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** Runs `fn` atomically: inside the caller's transaction when there is one, otherwise in a new one. */
export function inTransaction<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}

/** Kysely reports affected rows as bigint. */
export function affected(result: { numUpdatedRows?: bigint; numDeletedRows?: bigint } | undefined): number {
  return Number(result?.numUpdatedRows ?? result?.numDeletedRows ?? 0n);
}

/** Paging options shared by the list methods. */
export interface Page {
  /** Rows to return; unset means all. */
  limit?: number;
  /** Rows to skip. Default 0. */
  offset?: number;
}

export type SortDirection = 'asc' | 'desc';

/** A list and the number of rows matching its filters before paging. */
export interface ListResult<T> {
  rows: T[];
  count: number;
}

/**
 * Applies paging to a select. SQLite rejects OFFSET without LIMIT and pg rejects a negative LIMIT, so an
 * offset alone gets the largest safe integer as its limit.
 */
export function paged<Q extends { limit(n: number): Q; offset(n: number): Q }>(q: Q, page: Page): Q {
  const { limit, offset } = page;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw new Error(`limit must be a non-negative integer, got ${limit}`);
  if (offset !== undefined && (!Number.isInteger(offset) || offset < 0)) throw new Error(`offset must be a non-negative integer, got ${offset}`);
  if (limit !== undefined) q = q.limit(limit);
  if (offset) q = (limit === undefined ? q.limit(Number.MAX_SAFE_INTEGER) : q).offset(offset);
  return q;
}
