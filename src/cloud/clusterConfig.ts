/**
 * The cluster config: the shape of the Helm values (replicaCount, extraEnvs, image, resources, ...). Known keys
 * are validated; unknown keys are kept verbatim so they round-trip. Also: how a PUT's `status` and
 * `config.replicaCount` combine, how secret values are sealed and redacted, and the pod-template digest that
 * decides when replicas must roll.
 */
import { SecretBox } from './secretBox.js';

export type ClusterStatus = 'Active' | 'Stopped';
export const CLUSTER_STATUSES: readonly ClusterStatus[] = ['Active', 'Stopped'];

export interface EnvValue {
  name: string;
  value: string;
}
export interface EnvValueFrom {
  name: string;
  valueFrom: Record<string, unknown>;
}
export type EnvEntry = EnvValue | EnvValueFrom;

export interface ClusterConfig {
  replicaCount?: number;
  extraEnvs?: EnvEntry[];
  image?: { repository?: string; tag?: string; pullPolicy?: string; [key: string]: unknown };
  resources?: Record<string, unknown>;
  /** Plain env entries (the chart's ConfigMap `mageai-env`). */
  config?: Record<string, string>;
  /** Secret env entries (the chart's Secret); sealed at rest like extraEnvs values. */
  secrets?: Record<string, string>;
  [key: string]: unknown;
}

/**
 * The config key that carries the cluster's version in GET answers. A client that PUTs back the config it read
 * (as the spec's read-modify-write clients do) sends it back unchanged, so a concurrent change is detected
 * without the client knowing about versions. Never stored.
 */
export const VERSION_KEY = '_version';

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VALUE_FROM_KINDS = ['fieldRef', 'secretKeyRef', 'configMapKeyRef', 'resourceFieldRef'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];

/** A config that cannot be accepted; `problems` lists every reason (answered with 422). */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface ConfigLimits {
  /** Largest replicaCount accepted (default 10). */
  maxReplicas: number;
}

/** Validates a config given by a client and returns a copy with env values normalised to strings. */
export function validateConfig(raw: unknown, limits: ConfigLimits): ClusterConfig {
  const problems: string[] = [];
  if (!isPlainObject(raw)) throw new ConfigError(['cluster.config must be an object']);
  const config: ClusterConfig = structuredClone(raw) as ClusterConfig;
  delete config[VERSION_KEY];

  if (config.replicaCount !== undefined) {
    const n = config.replicaCount;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > limits.maxReplicas) {
      problems.push(`config.replicaCount must be an integer from 0 to ${limits.maxReplicas}, got ${JSON.stringify(n)}`);
    }
  }

  if (config.extraEnvs !== undefined) {
    if (!Array.isArray(config.extraEnvs)) {
      problems.push('config.extraEnvs must be a list of {name, value} or {name, valueFrom}');
    } else {
      const seen = new Set<string>();
      config.extraEnvs.forEach((entry: unknown, i) => {
        const where = `config.extraEnvs[${i}]`;
        if (!isPlainObject(entry)) return void problems.push(`${where} must be an object`);
        const name = entry.name;
        if (typeof name !== 'string' || !ENV_NAME.test(name)) {
          problems.push(`${where}.name must match ${ENV_NAME.source}, got ${JSON.stringify(name)}`);
        } else if (seen.has(name)) {
          problems.push(`${where}.name ${name} appears more than once`);
        } else seen.add(name);
        const hasValue = 'value' in entry && entry.value !== undefined;
        const hasFrom = 'valueFrom' in entry && entry.valueFrom !== undefined;
        if (hasValue === hasFrom) return void problems.push(`${where} must have exactly one of value and valueFrom`);
        if (hasValue) {
          const v = entry.value;
          if (typeof v === 'number' || typeof v === 'boolean') entry.value = String(v);
          else if (typeof v !== 'string') problems.push(`${where}.value must be a string, got ${JSON.stringify(v)}`);
        } else {
          const from = entry.valueFrom;
          const kinds = isPlainObject(from) ? Object.keys(from) : [];
          if (kinds.length !== 1 || !VALUE_FROM_KINDS.includes(kinds[0]) || !isPlainObject((from as Record<string, unknown>)[kinds[0]])) {
            problems.push(`${where}.valueFrom must hold exactly one of ${VALUE_FROM_KINDS.join(', ')}`);
          }
        }
        const extra = Object.keys(entry).filter((k) => !['name', 'value', 'valueFrom'].includes(k));
        if (extra.length) problems.push(`${where} has unknown keys: ${extra.join(', ')}`);
      });
    }
  }

  if (config.image !== undefined) {
    if (!isPlainObject(config.image)) problems.push('config.image must be an object');
    else {
      for (const key of ['repository', 'tag', 'digest'] as const) {
        const v = config.image[key];
        if (v !== undefined && typeof v !== 'string') problems.push(`config.image.${key} must be a string`);
      }
      const policy = config.image.pullPolicy;
      if (policy !== undefined && !PULL_POLICIES.includes(policy as string)) {
        problems.push(`config.image.pullPolicy must be one of ${PULL_POLICIES.join(', ')}`);
      }
    }
  }

  if (config.resources !== undefined) {
    if (!isPlainObject(config.resources)) problems.push('config.resources must be an object');
    else {
      for (const [section, body] of Object.entries(config.resources)) {
        if (!['limits', 'requests', 'claims'].includes(section)) problems.push(`config.resources.${section} is not limits or requests`);
        else if (section !== 'claims' && !isPlainObject(body)) problems.push(`config.resources.${section} must be an object`);
        else if (section !== 'claims') {
          for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
            if (typeof v !== 'string' && typeof v !== 'number') problems.push(`config.resources.${section}.${k} must be a quantity`);
          }
        }
      }
    }
  }

  for (const mapKey of ['config', 'secrets'] as const) {
    const map = config[mapKey];
    if (map === undefined) continue;
    if (!isPlainObject(map)) problems.push(`config.${mapKey} must be an object of strings`);
    else {
      for (const [k, v] of Object.entries(map)) {
        if (!ENV_NAME.test(k)) problems.push(`config.${mapKey} key ${JSON.stringify(k)} is not a valid env var name`);
        if (typeof v === 'number' || typeof v === 'boolean') map[k] = String(v);
        else if (typeof v !== 'string') problems.push(`config.${mapKey}.${k} must be a string`);
      }
    }
  }

  if (problems.length) throw new ConfigError(problems);
  return config;
}

