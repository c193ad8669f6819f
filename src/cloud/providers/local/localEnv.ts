/**
 * The environment of a local replica, built the way Kubernetes builds a container's: the chart's `config` and
 * `secrets` maps first (envFrom), then `extraEnvs` (env, which wins), with valueFrom resolved locally.
 */
import { hostname } from 'node:os';
import type { ClusterSpec } from '../types.js';

/** Variables of the control plane's own environment that replicas inherit (never its secrets). */
export const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'PYENV_ROOT', 'PYENV_VERSION'];

export interface EnvRefs {
  /** Resolves a secretKeyRef or configMapKeyRef; undefined when unknown. */
  lookup?(kind: 'secretKeyRef' | 'configMapKeyRef', name: string, key: string): string | undefined;
}

export class EnvResolutionError extends Error {}

/** Namespace name of a team, shared with the Kubernetes provider so fieldRef metadata.namespace agrees. */
export function teamNamespace(teamId: string): string {
  return `blockflow-team-${teamId}`;
}

export function replicaEnv(
  spec: ClusterSpec,
  replicaName: string,
  inherited: Record<string, string | undefined>,
  extra: Record<string, string>,
  refs: EnvRefs,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const v = inherited[name];
    if (v !== undefined) env[name] = v;
  }
  Object.assign(env, extra);
  Object.assign(env, spec.config.config ?? {}, spec.config.secrets ?? {});
  for (const entry of spec.config.extraEnvs ?? []) {
    if ('value' in entry) {
      env[entry.name] = entry.value;
      continue;
    }
    const [kind, ref] = Object.entries(entry.valueFrom)[0] as [string, Record<string, unknown>];
    let value: string | undefined;
    if (kind === 'fieldRef') {
      const path = String(ref.fieldPath ?? '');
      const fields: Record<string, string> = {
        'metadata.namespace': teamNamespace(spec.teamId),
        'metadata.name': replicaName,
        'status.podIP': '127.0.0.1',
        'status.hostIP': '127.0.0.1',
        'spec.nodeName': hostname(),
      };
      value = fields[path];
      if (value === undefined) throw new EnvResolutionError(`env ${entry.name}: fieldRef ${path} is not available on the local provider`);
    } else if (kind === 'secretKeyRef' || kind === 'configMapKeyRef') {
      value = refs.lookup?.(kind, String(ref.name ?? ''), String(ref.key ?? ''));
      if (value === undefined) {
        if (ref.optional === true) continue;
        throw new EnvResolutionError(`env ${entry.name}: ${kind} ${String(ref.name)}/${String(ref.key)} is not known to the local provider`);
      }
    } else {
      throw new EnvResolutionError(`env ${entry.name}: valueFrom.${kind} is not supported by the local provider`);
    }
    env[entry.name] = value;
  }
  return env;
}
