/**
 * The local provider: a cluster is N `blockflow start` processes with the cluster's environment, each on its
 * own port, behind one stable port (ClusterProxy). Replicas are health-checked on /api/status, stopped with
 * SIGTERM then SIGKILL after a grace period, rolled surge-first when the pod template changes, restarted with
 * exponential backoff when they crash, and re-adopted (or cleaned up) when the control plane restarts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { ReplicaStateStore } from '../../store/replicaState.js';
import { nowDbTime } from '../../time.js';
import type { ClusterProvider, ClusterRef, ClusterSpec, Observation, ReplicaObservation } from '../types.js';
import { ClusterProxy } from './clusterProxy.js';
import { EnvResolutionError, replicaEnv, type EnvRefs } from './localEnv.js';
import { freePort, hasEnvMarker, isAlive, probeStatus, signalGroup, waitForExit } from './processes.js';

export interface ReplicaCommand {
  cmd: string;
  args: string[];
}

export interface LocalProviderOptions {
  /** Where per-cluster project dirs and replica logs live. */
  dataDir: string;
  state: ReplicaStateStore;
  /** The command of one replica (default: `node <repo>/bin/blockflow.mjs start <projectDir> --port N --host 127.0.0.1`). */
  replicaCommand?: (port: number, projectDir: string) => ReplicaCommand;
  /** Creates a cluster's project dir when missing (default: `blockflow init <dir>`). */
  prepareProject?: (projectDir: string) => Promise<void>;
  /** Extra variables given to every replica, after the inherited ones and before the cluster's own. */
  baseEnv?: Record<string, string>;
  /** Resolves valueFrom secretKeyRef/configMapKeyRef entries (none by default). */
  envRefs?: EnvRefs;
  /** Time between health checks and convergence steps (default 1000 ms). */
  tickMs?: number;
  /** Readiness probe timeout (default 1000 ms, the chart's readinessProbe.timeoutSeconds). */
  probeTimeoutMs?: number;
  /** Consecutive failed probes of a ready replica before it is restarted (default 3). */
  livenessFailures?: number;
  /** How long a new replica may take to become ready before it counts as crashed (default 120 s). */
  startTimeoutMs?: number;
  /** Time between SIGTERM and SIGKILL (default 30 s, Kubernetes' terminationGracePeriodSeconds). */
  gracePeriodMs?: number;
  /** First crash-restart delay, doubled per crash (default 10 s, as CrashLoopBackOff). */
  backoffBaseMs?: number;
  /** Longest crash-restart delay (default 5 min). */
  backoffMaxMs?: number;
  /** A replica ready this long resets the crash backoff (default 60 s). */
  backoffResetMs?: number;
  /** Called when something observable changed, to wake the reconciler early. */
  onChange?: (clusterId: string) => void;
}

type ReplicaState = 'starting' | 'ready' | 'stopping';

interface Replica {
  id: string;
  port: number;
  pid: number;
  hash: string;
  child?: ChildProcess;
  exited: Promise<void>;
  exitInfo?: string;
  state: ReplicaState;
  startedAt: number;
  readySince?: number;
  failures: number;
}

interface LocalCluster {
  ref: ClusterRef;
  spec?: ClusterSpec;
  replicas: Replica[];
  proxy?: ClusterProxy;
  port?: number;
  crashStreak: number;
  restarts: number;
  backoffUntil: number;
  lastCrash?: string;
  spawnError?: string;
  /** Replicas being spawned (port, project dir and process not there yet): counted as starting. */
  pending: number;
  /** Why the last supervision step failed (cleared by the next one that succeeds). */
  tickError?: string;
  preparing?: Promise<void>;
  timer?: NodeJS.Timeout;
  busy?: Promise<void>;
  stopping: Set<Promise<void>>;
}

/** bin/blockflow.mjs of this installation, found upward from this module (works from src/ and from dist/). */
function findBlockflowBin(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'bin', 'blockflow.mjs');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find bin/blockflow.mjs above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}
const BLOCKFLOW_BIN = findBlockflowBin();
const MARKER = 'BLOCKFLOW_CLOUD_REPLICA';

