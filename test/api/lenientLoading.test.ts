/**
 * Project loading as lenient as Mage (issue 10, item 3), over real HTTP on both databases and through
 * `blockflow run` as a child process:
 * - a folder without a root metadata.yaml loads with Mage's defaults, and the server writes one holding only
 *   the project_uuid, as Mage's init_project_uuid (test/fixtures/mage_no_metadata);
 * - 2022 pipeline formats (only `name` and `uuid`; blocks without `language`) load and run;
 * - block paths written relative to a multi-project root resolve as Mage's add_absolute_path resolves them,
 *   and a block whose file is missing or outside the project is shown, and fails, with a message naming it
 *   (test/fixtures/mage_multi_project, served from its `proj_a`);
 * - kwargs['env'] defaults to Mage's get_env().
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIALECTS, OWNER, startTestServer, type Dialect, type TestServer } from '../helpers/server.js';
import { createFreshPgDatabase } from '../helpers/pg.js';
import { startServer } from '../../src/server/server.js';
import type { Engine } from '../../src/engine/engine.js';
import { loadProject } from '../../src/project/projectConfig.js';
import { blockFilePath, blockFileProblem } from '../../src/project/blocks.js';
import { buildKwargs, mageEnv } from '../../src/engine/kwargs.js';
import { usePreparedPython } from '../engine/projectBuilder.js';
import { runCli } from '../helpers/cli.js';

usePreparedPython();

const NO_METADATA = fileURLToPath(new URL('../fixtures/mage_no_metadata', import.meta.url));
const MULTI_PROJECT = fileURLToPath(new URL('../fixtures/mage_multi_project', import.meta.url));

/** A copy of the multi-project fixture that keeps its folder names (block paths name them). Returns proj_a. */
function copyMultiProject(): { base: string; projA: string } {
  const base = mkdtempSync(join(tmpdir(), 'blockflow-lenient-'));
  cpSync(MULTI_PROJECT, join(base, 'mage_multi_project'), { recursive: true });
  return { base, projA: join(base, 'mage_multi_project', 'proj_a') };
}

/**
 * A server on `projectDir` itself (startTestServer copies into a folder named `project`, and these block paths
 * name the project's folder), with the same environment startTestServer gives.
 */
async function startOnFolder(projectDir: string, dataDir: string, dialect: Dialect): Promise<TestServer> {
  const pg = dialect === 'postgres' ? await createFreshPgDatabase() : undefined;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MAGE_DATA_DIR: dataDir,
    DEFAULT_OWNER_EMAIL: OWNER.email,
    DEFAULT_OWNER_PASSWORD: OWNER.password,
    DEFAULT_OWNER_USERNAME: 'owner',
    BLOCKFLOW_SCRYPT_N: '1024',
    BLOCKFLOW_WARM_RUNTIMES: '0',
    INSTANCE_TYPE: 'web_server',
    REQUIRE_USER_AUTHENTICATION: '1',
    MAGE_DATABASE_CONNECTION_URL: pg ? pg.url : '',
  };
  delete env.DATABASE_URL;
  const server = await startServer({ projectDir, port: 0, host: '127.0.0.1', env, logger: false });
  const call: TestServer['call'] = async (method, path, body, token, headers = {}) => {
    const h: Record<string, string> = { ...headers };
    if (body !== undefined) h['content-type'] = 'application/json';
    if (token) h.authorization = `Bearer ${token}`;
    const res = await fetch(server.url + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };
  const login = async (email: string, password: string) => {
    const res = await call('POST', '/api/sessions', { session: { email, password } });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
    return JSON.parse(Buffer.from(String(res.body.session.token).split('.')[1], 'base64url').toString('utf8')).token as string;
  };
  return {
    server,
    url: server.url,
    projectDir,
    ownerToken: await login(OWNER.email, OWNER.password),
    call,
    login,
    async close() {
      await server.close();
      await pg?.drop();
    },
  };
}

