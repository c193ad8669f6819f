/**
 * The reconcile loop: moves every cluster from its desired state (database) toward what runs (provider), and
 * writes back what it observes. Runs on a timer and whenever a change wakes it; one pass at a time.
 */
import type { Kysely } from 'kysely';
import type { ClusterService } from './clusterService.js';
import type { CloudDatabase } from './db/schema.js';
import type { ClusterProvider, ObservedState } from './providers/types.js';
import { listAllClusters, removeCluster, setObserved } from './store/clusters.js';
import { stableStringify } from './clusterConfig.js';

export interface ReconcilerOptions {
  db: Kysely<CloudDatabase>;
  provider: ClusterProvider;
  service: ClusterService;
  /** Time between passes when nothing wakes the loop (default 1000 ms). */
  intervalMs?: number;
  /** Where errors of a pass are reported (default: console.error). */
  log?: (message: string) => void;
}

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly log: (message: string) => void;

  constructor(private readonly options: ReconcilerOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.log = options.log ?? ((m) => console.error(m));
  }

  /** Hands the provider every known cluster (re-adoption), then starts the loop. */
  async start(): Promise<void> {
    const rows = await listAllClusters(this.options.db);
    await this.options.provider.adopt(rows.map((r) => ({ id: r.id, teamId: r.team_id })));
    this.wake();
  }

  /** Runs a pass now (or right after the current one). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.pass()
      .catch((err) => this.log(`cloud reconcile pass failed: ${(err as Error).stack ?? err}`))
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.wake();
        } else {
          this.timer = setTimeout(() => this.wake(), this.intervalMs);
        }
      });
  }

  /** One pass over every cluster; also usable directly (tests, CLI). */
  async pass(): Promise<void> {
    const { db, provider, service } = this.options;
    for (const row of await listAllClusters(db)) {
      if (this.stopped) return;
      try {
        if (row.deleting) {
          await provider.destroy({ id: row.id, teamId: row.team_id });
          await removeCluster(db, row.id);
          continue;
        }
        const spec = service.specOf(row);
        await provider.apply(spec);
        const observed: ObservedState = { ...(await provider.observe(spec)), version: row.version, observedAt: new Date().toISOString() };
        await this.record(row.id, row.observed_json, observed);
      } catch (err) {
        const reason = `${provider.name} provider: ${(err as Error).message}`;
        await this.record(row.id, row.observed_json, {
          status: 'Error',
          reason,
          desiredReplicas: row.status === 'Stopped' ? 0 : service.specOf(row).replicas,
          replicas: 0,
          readyReplicas: 0,
          updatedReplicas: 0,
          url: null,
          version: row.version,
          observedAt: new Date().toISOString(),
        }).catch(() => undefined);
      }
    }
  }

  private async record(id: string, previousJson: string, observed: ObservedState): Promise<void> {
    const previous = JSON.parse(previousJson) as Partial<ObservedState>;
    const { observedAt: _a, ...now } = observed;
    const { observedAt: _b, ...before } = previous;
    if (stableStringify(now) === stableStringify(before)) return;
    await setObserved(this.options.db, id, JSON.stringify(observed));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