export function defaultReplicaCommand(port: number, projectDir: string): ReplicaCommand {
  return { cmd: process.execPath, args: [BLOCKFLOW_BIN, 'start', projectDir, '--port', String(port), '--host', '127.0.0.1'] };
}

export async function defaultPrepareProject(projectDir: string): Promise<void> {
  if (existsSync(join(projectDir, 'metadata.yaml'))) return;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [BLOCKFLOW_BIN, 'init', projectDir, '--if-missing'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`blockflow init ${projectDir} failed: ${stderr.trim()}`))));
  });
}

export class LocalProvider implements ClusterProvider {
  readonly name = 'local';
  private readonly clusters = new Map<string, LocalCluster>();
  private closed = false;
  private readonly o: Required<Omit<LocalProviderOptions, 'baseEnv' | 'envRefs' | 'onChange'>> &
    Pick<LocalProviderOptions, 'baseEnv' | 'envRefs' | 'onChange'>;

  constructor(options: LocalProviderOptions) {
    this.o = {
      replicaCommand: defaultReplicaCommand,
      prepareProject: defaultPrepareProject,
      tickMs: 1000,
      probeTimeoutMs: 1000,
      livenessFailures: 3,
      startTimeoutMs: 120_000,
      gracePeriodMs: 30_000,
      backoffBaseMs: 10_000,
      backoffMaxMs: 300_000,
      backoffResetMs: 60_000,
      ...options,
    };
  }

  private cluster(ref: ClusterRef): LocalCluster {
    let c = this.clusters.get(ref.id);
    if (!c) {
      c = { ref, replicas: [], crashStreak: 0, restarts: 0, backoffUntil: 0, pending: 0, stopping: new Set() };
      this.clusters.set(ref.id, c);
    }
    return c;
  }

  projectDir(clusterId: string): string {
    return join(this.o.dataDir, 'clusters', clusterId, 'project');
  }

  private logFile(clusterId: string, replicaId: string): string {
    const dir = join(this.o.dataDir, 'clusters', clusterId, 'logs');
    mkdirSync(dir, { recursive: true });
    return join(dir, `${replicaId}.log`);
  }

  async adopt(known: ClusterRef[]): Promise<void> {
    const ids = new Set(known.map((k) => k.id));
    const rows = await this.o.state.listReplicas();
    for (const row of rows) {
      const marker = `${MARKER}=${row.cluster_id}/${row.replica_id}`;
      const ours = isAlive(row.pid) && hasEnvMarker(row.pid, marker, true);
      const ref = known.find((k) => k.id === row.cluster_id);
      if (!ours || !ref) {
        if (ours) {
          signalGroup(row.pid, 'SIGTERM');
          if (!(await waitForExit(row.pid, this.o.gracePeriodMs))) signalGroup(row.pid, 'SIGKILL');
        }
        await this.o.state.removeReplica(row.cluster_id, row.replica_id);
        continue;
      }
      const c = this.cluster(ref);
      const replica: Replica = {
        id: row.replica_id,
        port: row.port,
        pid: row.pid,
        hash: row.template_hash,
        exited: this.pollExit(row.pid),
        state: 'starting',
        startedAt: Date.now(),
        failures: 0,
      };
      replica.exited.then(() => (replica.exitInfo ??= 'process disappeared'));
      c.replicas.push(replica);
    }
    for (const ref of known) {
      if (!ids.has(ref.id)) continue;
      const c = this.clusters.get(ref.id);
      if (c && c.replicas.length) await this.ensureProxy(c);
    }
  }

