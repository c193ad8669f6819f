/**
 * Issue 17, items 1 and 2, over real HTTP on SQLite and PostgreSQL, with viewer and editor accounts:
 * - a server started the demo's way (data folder `mage_data/` inside the project) keeps its keys outside the
 *   project, and the file API refuses the data folder, the database, key material, `.git`, `.env` and what
 *   `.blockflowignore` names (403), also through a symlink and through a block's `file_path`;
 * - keys that an older version kept in `<data dir>/.secrets` are moved out on start and secrets stay readable;
 *   two different keys, or BLOCKFLOW_KEYS_DIR inside the project, stop the start with a clear message;
 * - a block uuid read from metadata.yaml that would leave the data folder is refused on load, no run writes a
 *   log outside, and log routes never follow a block run row's uuid out of the data folder.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIALECTS, OWNER, startTestServer, type Dialect, type TestServer } from '../helpers/server.js';
import { createFreshPgDatabase, type FreshPgDatabase } from '../helpers/pg.js';
import { assertError, makeUser, type TestUser } from '../api/support.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { initProject } from '../../src/project/init.js';
import { SecretBox } from '../../src/auth/secretBox.js';
import { openStore } from '../../src/store/db.js';
import { loadProject } from '../../src/project/projectConfig.js';
import type { SecretResolver } from '../../src/engine/secrets.js';

const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

function projectUuid(projectDir: string): string {
  return /project_uuid: (\w+)/.exec(readFileSync(join(projectDir, 'metadata.yaml'), 'utf8'))![1];
}

for (const dialect of DIALECTS) {
  describe(`demo defaults keep keys and internals away from the file API (${dialect})`, () => {
    let t: TestServer;
    let home: string;
    let viewer: TestUser;
    let editor: TestUser;
    const file = (path: string, token: string) => t.call('GET', `/api/file_contents/${encodeURIComponent(path)}`, undefined, token);
    const put = (path: string, token: string, content = 'overwritten') =>
      t.call('PUT', `/api/file_contents/${encodeURIComponent(path)}`, { file_content: { content } }, token);

    before(async () => {
      home = tempDir('blockflow-home-');
      // MAGE_DATA_DIR empty: the demo's own `variables_dir: mage_data`, inside the project, as `npm run demo`.
      t = await startTestServer({ dialect, env: { MAGE_DATA_DIR: '', HOME: home, BLOCKFLOW_WARM_RUNTIMES: '0', INSTANCE_TYPE: 'web_server' } });
      viewer = await makeUser(t, 'viewer', `kv_${dialect}`);
      editor = await makeUser(t, 'editor', `ke_${dialect}`);
      mkdirSync(join(t.projectDir, '.git'), { recursive: true });
      writeFileSync(join(t.projectDir, '.git', 'config'), '[remote "origin"]\n\turl = https://user:token@example.com/repo.git\n');
      writeFileSync(join(t.projectDir, '.env'), 'AWS_SECRET_ACCESS_KEY=abc\n');
      mkdirSync(join(t.projectDir, 'private'));
      writeFileSync(join(t.projectDir, 'private', 'notes.txt'), 'private\n');
      writeFileSync(join(t.projectDir, 'exports.csv'), 'a,b\n');
      writeFileSync(join(t.projectDir, '.blockflowignore'), '# extra patterns\nprivate/\n*.csv\n!exports.csv\n');
      symlinkSync(join(t.projectDir, 'mage_data'), join(t.projectDir, 'innocent'));
    });
    after(async () => {
      await t?.close();
      rmSync(home, { recursive: true, force: true });
    });

    test('the key and the JWT secret live under ~/.blockflow/keys/<project uuid>, none inside the project', async () => {
      const keys = join(home, '.blockflow', 'keys', projectUuid(t.projectDir));
      assert.equal(t.server.ctx.settings.keysDir, keys);
      assert.ok(existsSync(join(keys, 'jwt_secret')));
      const created = await t.call('POST', '/api/secrets', { secret: { name: 'db_password', value: 's3cret' } }, t.ownerToken);
      assert.equal(created.status, 200, JSON.stringify(created.body));
      assert.ok(existsSync(join(keys, 'key')));
      assert.equal(statSync(join(keys, 'key')).mode & 0o777, 0o600);
      assert.equal(existsSync(join(t.projectDir, 'mage_data', '.secrets')), false);
      if (dialect === 'sqlite') assert.ok(existsSync(join(t.projectDir, 'mage_data', 'mage-ai.db')));
    });

    test('a viewer gets 403 for the database, its WAL and the data folder; the refusal says why', async () => {
      const paths = ['mage_data/.secrets/key', 'mage_data/.secrets/jwt_secret', 'mage_data/mage-ai.db', 'mage_data/mage-ai.db-wal', 'mage_data/mage-ai.db-shm', 'mage_data/pipelines/x/.logs/a.log'];
      for (const path of paths) assertError(await file(path, viewer.token), 403, /inside the data folder/, 'file_access_denied');
      // Through a symlink inside the project that leads into the data folder.
      assertError(await file('innocent/mage-ai.db', viewer.token), 403, /inside the data folder/);
    });

    test('an editor can neither overwrite nor delete them', async () => {
      const db = join(t.projectDir, 'mage_data', 'mage-ai.db');
      const before = dialect === 'sqlite' ? readFileSync(db).length : 0;
      assertError(await put('mage_data/mage-ai.db', editor.token), 403, /inside the data folder/);
      assertError(await put('mage_data/.secrets/key', editor.token), 403, /inside the data folder/);
      assertError(await t.call('DELETE', `/api/file_contents/${encodeURIComponent('mage_data/mage-ai.db')}`, undefined, editor.token), 403, /inside the data folder/);
      if (dialect === 'sqlite') assert.ok(readFileSync(db).length >= before);
      assert.equal((await t.call('GET', '/api/status', undefined, editor.token)).status, 200);
    });

    test('the built-in deny list refuses .git, .env and key-like files anywhere, for reads and writes', async () => {
      assertError(await file('.git/config', viewer.token), 403, /deny list \(pattern "\.git\/"\)/);
      assertError(await put('.git/config', editor.token), 403, /deny list/);
      assert.match(readFileSync(join(t.projectDir, '.git', 'config'), 'utf8'), /token@/);
      assertError(await file('.env', viewer.token), 403, /pattern "\.env"/);
      // Case does not slip past a pattern.
      assertError(await file('.GIT/config', viewer.token), 403, /deny list/);
    });

    test('.blockflowignore adds patterns, cannot re-open one with "!", and cannot be rewritten through the API', async () => {
      assertError(await file('private/notes.txt', viewer.token), 403, /pattern "private\/"/);
      assertError(await file('exports.csv', viewer.token), 403, /pattern "\*\.csv"/);
      const own = await file('.blockflowignore', viewer.token);
      assert.equal(own.status, 200);
      assertError(await put('.blockflowignore', editor.token, ''), 403, /holds the file API's deny list/);
      assert.match(readFileSync(join(t.projectDir, '.blockflowignore'), 'utf8'), /private\//);
    });

    test('ordinary project files are still served and written', async () => {
      const res = await file('metadata.yaml', viewer.token);
      assert.equal(res.status, 200);
      writeFileSync(join(t.projectDir, 'utils', 'helper.py'), 'x = 1\n');
      const ok = await put('utils/helper.py', editor.token, 'x = 2\n');
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(readFileSync(join(t.projectDir, 'utils', 'helper.py'), 'utf8'), 'x = 2\n');
    });

    test('a block whose file_path names the database is refused, its content never served', async () => {
      const pipelineFile = join(t.projectDir, 'pipelines', 'demo_pipeline', 'metadata.yaml');
      const original = readFileSync(pipelineFile, 'utf8');
      // The first block (load_numbers) gets a file_path that names the database.
      const edited = original.replace('  configuration: {}\n', '  configuration:\n    file_path: mage_data/mage-ai.db\n');
      assert.notEqual(edited, original);
      try {
        const res = await put('pipelines/demo_pipeline/metadata.yaml', editor.token, edited);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const pipeline = await t.call('GET', '/api/pipelines/demo_pipeline?include_content=true', undefined, viewer.token);
        assert.equal(pipeline.status, 200, JSON.stringify(pipeline.body));
        const block = pipeline.body.pipeline.blocks.find((b: any) => b.configuration?.file_path === 'mage_data/mage-ai.db');
        assert.ok(block, 'the edited block is listed');
        assert.equal(block.content, null);
        assert.match(block.error.message, /inside the data folder/);
      } finally {
        writeFileSync(pipelineFile, original);
      }
    });
  });

  describe(`identifiers read from project files stay inside the data folder (${dialect})`, () => {
    let t: TestServer;
    let viewer: TestUser;
    let editor: TestUser;
    let outside: string;

    before(async () => {
      t = await startTestServer({ dialect, env: { BLOCKFLOW_WARM_RUNTIMES: '0', INSTANCE_TYPE: 'web_server' } });
      viewer = await makeUser(t, 'viewer', `iv_${dialect}`);
      editor = await makeUser(t, 'editor', `ie_${dialect}`);
      outside = tempDir('blockflow-victim-');
    });
    after(async () => {
      await t?.close();
      rmSync(outside, { recursive: true, force: true });
    });

    test('a block uuid with ".." written by an editor makes the pipeline refuse to load, naming the block; no run starts', async () => {
      const victim = join(outside, 'victim');
      const evil = `../../../../../../../../..${victim}`;
      const yaml = [
        'blocks:',
        `- uuid: ${JSON.stringify(evil)}`,
        '  type: data_loader',
        '  language: python',
        '  upstream_blocks: []',
        '  downstream_blocks: []',
        'name: evil',
        'type: python',
        '',
      ].join('\n');
      mkdirSync(join(t.projectDir, 'pipelines', 'evil'), { recursive: true });
      writeFileSync(join(t.projectDir, 'pipelines', 'evil', 'metadata.yaml'), 'name: evil\n');
      const put = await t.call('PUT', `/api/file_contents/${encodeURIComponent('pipelines/evil/metadata.yaml')}`, { file_content: { content: yaml } }, editor.token);
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const read = await t.call('GET', '/api/pipelines/evil', undefined, viewer.token);
      assertError(read, 422, /block uuid .* has an empty, "\." or "\.\." path segment/);
      const trigger = await t.call('POST', '/api/pipelines/evil/pipeline_schedules', { pipeline_schedule: { name: 'go', schedule_type: 'api' } }, editor.token);
      assertError(trigger, 422, /block uuid/);
      assert.equal(existsSync(`${victim}.log`), false);
    });

    test('log routes never read a file named by a block run row whose uuid leaves the data folder', async () => {
      const target = join(outside, 'stolen');
      writeFileSync(`${target}.log`, 'outside the data folder\n');
      // Rows such as a shared or older database could hold: written straight into the store.
      const runId = (await t.server.ctx.store.pipelineRuns.create({ pipeline_uuid: 'demo_pipeline', status: 'completed' })).id;
      const row = await t.server.ctx.store.blockRuns.create(runId, `../../../../../../../../../..${target}`, 'completed');
      const logs = await t.call('GET', `/api/pipelines/demo_pipeline/logs?pipeline_run_id[]=${runId}`, undefined, viewer.token);
      assert.equal(logs.status, 200, JSON.stringify(logs.body));
      assert.doesNotMatch(JSON.stringify(logs.body), /outside the data folder/);
      const stream = await t.call('GET', `/api/block_runs/${row.id}/logs/stream`, undefined, viewer.token);
      assertError(stream, 400, /block uuid .* path segment/);
    });
  });
}

/** A server on `projectDir` with the given environment (a fresh PostgreSQL database or the SQLite default). */
async function startOn(projectDir: string, dialect: Dialect, env: Record<string, string>, pg?: FreshPgDatabase): Promise<RunningServer> {
  return startServer({
    projectDir,
    port: 0,
    host: '127.0.0.1',
    logger: false,
    env: {
      ...process.env,
      DEFAULT_OWNER_EMAIL: OWNER.email,
      DEFAULT_OWNER_PASSWORD: OWNER.password,
      BLOCKFLOW_WARM_RUNTIMES: '0',
      INSTANCE_TYPE: 'web_server',
      MAGE_DATA_DIR: '',
      DATABASE_URL: '',
      MAGE_DATABASE_CONNECTION_URL: dialect === 'postgres' ? pg!.url : '',
      ...env,
    },
  });
}

