import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProject } from './projectConfig.js';
import { PipelineNotFoundError } from './errors.js';
import { dumpTriggersYaml, readTriggers, TriggerFileError, upsertTrigger, writeTriggers } from './triggersYaml.js';
import { copyFixture, FIXTURE_DIR } from './testSupport.js';

const FIXTURE_TRIGGERS = readFileSync(join(FIXTURE_DIR, 'pipelines/etl_demo/triggers.yaml'), 'utf8');

test('readTriggers reads the fixture; writing it back gives Mage’s safe_dump bytes', () => {
  const t = copyFixture();
  try {
    const project = loadProject(t.root, {});
    const triggers = readTriggers(project, 'etl_demo');
    assert.deepEqual(triggers.map((x) => x.name), ['daily_run', 'api_hook']);
    assert.equal(triggers[0].start_time, '2023-01-01 00:00:00');
    assert.equal(triggers[0].x_custom, 'kept');
    assert.deepEqual(triggers[0].envs, ['prod']);
    assert.equal(triggers[1].token, '4506463a1b2c4d5e8f90a1b2c3d4e5f6');
    assert.equal(dumpTriggersYaml(triggers), FIXTURE_TRIGGERS);
    writeTriggers(project, 'etl_demo', triggers);
    assert.equal(readFileSync(join(t.root, 'pipelines/etl_demo/triggers.yaml'), 'utf8'), FIXTURE_TRIGGERS);
  } finally {
    t.cleanup();
  }
});

test('upsertTrigger replaces by name, appends new ones, and keeps unknown keys', () => {
  const t = copyFixture();
  try {
    const project = loadProject(t.root, {});
    upsertTrigger(project, 'etl_demo', { ...readTriggers(project, 'etl_demo')[0], status: 'inactive' });
    upsertTrigger(project, 'etl_demo', { name: 'hourly', schedule_type: 'time', schedule_interval: '@hourly', start_time: '2024-05-01T10:00:00+00:00', status: 'active' });
    const triggers = readTriggers(project, 'etl_demo');
    assert.deepEqual(triggers.map((x) => [x.name, x.status]), [['daily_run', 'inactive'], ['api_hook', 'inactive'], ['hourly', 'active']]);
    assert.equal(triggers[0].x_custom, 'kept');
    assert.match(readFileSync(join(t.root, 'pipelines/etl_demo/triggers.yaml'), 'utf8'), /^  start_time: 2024-05-01T10:00:00\+00:00$/m);
    assert.deepEqual(readdirSync(join(t.root, 'pipelines/etl_demo')).sort(), ['__init__.py', 'metadata.yaml', 'triggers.yaml']);
  } finally {
    t.cleanup();
  }
});

test('a broken triggers.yaml raises TriggerFileError carrying the pipeline uuid', () => {
  const t = copyFixture();
  try {
    const project = loadProject(t.root, {});
    const path = join(t.root, 'pipelines/etl_demo/triggers.yaml');
    for (const text of ['triggers: [\n', 'triggers: 3\n', 'triggers:\n- schedule_type: time\n', '- a\n', 'triggers:\n- name: a\n- name: a\n']) {
      writeFileSync(path, text);
      assert.throws(() => readTriggers(project, 'etl_demo'), (e: unknown) => e instanceof TriggerFileError && e.pipelineUuid === 'etl_demo');
    }
    writeFileSync(path, '');
    assert.deepEqual(readTriggers(project, 'etl_demo'), []);
    assert.throws(() => readTriggers(project, 'nope'), PipelineNotFoundError);
    assert.throws(() => writeTriggers(project, 'etl_demo', [{ name: '' }]), TriggerFileError);
  } finally {
    t.cleanup();
  }
});
