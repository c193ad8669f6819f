/**
 * Issue 10's "done when": one Mage project with everything at once runs unchanged, over HTTP on both databases and
 * through `blockflow run` (test/fixtures/mage_platform): Blockflow pointed at a project platform's root serves its
 * active project (`analytics`, which has no metadata.yaml), whose block paths are prefixed with the project's
 * name, whose dynamic block fans out over numpy arrays, whose children return objects (Decimal, datetime, ndarray)
 * and whose reduce gathers them, typed, into a DataFrame.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIALECTS, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { runCli } from '../helpers/cli.js';
import { usePreparedPython } from '../engine/projectBuilder.js';
import { runPartition } from '../../src/engine/executeBlock.js';
import { blockVariablesDir } from '../../src/variables/layout.js';
import { readOutputs } from '../../src/variables/read.js';
import { loadProject, ProjectConfigError } from '../../src/project/projectConfig.js';

usePreparedPython();

const FIXTURE = fileURLToPath(new URL('../fixtures/mage_platform', import.meta.url));
const EXPECTED_REPORT = { rows: 2, traces: [5, 30], corners: [3, 20] };

for (const dialect of DIALECTS) {
  describe(`a project platform with dynamic blocks and object outputs, over HTTP (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({ dialect, fixture: FIXTURE, env: { BLOCKFLOW_WARM_RUNTIMES: '0' } });
    });
    after(async () => {
      await t?.close();
    });

    test('the root serves its active project, which gets the metadata.yaml Mage writes', async () => {
      assert.equal(t.server.ctx.project.root.endsWith(join('project', 'analytics')), true, t.server.ctx.project.root);
      assert.ok(existsSync(join(t.projectDir, 'analytics', 'metadata.yaml')));
      const res = await t.call('GET', '/api/pipelines', undefined, t.ownerToken);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.pipelines.map((p: any) => p.uuid), ['matrix_report']);
      const detail = await t.call('GET', '/api/pipelines/matrix_report', undefined, t.ownerToken);
      for (const block of detail.body.pipeline.blocks) {
        assert.equal(block.error, undefined, `${block.uuid}: ${JSON.stringify(block.error)}`);
        assert.match(block.content, /@(data_loader|transformer|data_exporter)/, `${block.uuid} shows its file`);
      }
    });

    test('the pipeline runs to completion: pickled items, object outputs, a typed reduce', async () => {
      const api = async (method: string, path: string, body?: unknown) => {
        const res = await t.call(method, path, body, t.ownerToken);
        assert.equal(res.status, 200, `${method} ${path}: ${JSON.stringify(res.body)}`);
        return res.body;
      };
      const schedule = (await api('POST', '/api/pipelines/matrix_report/pipeline_schedules', { pipeline_schedule: { name: 'now', schedule_type: 'api', status: 'active' } })).pipeline_schedule;
      const id = (await api('POST', `/api/pipeline_schedules/${schedule.id}/pipeline_runs`, { pipeline_run: { variables: {} } })).pipeline_run.id as number;
      const run = await waitFor('the run to finish', async () => {
        const r = (await api('GET', `/api/pipeline_runs/${id}`)).pipeline_run;
        return ['completed', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
      }, 90_000);
      assert.equal(run.status, 'completed', JSON.stringify(run.block_runs.map((b: any) => [b.block_uuid, b.status, b.metrics])));
      assert.deepEqual(
        run.block_runs.map((b: any) => b.block_uuid),
        ['matrices', 'summarise:north', 'summarise:south', 'combine', 'report'],
      );
      const row = (await t.server.ctx.store.pipelineRuns.get(id))!;
      const [report] = await readOutputs(blockVariablesDir(t.server.ctx.project.dataDir, 'matrix_report', runPartition(row), 'report'));
      assert.deepEqual({ ...(report as Record<string, unknown>), env: undefined }, { ...EXPECTED_REPORT, env: undefined });
    });
  });
}

describe('a project platform through blockflow run', () => {
  let base: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'blockflow-platform-cli-'));
    cpSync(FIXTURE, join(base, 'repo'), { recursive: true });
  });
  after(() => {
    rmSync(base, { recursive: true, force: true });
  });

  test('the root runs its active project\'s pipeline to completion', async () => {
    const r = await runCli([join(base, 'repo'), 'matrix_report']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const uuid of ['summarise:north', 'summarise:south', 'report']) assert.match(r.stdout + r.stderr, new RegExp(uuid));
  });

  test('settings naming a missing or escaping project folder stop the load with a message', () => {
    const root = join(base, 'bad');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'settings.yaml'), 'projects:\n  gone:\n    active: true\n');
    assert.throws(() => loadProject(root), (e: unknown) => e instanceof ProjectConfigError && /"gone".*does not exist/.test((e as Error).message));
    writeFileSync(join(root, 'settings.yaml'), 'projects:\n  away:\n    path: ../elsewhere\n');
    assert.throws(() => loadProject(root), (e: unknown) => e instanceof ProjectConfigError && /away/.test((e as Error).message));
  });
});