export interface DesiredState {
  status: ClusterStatus;
  config: ClusterConfig;
}

/**
 * Combines a change (`status` and/or a full `config`) with the current desired state. `Stopped` means 0
 * replicas: a status and a replicaCount that disagree are a contradiction (ConfigError → 422). A config without
 * replicaCount takes it from the status; a status without a replicaCount keeps the current count (at least 1
 * when starting).
 */
export function resolveDesired(
  current: DesiredState,
  change: { status?: unknown; config?: unknown },
  limits: ConfigLimits,
): DesiredState {
  if (change.status !== undefined && !CLUSTER_STATUSES.includes(change.status as ClusterStatus)) {
    throw new ConfigError([`cluster.status must be one of ${CLUSTER_STATUSES.join(', ')}, got ${JSON.stringify(change.status)}`]);
  }
  const status = change.status as ClusterStatus | undefined;
  const config = change.config === undefined ? structuredClone(current.config) : validateConfig(change.config, limits);
  const given = change.config === undefined ? undefined : config.replicaCount;
  const currentCount = current.config.replicaCount ?? (current.status === 'Active' ? 1 : 0);

  let replicas: number;
  let resolved: ClusterStatus;
  if (status !== undefined && given !== undefined) {
    if (status === 'Stopped' && given > 0) {
      throw new ConfigError([`cluster.status Stopped contradicts config.replicaCount ${given} (Stopped means 0 replicas)`]);
    }
    if (status === 'Active' && given === 0) {
      throw new ConfigError(['cluster.status Active contradicts config.replicaCount 0 (0 replicas means Stopped)']);
    }
    replicas = given;
    resolved = status;
  } else if (status !== undefined) {
    replicas = status === 'Stopped' ? 0 : Math.max(currentCount, 1);
    resolved = status;
  } else if (given !== undefined) {
    replicas = given;
    resolved = given > 0 ? 'Active' : 'Stopped';
  } else {
    replicas = currentCount;
    resolved = current.status;
  }
  config.replicaCount = replicas;
  return { status: resolved, config };
}

/** Returns a copy with extraEnvs values and `secrets` values sealed for storage. */
export function sealConfig(config: ClusterConfig, box: SecretBox, context: string): ClusterConfig {
  return mapSecrets(config, (v) => (typeof v === 'string' ? box.seal(v, context) : v));
}

/** The inverse of sealConfig. */
export function openConfig(config: ClusterConfig, box: SecretBox, context: string): ClusterConfig {
  return mapSecrets(config, (v) => (SecretBox.isSealed(v) ? box.open(v, context) : v));
}

export const REDACTED = '[redacted]';

/** Returns a copy with every secret value replaced by `[redacted]`, for the audit log and logs. */
export function redactConfig(config: ClusterConfig): ClusterConfig {
  return mapSecrets(config, () => REDACTED);
}

function mapSecrets(config: ClusterConfig, fn: (value: unknown) => unknown): ClusterConfig {
  const copy = structuredClone(config);
  if (Array.isArray(copy.extraEnvs)) {
    copy.extraEnvs = copy.extraEnvs.map((e) => ('value' in e ? { ...e, value: fn(e.value) as string } : e));
  }
  if (copy.secrets && typeof copy.secrets === 'object') {
    copy.secrets = Object.fromEntries(Object.entries(copy.secrets).map(([k, v]) => [k, fn(v) as string]));
  }
  return copy;
}

/** Config keys that shape the pod template: a change to any of them rolls the replicas. */
export const POD_TEMPLATE_KEYS = [
  'image', 'resources', 'extraEnvs', 'env', 'config', 'secrets', 'podAnnotations', 'podLabels', 'securityContext',
  'podSecurityContext', 'nodeSelector', 'tolerations', 'affinity', 'extraVolumes', 'extraVolumeMounts', 'volumes',
  'livenessProbe', 'readinessProbe',
] as const;

/** A stable serialisation (sorted keys) of the pod-template part of a config. */
export function podTemplateText(config: ClusterConfig, restartedAt: string | null): string {
  const picked: Record<string, unknown> = {};
  for (const key of POD_TEMPLATE_KEYS) if (config[key] !== undefined) picked[key] = config[key];
  if (restartedAt) picked.restartedAt = restartedAt;
  return stableStringify(picked);
}

export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Sets or adds `updates` in an extraEnvs list, keyed by name. Entries not named in `updates` stay as they are,
 * including valueFrom entries (which a `{name: value}` map would lose).
 */
export function mergeEnv(existing: EnvEntry[] | undefined, updates: Record<string, string>): EnvEntry[] {
  const out = (existing ?? []).map((e) => (e.name in updates ? { name: e.name, value: updates[e.name] } : e));
  for (const [name, value] of Object.entries(updates)) {
    if (!out.some((e) => e.name === name)) out.push({ name, value });
  }
  return out;
}