for (const dialect of DIALECTS) {
  describe(`keys of existing installs move out of the project on start (${dialect})`, () => {
    let base: string;
    let home: string;
    let pg: FreshPgDatabase | undefined;

    before(async () => {
      if (dialect === 'postgres') pg = await createFreshPgDatabase();
    });
    after(async () => {
      await pg?.drop();
    });

    const freshProject = () => {
      base = tempDir('blockflow-migrate-');
      home = join(base, 'home');
      const dir = join(base, 'project');
      initProject(dir);
      return dir;
    };

    test('old key files are moved, secrets sealed with them stay readable, JWT cookies stay valid', async () => {
      const projectDir = freshProject();
      try {
        const legacy = join(projectDir, 'mage_data', '.secrets');
        mkdirSync(legacy, { recursive: true });
        const key = randomBytes(32);
        writeFileSync(join(legacy, 'key'), key.toString('base64'), { mode: 0o600 });
        writeFileSync(join(legacy, 'jwt_secret'), 'old-jwt-secret', { mode: 0o600 });
        // A secret sealed with the old key, written by the old version into its store.
        const project = loadProject(projectDir, { MAGE_DATA_DIR: '' });
        const url = dialect === 'postgres' ? pg!.url : `sqlite://${join(project.dataDir, 'mage-ai.db')}`;
        const store = await openStore({ url });
        await store.secrets.upsert({ name: 'api_token', value: new SecretBox(key).seal('kept-value'), repo_name: project.name, key_uuid: new SecretBox(key).keyId });
        await store.close();

        const server = await startOn(projectDir, dialect, { HOME: home }, pg);
        try {
          const keys = join(home, '.blockflow', 'keys', projectUuid(projectDir));
          assert.equal(server.ctx.settings.keysDir, keys);
          assert.equal(existsSync(legacy), false, 'the old .secrets folder is gone');
          assert.equal(readFileSync(join(keys, 'key'), 'utf8').trim(), key.toString('base64'));
          assert.equal(server.ctx.settings.jwtSecret, 'old-jwt-secret');
          assert.equal(await (server.ctx.services.secrets as SecretResolver).get('api_token'), 'kept-value');
        } finally {
          await server.close();
        }
        // A second start finds the keys where they now are.
        const again = await startOn(projectDir, dialect, { HOME: home }, pg);
        try {
          assert.equal(await (again.ctx.services.secrets as SecretResolver).get('api_token'), 'kept-value');
        } finally {
          await again.close();
        }
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    });

    test('two different keys in the old and new place stop the start, and both files are kept', async () => {
      const projectDir = freshProject();
      try {
        const legacy = join(projectDir, 'mage_data', '.secrets');
        mkdirSync(legacy, { recursive: true });
        writeFileSync(join(legacy, 'key'), randomBytes(32).toString('base64'));
        const keys = join(home, '.blockflow', 'keys', projectUuid(projectDir));
        mkdirSync(keys, { recursive: true });
        writeFileSync(join(keys, 'key'), randomBytes(32).toString('base64'));
        await assert.rejects(startOn(projectDir, dialect, { HOME: home }, pg), /Two different key files exist: .*keep the right one and delete the other/);
        assert.ok(existsSync(join(legacy, 'key')) && existsSync(join(keys, 'key')));
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    });

    test('BLOCKFLOW_KEYS_DIR inside the project is refused at start with a message naming it', async () => {
      const projectDir = freshProject();
      try {
        await assert.rejects(
          startOn(projectDir, dialect, { HOME: home, BLOCKFLOW_KEYS_DIR: join(projectDir, 'keys') }, pg),
          /BLOCKFLOW_KEYS_DIR .* lies inside the project folder/,
        );
        const outsideKeys = join(base, 'keys-elsewhere');
        const server = await startOn(projectDir, dialect, { HOME: home, BLOCKFLOW_KEYS_DIR: outsideKeys }, pg);
        try {
          assert.equal(server.ctx.settings.keysDir, outsideKeys);
          assert.ok(existsSync(join(outsideKeys, 'jwt_secret')));
        } finally {
          await server.close();
        }
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    });
  });
}
