import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ConfigError, mergeEnv, openConfig, podTemplateText, redactConfig, resolveDesired, sealConfig, validateConfig, VERSION_KEY } from './clusterConfig.js';
import { SecretBox } from './secretBox.js';

const limits = { maxReplicas: 10 };

describe('resolveDesired', () => {
  const active = { status: 'Active' as const, config: { replicaCount: 2 } };
  const stopped = { status: 'Stopped' as const, config: { replicaCount: 0 } };

  test('status alone: Stopped means 0 replicas; Active keeps the count, at least 1', () => {
    assert.deepEqual(resolveDesired(active, { status: 'Stopped' }, limits), { status: 'Stopped', config: { replicaCount: 0 } });
    assert.deepEqual(resolveDesired(active, { status: 'Active' }, limits), { status: 'Active', config: { replicaCount: 2 } });
    assert.deepEqual(resolveDesired(stopped, { status: 'Active' }, limits), { status: 'Active', config: { replicaCount: 1 } });
  });

  test('replicaCount alone decides the status; a config without it keeps the current count', () => {
    assert.equal(resolveDesired(active, { config: { replicaCount: 0 } }, limits).status, 'Stopped');
    assert.equal(resolveDesired(stopped, { config: { replicaCount: 3 } }, limits).status, 'Active');
    assert.deepEqual(resolveDesired(active, { config: { image: { tag: 'x' } } }, limits), { status: 'Active', config: { image: { tag: 'x' }, replicaCount: 2 } });
  });

  test('contradictions are ConfigErrors', () => {
    assert.throws(() => resolveDesired(active, { status: 'Stopped', config: { replicaCount: 1 } }, limits), ConfigError);
    assert.throws(() => resolveDesired(active, { status: 'Active', config: { replicaCount: 0 } }, limits), ConfigError);
  });

  test('unknown keys are kept, the version key is dropped, numbers in env values become strings', () => {
    const c = validateConfig({ [VERSION_KEY]: 4, weird: { nested: [1] }, extraEnvs: [{ name: 'N', value: 5 }] }, limits);
    assert.deepEqual(c, { weird: { nested: [1] }, extraEnvs: [{ name: 'N', value: '5' }] });
  });
});

describe('secrets in config', () => {
  const box = new SecretBox(randomBytes(32));
  const config = { extraEnvs: [{ name: 'A', value: 'secret-a' }, { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], secrets: { S: 'secret-s' } };

  test('seal and open round-trip; sealed values are bound to their cluster', () => {
    const sealed = sealConfig(config, box, 'c1');
    assert.ok(!JSON.stringify(sealed).includes('secret-'));
    assert.deepEqual(openConfig(sealed, box, 'c1'), config);
    assert.throws(() => openConfig(sealed, box, 'c2'));
  });

  test('redaction hides values and keeps names and valueFrom', () => {
    assert.deepEqual(redactConfig(config), {
      extraEnvs: [{ name: 'A', value: '[redacted]' }, { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
      secrets: { S: '[redacted]' },
    });
  });

  test('the template text ignores replicaCount and unknown keys but not env or restarts', () => {
    const base = podTemplateText({ ...config, replicaCount: 1 }, null);
    assert.equal(podTemplateText({ ...config, replicaCount: 3, other: 1 }, null), base);
    assert.notEqual(podTemplateText(config, '2026-01-01T00:00:00Z'), base);
    assert.notEqual(podTemplateText({ ...config, extraEnvs: [] }, null), base);
  });
});

describe('mergeEnv', () => {
  test('sets by name, appends new names, keeps valueFrom entries', () => {
    const merged = mergeEnv([{ name: 'A', value: '1' }, { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }], { A: '2', B: '3' });
    assert.deepEqual(merged, [{ name: 'A', value: '2' }, { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } }, { name: 'B', value: '3' }]);
  });
});