/** The JSON output of a block run, through the block run outputs API. */
async function outputOf(t: TestServer, runId: number, blockUuid: string): Promise<unknown> {
  const blockRuns = (await t.call('GET', `/api/pipeline_runs/${runId}/block_runs`, undefined, t.ownerToken)).body.block_runs;
  const br = blockRuns.find((b: { block_uuid: string }) => b.block_uuid === blockUuid);
  assert.ok(br, `a block run of ${blockUuid}`);
  const res = await t.call('GET', `/api/block_runs/${br.id}/outputs`, undefined, t.ownerToken);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.outputs;
}


/** Every file under `dir` whose name is `name`, as absolute paths. */
function filesNamed(dir: string, name: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.split('/').pop() === name).map((f) => join(dir, f));
}

describe('block file paths resolve as Mage resolves them (add_absolute_path), never outside the project', () => {
  let base: string;
  let projA: string;

  before(() => {
    ({ base, projA } = copyMultiProject());
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  // The fixture's own variables_dir (mage_data inside the project), whatever MAGE_DATA_DIR this process has.
  const project = () => loadProject(projA, { ...process.env, MAGE_DATA_DIR: '' });
  const pathOf = (file: Record<string, unknown>, type = 'custom') => blockFilePath(project(), { uuid: 'b', type, language: 'python', configuration: file });

  test('each of Mage\'s forms names the file it names in Mage', () => {
    assert.equal(pathOf({ file_source: { path: 'proj_a/data_loaders/load.py' } }), join(projA, 'data_loaders', 'load.py'));
    assert.equal(pathOf({ file_path: 'proj_a/data_loaders/load.py' }), join(projA, 'data_loaders', 'load.py'));
    assert.equal(pathOf({ file_path: 'data_loaders/load.py' }), join(projA, 'data_loaders', 'load.py'));
    assert.equal(pathOf({ file_path: 'mage_multi_project/proj_a/transformers/shape.py' }), join(projA, 'transformers', 'shape.py'));
    assert.equal(pathOf({ file_path: 'legacy/finder.py' }), join(projA, 'transformers', 'legacy', 'finder.py'));
    assert.equal(pathOf({ file_path: join(projA, 'data_exporters', 'save.py') }), join(projA, 'data_exporters', 'save.py'));
    // file_source.path wins over file_path, as in Mage.
    assert.equal(pathOf({ file_source: { path: 'data_loaders/load.py' }, file_path: 'legacy/finder.py' }), join(projA, 'data_loaders', 'load.py'));
  });

  test('dbt v1 paths are found under dbt/; the suffix search matches whole path segments only', () => {
    mkdirSync(join(projA, 'dbt', 'demo', 'models'), { recursive: true });
    writeFileSync(join(projA, 'dbt', 'demo', 'models', 'orders.sql'), 'select 1');
    assert.equal(pathOf({ file_path: 'demo/models/orders.sql' }, 'dbt'), join(projA, 'dbt', 'demo', 'models', 'orders.sql'));
    // `inder.py` is the end of `finder.py` as text, not as a file name: nothing is found, so it is where written.
    assert.equal(pathOf({ file_path: 'inder.py' }), join(projA, 'inder.py'));
  });

  test('a path that is not found is where it is written (after the project name), so saving content creates it there', () => {
    assert.equal(pathOf({ file_source: { path: 'proj_a/custom/gone.py' } }), join(projA, 'custom', 'gone.py'));
    const problem = blockFileProblem(project(), { uuid: 'gone', type: 'custom', language: 'python', configuration: { file_source: { path: 'proj_a/custom/gone.py' } } });
    assert.deepEqual(problem, {
      error: 'file_not_found',
      message: 'Block gone: its file custom/gone.py does not exist in the project (configuration.file_source.path is "proj_a/custom/gone.py").',
    });
  });

  test('paths out of the project are refused with the block and the key named, even when the file exists', () => {
    assert.throws(() => pathOf({ file_path: '../proj_b/custom/other.py' }), /Block b: configuration.file_path "..\/proj_b\/custom\/other.py" is refused/);
    assert.throws(() => pathOf({ file_path: join(projA, '..', 'proj_b', 'custom', 'other.py') }), /outside the project folder/);
    assert.throws(() => pathOf({ file_source: { path: '/etc/passwd' } }), /configuration.file_source.path "\/etc\/passwd" is refused: .*outside the project folder/);
    // The data folder stays refused too (file access policy), whatever form names it.
    assert.throws(() => pathOf({ file_path: 'proj_a/mage_data/blockflow.db' }), /data folder/);
  });
});

describe('kwargs env defaults to Mage\'s get_env()', () => {
  const input = { executionDate: new Date('2024-01-02T03:00:00Z'), executionPartition: '', pipelineRunId: 1, pipelineUuid: 'p', blockUuid: 'b', configuration: {}, repoPath: '/r' };

  test('ENV maps as Mage maps it; anything else is dev', () => {
    assert.equal(mageEnv({}), 'dev');
    assert.equal(mageEnv({ ENV: 'development' }), 'dev');
    assert.equal(mageEnv({ ENV: 'production' }), 'prod');
    assert.equal(mageEnv({ ENV: 'prod' }), 'prod');
    assert.equal(mageEnv({ ENV: 'staging' }), 'staging');
    assert.equal(mageEnv({ ENV: 'test' }), 'test');
    assert.equal(mageEnv({ ENV: 'test_mage' }), 'test_mage');
    assert.equal(mageEnv({ ENV: 'qa' }), 'dev');
  });

  test('without an env the block gets get_env(); a given env (triggered runs: prod) and a run variable still win', () => {
    const saved = process.env.ENV;
    try {
      delete process.env.ENV;
      assert.equal(buildKwargs(input).env, 'dev');
      process.env.ENV = 'production';
      assert.equal(buildKwargs(input).env, 'prod');
      assert.equal(buildKwargs({ ...input, env: 'prod' }).env, 'prod');
      assert.equal(buildKwargs({ ...input, env: 'prod', runVariables: { env: 'staging' } }).env, 'staging');
    } finally {
      if (saved === undefined) delete process.env.ENV;
      else process.env.ENV = saved;
    }
  });
});

for (const dialect of DIALECTS) {
  describe(`a project folder without metadata.yaml, in 2022 formats (${dialect})`, () => {
    let t: TestServer;
    let engine: Engine;
    const api = (method: string, path: string, body?: unknown) => t.call(method, path, body, t.ownerToken);

    before(async () => {
      assert.equal(existsSync(join(NO_METADATA, 'metadata.yaml')), false, 'the fixture has no metadata.yaml');
      t = await startTestServer({ dialect, fixture: NO_METADATA, env: { BLOCKFLOW_WARM_RUNTIMES: '0', INSTANCE_TYPE: 'web_server' } });
      engine = t.server.ctx.services.engine as Engine;
    });
    after(async () => {
      await t?.close();
    });

    test('the server starts on it and writes metadata.yaml holding only the project_uuid, as Mage', () => {
      const text = readFileSync(join(t.projectDir, 'metadata.yaml'), 'utf8');
      assert.match(text, /^project_uuid: [0-9a-f]{32}\n$/);
      assert.equal(t.server.ctx.project.projectUuid, text.slice('project_uuid: '.length, -1));
      assert.equal(t.server.ctx.project.projectType, 'standalone');
      assert.equal(t.server.ctx.project.queueConcurrency, 20);
    });

    test('both 2022 pipelines list and read back with Mage\'s defaults', async () => {
      const list = await api('GET', '/api/pipelines');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.pipelines.map((p: { uuid: string }) => p.uuid).sort(), ['legacy_etl', 'name_only']);

      const bare = await api('GET', '/api/pipelines/name_only?include_content=true');
      assert.equal(bare.status, 200, JSON.stringify(bare.body));
      assert.equal(bare.body.pipeline.name, 'name_only');
      assert.equal(bare.body.pipeline.type, 'python');
      assert.deepEqual(bare.body.pipeline.blocks, []);
      assert.equal(bare.body.pipeline.created_at, null);

      const legacy = await api('GET', '/api/pipelines/legacy_etl?include_content=true');
      assert.equal(legacy.status, 200, JSON.stringify(legacy.body));
      const blocks = legacy.body.pipeline.blocks;
      assert.deepEqual(blocks.map((b: { uuid: string }) => b.uuid), ['load_numbers', 'double_numbers', 'report']);
      for (const b of blocks) {
        assert.equal(b.language, 'python');
        assert.equal(b.executor_type, 'local_python');
        assert.deepEqual(b.configuration, {});
        assert.equal(b.error, undefined, JSON.stringify(b.error));
        assert.match(b.content, /from mage_ai.data_preparation.decorators import/);
      }
      assert.equal(blocks[2].status, 'not_executed');
      assert.deepEqual(blocks[1].upstream_blocks, ['load_numbers']);
    });

    test('the 2022 pipeline runs to completion; a triggered run has env prod, as Mage', async () => {
      const schedule = await t.server.ctx.store.schedules.create({ name: 'legacy', pipeline_uuid: 'legacy_etl', schedule_type: 'api' });
      const run = await engine.createRun({ pipelineUuid: 'legacy_etl', variables: {}, scheduleId: schedule.id });
      assert.equal(await engine.waitForRun(run.id), 'completed');
      const detail = await api('GET', `/api/pipeline_runs/${run.id}`);
      assert.equal(detail.body.pipeline_run.status, 'completed');
      assert.match(JSON.stringify(await outputOf(t, run.id, 'double_numbers')), /\[2,4,6\].*prod|prod.*\[2,4,6\]/);
    });
  });

  describe(`block paths relative to a multi-project root (${dialect})`, () => {
    let t: TestServer;
    let engine: Engine;
    let base: string;
    const api = (method: string, path: string, body?: unknown) => t.call(method, path, body, t.ownerToken);

    before(async () => {
      let projA: string;
      ({ base, projA } = copyMultiProject());
      t = await startOnFolder(projA, join(base, 'data'), dialect);
      engine = t.server.ctx.services.engine as Engine;
    });
    after(async () => {
      await t?.close();
      rmSync(base, { recursive: true, force: true });
    });

    test('each block shows the content of the file Mage would read', async () => {
      const res = await api('GET', '/api/pipelines/prefixed?include_content=true');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const byUuid = new Map(res.body.pipeline.blocks.map((b: { uuid: string }) => [b.uuid, b]));
      for (const [uuid, fn] of [['load', 'def load'], ['shape', 'def shape'], ['finder', 'def finder'], ['save', 'def save']]) {
        const b = byUuid.get(uuid) as { content: string | null; error?: unknown };
        assert.equal(b.error, undefined, `${uuid}: ${JSON.stringify(b.error)}`);
        assert.ok(b.content?.includes(fn), `${uuid} shows ${fn}`);
      }
      // The stored paths are shown as written: resolving them changes nothing in metadata.yaml.
      assert.deepEqual((byUuid.get('shape') as { configuration: unknown }).configuration, { file_path: 'mage_multi_project/proj_a/transformers/shape.py' });
    });

    test('the block detail of a block whose file is missing, or outside the project, names the problem', async () => {
      const res = await api('GET', '/api/pipelines/broken_paths?include_content=true');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const [gone, sibling] = res.body.pipeline.blocks;
      assert.equal(gone.content, null);
      assert.deepEqual(gone.error, {
        error: 'file_not_found',
        message: 'Block gone: its file custom/gone.py does not exist in the project (configuration.file_source.path is "proj_a/custom/gone.py").',
      });
      assert.equal(sibling.content, null);
      assert.equal(sibling.error.error, 'file_unreadable');
      assert.match(sibling.error.message, /^Block sibling: configuration.file_path "..\/proj_b\/custom\/other.py" is refused: .*"\.\." segment/);
      assert.doesNotMatch(JSON.stringify(sibling), /from another project/, 'the file outside the project is never read');
    });

    test('the pipeline runs to completion through the resolved files', async () => {
      const run = await engine.createRun({ pipelineUuid: 'prefixed', variables: {} });
      assert.equal(await engine.waitForRun(run.id), 'completed');
      const out = JSON.stringify(await outputOf(t, run.id, 'save'));
      assert.match(out, /shaped/);
      assert.match(out, /found/);
    });

    test('a run of a block whose file is missing fails that block with a message naming the file', async () => {
      const dir = join(t.projectDir, 'pipelines', 'only_gone');
      mkdirSync(dir);
      writeFileSync(
        join(dir, 'metadata.yaml'),
        `blocks:\n- configuration:\n    file_source:\n      path: proj_a/custom/gone.py\n  name: gone\n  type: custom\n  uuid: gone\nname: only_gone\nuuid: only_gone\n`,
      );
      const run = await engine.createRun({ pipelineUuid: 'only_gone', variables: {} });
      assert.equal(await engine.waitForRun(run.id), 'failed');
      const blockRuns = (await api('GET', `/api/pipeline_runs/${run.id}/block_runs`)).body.block_runs;
      assert.equal(blockRuns.length, 1);
      assert.equal(blockRuns[0].status, 'failed');
      // The run detail holds the block runs with their metrics, where the error is.
      const detail = (await api('GET', `/api/pipeline_runs/${run.id}`)).body.pipeline_run;
      assert.match(JSON.stringify(detail.block_runs[0].metrics), /Block gone: its file custom\/gone\.py does not exist in the project \(configuration.file_source.path is/);
    });
  });
}

describe('blockflow run on such projects', () => {
  let base: string;
  let projA: string;
  let noMetadata: string;

  before(() => {
    ({ base, projA } = copyMultiProject());
    noMetadata = join(base, 'mage_no_metadata');
    cpSync(NO_METADATA, noMetadata, { recursive: true });
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  test('a folder without metadata.yaml runs its 2022 pipeline to completion', async () => {
    const dataDir = join(base, 'data-no-metadata');
    const r = await runCli([noMetadata, 'legacy_etl'], { MAGE_DATA_DIR: dataDir, ENV: '' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const block of ['load_numbers', 'double_numbers', 'report']) assert.match(r.stdout, new RegExp(`✔ ${block} completed`));
    const [log] = filesNamed(join(dataDir, 'mage_no_metadata', 'pipelines', 'legacy_etl', '.logs'), 'report.log');
    assert.ok(log, 'report.log is written');
    assert.match(readFileSync(log, 'utf8'), /report doubled=\[2, 4, 6\]/);
    assert.equal((await runCli([noMetadata, 'name_only'], { MAGE_DATA_DIR: dataDir, ENV: '' })).code, 0);
  });

  test('prefixed block paths run; a missing block file fails the run naming the file', async () => {
    const dataDir = join(base, 'data-multi');
    const ok = await runCli([projA, 'prefixed'], { MAGE_DATA_DIR: dataDir, ENV: '' });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    for (const block of ['load', 'shape', 'finder', 'save']) assert.match(ok.stdout, new RegExp(`✔ ${block} completed`));
    const [log] = filesNamed(join(dataDir, 'proj_a', 'pipelines', 'prefixed', '.logs'), 'save.log');
    assert.match(readFileSync(log, 'utf8'), /saved 2 rows: .*'shaped': True, 'found': True/);

    const broken = await runCli([projA, 'broken_paths'], { MAGE_DATA_DIR: dataDir, ENV: '' });
    assert.equal(broken.code, 1, broken.stdout + broken.stderr);
    // Both blocks start together; whichever fails first fails the run and the other may be cancelled, so the CLI
    // shows at least one of the two messages, each naming its block and its configuration key.
    assert.match(
      broken.stdout,
      /✖ (sibling failed \(\d+ ms\): Block sibling: configuration.file_path "..\/proj_b\/custom\/other.py" is refused|gone failed \(\d+ ms\): Block gone: its file custom\/gone.py does not exist in the project \(configuration.file_source.path is "proj_a\/custom\/gone.py"\))/,
    );
  });
});
