/**
 * The API trigger a synchronous run's token belongs to. The lookup runs on every request, so it selects only
 * the columns a run needs (on PostgreSQL a quarter of the cost of reading the whole row), and concurrent
 * requests with the same token share one query in flight: nothing is cached beyond that query, so a deleted or
 * rotated token stops working for every request that arrives after the query that sees the change started.
 */
import type { StoreScope } from '../store/db.js';
import { parseJson } from '../store/codec.js';
import { hashToken } from '../auth/tokens.js';

export interface RunTrigger {
  id: number;
  name: string;
  pipeline_uuid: string | null;
  repo_path: string | null;
  /** The trigger's variables (between pipeline globals and the request's variables in kwargs). */
  variables: Record<string, unknown> | null;
}

/** Looks triggers up by token, sharing the query between concurrent requests with the same token. */
export class TriggerLookup {
  private readonly inFlight = new Map<string, Promise<RunTrigger | undefined>>();

  constructor(private readonly store: StoreScope) {}

  /** The `api` trigger whose token is `token` (compared by its SHA-256, as stored), or undefined. */
  find(token: string): Promise<RunTrigger | undefined> {
    const hash = hashToken(token);
    let pending = this.inFlight.get(hash);
    if (!pending) {
      pending = queryTrigger(this.store, hash);
      this.inFlight.set(hash, pending);
      const done = () => this.inFlight.delete(hash);
      pending.then(done, done);
    }
    return pending;
  }
}

async function queryTrigger(store: StoreScope, tokenHash: string): Promise<RunTrigger | undefined> {
  const row = await store.db
    .selectFrom('pipeline_schedule')
    .select(['id', 'name', 'pipeline_uuid', 'repo_path', 'variables'])
    .where('token_hash', '=', tokenHash)
    .where('schedule_type', '=', 'api')
    .executeTakeFirst();
  if (!row) return undefined;
  return { ...row, variables: parseJson<Record<string, unknown>>(row.variables, 'pipeline_schedule.variables') };
}