  private pollExit(pid: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setInterval(() => {
        if (!isAlive(pid)) {
          clearInterval(timer);
          resolve();
        }
      }, 100);
      timer.unref();
    });
  }

  async apply(spec: ClusterSpec): Promise<void> {
    if (this.closed) return;
    const c = this.cluster(spec);
    const changed = !c.spec || c.spec.templateHash !== spec.templateHash || c.spec.replicas !== spec.replicas;
    c.spec = spec;
    if (spec.replicas > 0) await this.ensureProxy(c);
    if (!c.timer) this.schedule(c, 0);
    else if (changed) this.schedule(c, 0);
  }

  private schedule(c: LocalCluster, delay: number): void {
    if (this.closed) return;
    if (c.timer) clearTimeout(c.timer);
    c.timer = setTimeout(() => {
      c.busy = this.tick(c)
        .then(() => (c.tickError = undefined))
        .catch((err) => {
          c.tickError = (err as Error).message;
        })
        .finally(() => {
          c.busy = undefined;
          if (this.clusters.get(c.ref.id) === c) this.schedule(c, this.o.tickMs);
        });
    }, delay);
  }

  private async ensureProxy(c: LocalCluster): Promise<void> {
    if (c.proxy) return;
    const proxy = new ClusterProxy(c.spec?.name ?? c.ref.id);
    const saved = await this.o.state.endpointPort(c.ref.id);
    let port: number;
    try {
      port = await proxy.listen(saved ?? 0);
    } catch {
      port = await proxy.listen(0);
    }
    if (port !== saved) await this.o.state.saveEndpointPort(c.ref.id, port);
    c.proxy = proxy;
    c.port = port;
    this.updateBackends(c);
  }

  private updateBackends(c: LocalCluster): void {
    c.proxy?.setBackends(c.replicas.filter((r) => r.state === 'ready').map((r) => r.port));
  }

  /** One step: health checks, crash handling, then convergence toward the spec. */
  private async tick(c: LocalCluster): Promise<void> {
    const before = this.fingerprint(c);
    await Promise.all(c.replicas.map((r) => this.check(c, r)));

    for (const r of [...c.replicas]) {
      if (r.state === 'stopping' || r.exitInfo === undefined) continue;
      this.forget(c, r);
      this.crashed(c, `replica ${r.id} ${r.exitInfo}`);
    }

    const spec = c.spec;
    if (spec) this.converge(c, spec);
    this.updateBackends(c);
    if (this.fingerprint(c) !== before) this.o.onChange?.(c.ref.id);
  }

  private fingerprint(c: LocalCluster): string {
    return JSON.stringify([c.replicas.map((r) => [r.id, r.state]), c.crashStreak, c.spawnError ?? null]);
  }

  private async check(c: LocalCluster, r: Replica): Promise<void> {
    if (r.state === 'stopping' || r.exitInfo !== undefined) return;
    const probe = await probeStatus(r.port, this.o.probeTimeoutMs);
    if (r.exitInfo !== undefined || (r.state as ReplicaState) === 'stopping') return;
    if (probe.ok) {
      r.failures = 0;
      if (r.state === 'starting') {
        r.state = 'ready';
        r.readySince = Date.now();
      } else if (c.crashStreak > 0 && r.readySince !== undefined && Date.now() - r.readySince >= this.o.backoffResetMs) {
        c.crashStreak = 0;
        c.lastCrash = undefined;
      }
      return;
    }
    if (r.state === 'starting') {
      if (Date.now() - r.startedAt > this.o.startTimeoutMs) {
        r.exitInfo = `did not answer /api/status within ${this.o.startTimeoutMs} ms (${probe.detail})`;
        void this.stopReplica(c, r, false);
      }
      return;
    }
    r.failures += 1;
    if (r.failures >= this.o.livenessFailures) {
      r.exitInfo = `failed ${r.failures} health checks (${probe.detail})`;
      void this.stopReplica(c, r, false);
    }
  }

  private crashed(c: LocalCluster, why: string): void {
    c.crashStreak += 1;
    c.restarts += 1;
    const delay = Math.min(this.o.backoffBaseMs * 2 ** (c.crashStreak - 1), this.o.backoffMaxMs);
    c.backoffUntil = Date.now() + delay;
    c.lastCrash = why;
  }

  private converge(c: LocalCluster, spec: ClusterSpec): void {
    const n = spec.replicas;
    const live = c.replicas.filter((r) => r.state !== 'stopping');
    if (n === 0) {
      for (const r of live) void this.stopReplica(c, r, true);
      c.crashStreak = 0;
      c.lastCrash = undefined;
      c.spawnError = undefined;
      return;
    }
    const newer = live.filter((r) => r.hash === spec.templateHash);
    const older = live.filter((r) => r.hash !== spec.templateHash);

    // Scale down the current generation: drop replicas that are not ready first.
    if (newer.length > n) {
      const extra = [...newer].sort((a, b) => Number(a.state === 'ready') - Number(b.state === 'ready')).slice(0, newer.length - n);
      for (const r of extra) void this.stopReplica(c, r, true);
      return;
    }

    // Surge first: never more than one replica above the desired count while old ones remain.
    const limit = older.length > 0 ? n + 1 : n;
    let toStart = Math.min(n - newer.length - c.pending, limit - live.length - c.pending);
    if (toStart > 0 && Date.now() >= c.backoffUntil) {
      let env: Record<string, string> | undefined;
      try {
        env = replicaEnv(spec, spec.name, process.env, {}, this.o.envRefs ?? {});
        c.spawnError = undefined;
      } catch (err) {
        if (!(err instanceof EnvResolutionError)) throw err;
        c.spawnError = err.message;
        toStart = 0;
      }
      for (let i = 0; env && i < toStart; i++) {
        c.pending += 1;
        void this.startReplica(c, spec)
          .then(() => (c.spawnError = undefined))
          .catch((err) => (c.spawnError = (err as Error).message))
          .finally(() => (c.pending -= 1));
      }
    }

    // Retire old replicas only as new ones become ready (maxUnavailable 0).
    const readyNewer = newer.filter((r) => r.state === 'ready').length;
    const retire = Math.max(0, readyNewer + older.length - n);
    const victims = [...older].sort((a, b) => Number(a.state === 'ready') - Number(b.state === 'ready')).slice(0, retire);
    for (const r of victims) void this.stopReplica(c, r, true);
  }

  private async startReplica(c: LocalCluster, spec: ClusterSpec): Promise<void> {
    const id = randomBytes(4).toString('hex');
    const port = await freePort();
    const projectDir = this.projectDir(spec.id);
    await (c.preparing ??= this.o.prepareProject(projectDir).finally(() => (c.preparing = undefined)));
    const name = `${spec.name}-${id}`;
    const env = {
      ...replicaEnv(spec, name, process.env, this.o.baseEnv ?? {}, this.o.envRefs ?? {}),
      PORT: String(port),
      BLOCKFLOW_CLOUD_CLUSTER_ID: spec.id,
      [MARKER]: `${spec.id}/${id}`,
    };
    const { cmd, args } = this.o.replicaCommand(port, projectDir);
    const log = openSync(this.logFile(spec.id, id), 'a');
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { cwd: projectDir, env, detached: true, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const replica: Replica = {
      id,
      port,
      pid: child.pid ?? -1,
      hash: spec.templateHash,
      child,
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
      state: 'starting',
      startedAt: Date.now(),
      failures: 0,
    };
    child.once('error', (err) => (replica.exitInfo ??= `could not start: ${err.message}`));
    child.once('exit', (code, signal) => {
      replica.exitInfo ??= signal ? `was killed by ${signal}` : `exited with code ${code}`;
      if (replica.state !== 'stopping') this.schedule(c, 0);
    });
    child.unref();
    if (replica.pid < 0) {
      replica.exitInfo ??= `could not start ${cmd}`;
      c.replicas.push(replica);
      return;
    }
    c.replicas.push(replica);
    await this.o.state.saveReplica({
      cluster_id: spec.id,
      replica_id: id,
      pid: replica.pid,
      port,
      template_hash: spec.templateHash,
      started_at: nowDbTime(),
    });
  }

  private forget(c: LocalCluster, r: Replica): void {
    c.replicas = c.replicas.filter((x) => x !== r);
    void this.o.state.removeReplica(c.ref.id, r.id);
  }

  /** SIGTERM, then SIGKILL after the grace period. `planned` stops do not count as crashes. */
  private stopReplica(c: LocalCluster, r: Replica, planned: boolean): Promise<void> {
    if (r.state === 'stopping') return Promise.resolve();
    r.state = 'stopping';
    this.updateBackends(c);
    const done = (async () => {
      signalGroup(r.pid, 'SIGTERM');
      if (!(await waitForExit(r.pid, this.o.gracePeriodMs, r.exited))) {
        signalGroup(r.pid, 'SIGKILL');
        await waitForExit(r.pid, 5000, r.exited);
      }
      this.forget(c, r);
      if (!planned && r.exitInfo) this.crashed(c, `replica ${r.id} ${r.exitInfo}`);
      this.o.onChange?.(c.ref.id);
    })();
    c.stopping.add(done);
    void done.finally(() => c.stopping.delete(done));
    return done;
  }

  async observe(spec: ClusterSpec): Promise<Observation> {
    const c = this.cluster(spec);
    const all = c.replicas;
    const live = all.filter((r) => r.state !== 'stopping');
    const newer = live.filter((r) => r.hash === spec.templateHash);
    const readyNewer = newer.filter((r) => r.state === 'ready').length;
    const older = live.filter((r) => r.hash !== spec.templateHash);
    const details: ReplicaObservation[] = all.map((r) => ({
      id: r.id,
      pid: r.pid,
      port: r.port,
      ready: r.state === 'ready',
      updated: r.hash === spec.templateHash,
      restarts: c.restarts,
      state: r.state,
      ...(r.exitInfo ? { lastExit: r.exitInfo } : {}),
    }));
    const base = {
      desiredReplicas: spec.replicas,
      replicas: all.length,
      readyReplicas: live.filter((r) => r.state === 'ready').length,
      updatedReplicas: newer.length,
      url: c.port ? `http://127.0.0.1:${c.port}` : null,
      restarts: c.restarts,
      replicaDetails: details,
    };
    if (spec.replicas === 0) {
      return all.length ? { ...base, status: 'Stopping', reason: `stopping ${all.length} replica(s)` } : { ...base, status: 'Stopped', reason: null };
    }
    const failure = c.spawnError ?? c.tickError;
    if (failure) return { ...base, status: 'Error', reason: failure };
    if (c.lastCrash && readyNewer < spec.replicas) {
      const wait = Math.max(0, c.backoffUntil - Date.now());
      return { ...base, status: 'Error', reason: `${c.lastCrash}; restart ${c.restarts}, next attempt in ${wait} ms` };
    }
    // Active only once nothing is in flight: old replicas still terminating keep the cluster in Starting.
    if (readyNewer === spec.replicas && all.length === spec.replicas) return { ...base, status: 'Active', reason: null };
    const reason = older.length
      ? `rolling update: ${readyNewer} of ${spec.replicas} replica(s) updated and ready`
      : readyNewer < spec.replicas
        ? `waiting for ${spec.replicas - readyNewer} replica(s) to become ready`
        : `waiting for ${all.length - spec.replicas} old replica(s) to stop`;
    return { ...base, status: 'Starting', reason };
  }

  async destroy(ref: ClusterRef): Promise<void> {
    const c = this.clusters.get(ref.id);
    if (c) {
      if (c.timer) clearTimeout(c.timer);
      c.timer = undefined;
      this.clusters.delete(ref.id);
      await c.busy;
      await Promise.all(c.replicas.map((r) => this.stopReplica(c, r, true)));
      await Promise.all([...c.stopping]);
      await c.proxy?.close();
    }
    await this.o.state.removeCluster(ref.id);
  }

  async close(options: { stopClusters: boolean }): Promise<void> {
    this.closed = true;
    for (const c of this.clusters.values()) {
      if (c.timer) clearTimeout(c.timer);
      c.timer = undefined;
    }
    await Promise.all([...this.clusters.values()].map((c) => c.busy));
    for (const c of this.clusters.values()) {
      if (options.stopClusters) {
        await Promise.all(c.replicas.map((r) => this.stopReplica(c, r, true)));
        await this.o.state.removeCluster(c.ref.id);
      }
      await Promise.all([...c.stopping]);
      await c.proxy?.close();
    }
    this.clusters.clear();
  }
}
