/**
 * The API trigger a synchronous run's token belongs to. The lookup runs on every request, so it selects only
 * the columns a run needs (on PostgreSQL a quarter of the cost of reading the whole row), and concurrent
 * requests with the same token share one query in flight: nothing is cached beyond that query, so a deleted or
 * rotated token stops working for every request that arrives after the query that sees the change started.
 */
import { CompiledQuery } from 'kysely';
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

/**
 * The lookup as SQL text written once: building it with the query builder on every request cost more than the
 * indexed lookup itself (Kysely builds, transforms and compiles an operation tree per call).
 */
const TRIGGER_BY_TOKEN = {
  sqlite: `select "id", "name", "pipeline_uuid", "repo_path", "variables" from "pipeline_schedule" where "token_hash" = ? and "schedule_type" = 'api'`,
  postgres: `select "id", "name", "pipeline_uuid", "repo_path", "variables" from "pipeline_schedule" where "token_hash" = $1 and "schedule_type" = 'api'`,
};

type TriggerRow = Omit<RunTrigger, 'variables'> & { variables: string | null };

async function queryTrigger(store: StoreScope, tokenHash: string): Promise<RunTrigger | undefined> {
  const result = await store.db.executeQuery<TriggerRow>(CompiledQuery.raw(TRIGGER_BY_TOKEN[store.dialect], [tokenHash]));
  const row = result.rows[0];
  if (!row) return undefined;
  return { ...row, variables: parseJson<Record<string, unknown>>(row.variables, 'pipeline_schedule.variables') };
}
