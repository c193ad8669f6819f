import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ensureProjectUuid, loadProject, ProjectConfigError, readIoConfig, resolveDataDir } from './projectConfig.js';
import { copyFixture, tempDir } from './testSupport.js';

const NO_ENV: NodeJS.ProcessEnv = {};

test('loadProject reads the fixture project, keeping unknown metadata keys', () => {
  const t = copyFixture();
  try {
    const p = loadProject(t.root, NO_ENV);
    assert.equal(p.root, realpathSync(t.root));
    assert.equal(p.name, 'mage_project');
    assert.equal(p.projectUuid, '5f2c1f3e9b8a4d6c8e7f1a2b3c4d5e6f');
    assert.equal(p.projectType, 'standalone');
    assert.equal(p.queueConcurrency, 7);
    assert.deepEqual(p.retryConfig, { retries: 2, delay: 30 });
    assert.equal(p.metadata.x_custom_team, 'data-platform');
    assert.deepEqual(p.metadata.features, { display_local_timezone: true, x_unreleased_flag: true });
    assert.equal(p.dataDir, join(homedir(), '.mage_data', 'mage_project'));
    assert.equal(p.ioConfigPath, join(p.root, 'io_config.yaml'));
  } finally {
    t.cleanup();
  }
});

test('data dir: MAGE_DATA_DIR, then variables_dir, then ~/.mage_data; absolute gets the project name', () => {
  const root = '/srv/projects/shop';
  assert.equal(resolveDataDir(root, {}, {}), join(homedir(), '.mage_data', 'shop'));
  assert.equal(resolveDataDir(root, { variables_dir: '/data' }, {}), '/data/shop');
  assert.equal(resolveDataDir(root, { variables_dir: 'mage_data' }, {}), '/srv/projects/shop/mage_data');
  assert.equal(resolveDataDir(root, { variables_dir: '../shared' }, {}), '/srv/projects/shared');
  assert.equal(resolveDataDir(root, { variables_dir: 'mage_data' }, { MAGE_DATA_DIR: '/env/dir' }), '/env/dir/shop');
  assert.equal(resolveDataDir(root, { variables_dir: "{{ env_var('VD') }}" }, { VD: '/from/env' }), '/from/env/shop');
});

test('loadProject loads a folder without metadata.yaml with Mage defaults; refuses missing folders and bad queue settings', () => {
  const t = tempDir();
  try {
    // As Mage's RepoConfig: a missing metadata.yaml reads as {}.
    const bare = loadProject(t.root, NO_ENV);
    assert.deepEqual(bare.metadata, {});
    assert.equal(bare.projectType, 'standalone');
    assert.equal(bare.queueConcurrency, 20);
    assert.equal(bare.projectUuid, null);
    assert.throws(() => loadProject(join(t.root, 'nope')), ProjectConfigError);
    writeFileSync(join(t.root, 'metadata.yaml'), 'queue_config:\n  concurrency: zero\n');
    assert.throws(() => loadProject(t.root), /concurrency/);
    writeFileSync(join(t.root, 'metadata.yaml'), '- a list\n');
    assert.throws(() => loadProject(t.root), ProjectConfigError);
    writeFileSync(join(t.root, 'metadata.yaml'), '');
    const p = loadProject(t.root, NO_ENV);
    assert.equal(p.queueConcurrency, 20);
    assert.equal(p.projectUuid, null);
  } finally {
    t.cleanup();
  }
});

test('ensureProjectUuid writes a hex uuid once and keeps the file comments and keys', () => {
  const t = copyFixture();
  try {
    const path = join(t.root, 'metadata.yaml');
    const original = readFileSync(path, 'utf8').replace(/^project_uuid: .*\n/m, '');
    writeFileSync(path, original);
    const p = loadProject(t.root, NO_ENV);
    assert.equal(p.projectUuid, null);
    const uuid = ensureProjectUuid(p);
    assert.match(uuid, /^[0-9a-f]{32}$/);
    const text = readFileSync(path, 'utf8');
    assert.match(text, /# Kept as written/);
    assert.match(text, new RegExp(`project_uuid: ${uuid}`));
    const again = loadProject(t.root, NO_ENV);
    assert.equal(again.projectUuid, uuid);
    assert.equal(again.metadata.x_custom_team, 'data-platform');
    assert.equal(ensureProjectUuid(again), uuid);
  } finally {
    t.cleanup();
  }
});

test('ensureProjectUuid on a folder without metadata.yaml writes one holding only the uuid, as Mage; a file written meanwhile wins', () => {
  const t = tempDir();
  try {
    const p = loadProject(t.root, NO_ENV);
    const uuid = ensureProjectUuid(p);
    assert.match(uuid, /^[0-9a-f]{32}$/);
    assert.equal(readFileSync(join(t.root, 'metadata.yaml'), 'utf8'), `project_uuid: ${uuid}\n`);
    assert.equal(p.metadata.project_uuid, uuid);
    assert.deepEqual(readdirSync(t.root), ['metadata.yaml'], 'no temp file is left behind');
    // Two servers starting at once: the one that finds the file written by the other takes its uuid.
    const late = loadProject(t.root, NO_ENV);
    late.projectUuid = null;
    assert.equal(ensureProjectUuid(late), uuid);
  } finally {
    t.cleanup();
  }
});

test('readIoConfig renders env_var and mage_secret_var into the profile', async () => {
  const t = copyFixture();
  try {
    const p = loadProject(t.root, NO_ENV);
    const asked: string[] = [];
    const profile = await readIoConfig(p, 'default', {
      env: { FIXTURE_PG_DB: 'shop' },
      secretResolver: async (name) => {
        asked.push(name);
        return name === 'pg_password' ? 's3cret' : undefined;
      },
    });
    assert.deepEqual(profile, {
      POSTGRES_CONNECT_TIMEOUT: 10,
      POSTGRES_DBNAME: 'shop',
      POSTGRES_HOST: 'localhost',
      POSTGRES_PASSWORD: 's3cret',
      POSTGRES_PORT: 5432,
      POSTGRES_USER: 'postgres',
    });
    assert.deepEqual(asked, ['pg_password']);
    assert.deepEqual(await readIoConfig(p, 'warehouse', { env: {} }), { DUCKDB_DATABASE: 'warehouse.duckdb' });
    await assert.rejects(readIoConfig(p, 'default', { env: {} }), /secret/);
    await assert.rejects(readIoConfig(p, 'nope', { env: {}, secretResolver: () => 'x' }), /Profile "nope" not found/);
    await assert.rejects(readIoConfig(p, 'version', { env: {}, secretResolver: () => 'x' }), ProjectConfigError);
  } finally {
    t.cleanup();
  }
});
