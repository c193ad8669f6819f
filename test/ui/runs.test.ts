/**
 * The runs pages in Chromium against a real server (SQLite, TypeScript blocks so no Python is needed): the global
 * list filtered by several statuses at once, paged from the server into a virtualised list (3,000 runs, only a
 * screenful in the page), a run's detail with the DAG coloured by block-run status and a Gantt, a block run's log
 * and output sample, cancel a running run, retry a failed run (which then completes), and a viewer who sees no
 * write buttons. No request leaves the origin and the console stays clean.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { OWNER, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { buildProject } from '../engine/projectBuilder.js';
import { chromiumMissing, ensureUiBuilt, launch, openPage, signInWithForm,
  signInAsNewViewer, unexpectedErrors, type WatchedPage } from './browser.js';

const missing = chromiumMissing();
const flagDir = mkdtempSync(join(tmpdir(), 'blockflow-ui-runs-'));
const FLAG = join(flagDir, 'ok');

const LOAD = `import { table } from 'blockflow';
export default function load() {
  console.log('loading three rows');
  return table([{ n: 1, word: 'one' }, { n: 2, word: 'two' }, { n: 3, word: 'three' }]);
}
`;
const COUNT = `import { table } from 'blockflow';
export default function count(ctx: unknown, rows: { numRows: number }) {
  console.log('counting', rows.numRows);
  return table([{ rows: rows.numRows }]);
}
`;
const BOOM = `import { existsSync } from 'node:fs';
export default function boom() {
  if (!existsSync(${JSON.stringify(FLAG)})) throw new Error('the flag file is missing');
  return { fixed: true };
}
`;
const SLOW = `export default async function slow() {
  console.log('sleeping');
  await new Promise((resolve) => setTimeout(resolve, 120_000));
  return 1;
}
`;

function runsFixture(): string {
  return buildProject({
    etl: {
      blocks: [
        { uuid: 'load_rows', type: 'data_loader', language: 'typescript', code: LOAD },
        { uuid: 'count_rows', type: 'transformer', language: 'typescript', code: COUNT, upstream: ['load_rows'] },
      ],
    },
    flaky: {
      blocks: [
        { uuid: 'start', type: 'data_loader', language: 'typescript', code: LOAD },
        { uuid: 'boom', type: 'transformer', language: 'typescript', code: BOOM, upstream: ['start'] },
      ],
    },
    slow: { blocks: [{ uuid: 'nap', type: 'custom', language: 'typescript', code: SLOW }] },
    history: { blocks: [{ uuid: 'old', type: 'data_loader', language: 'typescript', code: LOAD }] },
  });
}

describe('runs pages in Chromium', { skip: missing || undefined, timeout: 300_000 }, () => {
  let t: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  const allowed: RegExp[] = [];
  const runIds: Record<string, number> = {};

  const api = (method: string, path: string, body?: unknown) => t.call(method, path, body, t.ownerToken);
  const startRun = async (pipeline: string) => {
    const trigger = (await api('POST', `/api/pipelines/${pipeline}/pipeline_schedules`, { pipeline_schedule: { name: `api ${pipeline}`, schedule_type: 'api', status: 'active' } })).body.pipeline_schedule;
    const res = await api('POST', `/api/pipeline_schedules/${trigger.id}/pipeline_runs`, { pipeline_run: {} });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.pipeline_run.id as number;
  };
  const runStatus = async (id: number) => (await api('GET', `/api/pipeline_runs/${id}`)).body.pipeline_run.status as string;

  before(async () => {
    ensureUiBuilt();
    t = await startTestServer({ fixture: runsFixture() });
    // 3,000 finished runs of `history`, straight into the store: the list must page them from the server.
    await t.server.ctx.store.transaction(async (tx) => {
      for (let i = 0; i < 3000; i++) {
        await tx.pipelineRuns.create({ pipeline_uuid: 'history', status: i % 10 === 0 ? 'failed' : 'completed', execution_date: new Date(Date.UTC(2026, 0, 1) + i * 60_000), started_at: new Date(Date.UTC(2026, 0, 1) + i * 60_000), completed_at: new Date(Date.UTC(2026, 0, 1) + i * 60_000 + 4000) });
      }
    });
    runIds.etl = await startRun('etl');
    runIds.flaky = await startRun('flaky');
    await waitFor('etl completed', async () => (await runStatus(runIds.etl)) === 'completed', 60_000);
    await waitFor('flaky failed', async () => (await runStatus(runIds.flaky)) === 'failed', 60_000);
    runIds.slow = await startRun('slow');
    await waitFor('slow running', async () => (await runStatus(runIds.slow)) === 'running', 30_000);
    browser = await launch();
    w = await openPage(browser, t.url);
    w.page.setDefaultTimeout(30_000);
    await w.page.goto('/sign-in');
    await signInWithForm(w.page, OWNER.email, OWNER.password);
    await w.page.waitForURL(/\/pipelines$/);
  });
  after(async () => {
    await w?.close();
    await browser?.close();
    await t?.close();
  });

  const shownRuns = async () => w.page.locator('[data-testid="runs-list"] [data-run-id]').evaluateAll((els) => els.map((e) => [Number(e.getAttribute('data-run-id')), e.getAttribute('data-status')] as [number, string]));

  test('the app shell links to the runs; the list pages 3,000+ runs from the server into a virtualised list', async () => {
    const { page } = w;
    await page.getByRole('navigation').getByRole('link', { name: 'Runs' }).click();
    await page.waitForURL(/\/runs$/);
    await page.getByTestId('runs-count').getByText('3,003 runs').waitFor();
    const rows = await shownRuns();
    assert.ok(rows.length > 5 && rows.length < 80, `only a screenful of rows is in the page (${rows.length})`);
    assert.equal(rows[0][0], runIds.slow, 'newest first');
    // Scroll to the end: the last page is asked for and the oldest run shows.
    await page.getByTestId('runs-list').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await waitFor('the oldest run shown', async () => (await shownRuns()).some(([id]) => id === 1), 10_000);
    assert.ok((await shownRuns()).length < 80);
  });

  test('filters by several statuses at once, kept in the URL', async () => {
    const { page } = w;
    await page.getByLabel('Status failed').check();
    await page.waitForURL(/status=failed/);
    await page.getByTestId('runs-count').getByText('301 runs').waitFor();
    assert.ok((await shownRuns()).every(([, s]) => s === 'failed'));
    await page.getByLabel('Status running').check();
    await page.getByTestId('runs-count').getByText('302 runs').waitFor();
    const rows = await shownRuns();
    assert.deepEqual(rows.slice(0, 2), [
      [runIds.slow, 'running'],
      [runIds.flaky, 'failed'],
    ]);
    assert.ok(rows.every(([, s]) => s === 'failed' || s === 'running'));
    await page.getByLabel('Filter by pipeline').selectOption('flaky');
    await page.getByTestId('runs-count').getByText('1 run', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByTestId('runs-count').getByText('3,003 runs').waitFor();
  });

  test("a run's detail shows the DAG coloured by block-run status, a Gantt, and a block run's log and output", async () => {
    const { page } = w;
    await page.goto(`/pipelines/etl/runs`);
    await page.getByTestId('runs-count').getByText('1 run', { exact: true }).waitFor();
    await page.getByRole('link', { name: `Run ${runIds.etl}` }).click();
    await page.waitForURL(new RegExp(`/pipelines/etl/runs/${runIds.etl}$`));
    await page.getByTestId('dag-node-load_rows').waitFor();
    assert.match((await page.getByTestId('dag-node-load_rows').getAttribute('class')) ?? '', /status-completed/);
    assert.match((await page.getByTestId('dag-node-count_rows').getAttribute('class')) ?? '', /status-completed/);
    await page.getByTestId('gantt').waitFor();
    assert.equal(await page.locator('.gantt-bar.status-completed').count(), 2);
    await page.locator('tr[data-block-run="load_rows"]').getByRole('button', { name: 'Log & output' }).click();
    const panel = page.getByTestId('block-run-panel');
    await panel.getByTestId('block-log').getByText('loading three rows').waitFor();
    await panel.getByRole('tab', { name: 'Output' }).click();
    await panel.getByTestId('output-table').getByText('three').waitFor();
    assert.match(await panel.getByTestId('output-table').innerText(), /3 rows × 2 columns/);
  });

  test('a failed run: the DAG shows the failure, its log the error; retry failed completes it', async () => {
    const { page } = w;
    await page.goto(`/pipelines/flaky/runs/${runIds.flaky}`);
    await page.getByTestId('dag-node-boom').waitFor();
    await waitFor('boom drawn as failed', async () => /status-failed/.test((await page.getByTestId('dag-node-boom').getAttribute('class')) ?? ''), 10_000);
    assert.match((await page.getByTestId('dag-node-start').getAttribute('class')) ?? '', /status-completed/);
    await page.getByTestId('dag-node-boom').click();
    await page.getByTestId('block-log').getByText(/the flag file is missing/).first().waitFor();
    writeFileSync(FLAG, 'ok');
    await page.getByRole('button', { name: 'Retry failed blocks' }).click();
    await page.getByRole('status').getByText(`Run ${runIds.flaky}: failed blocks retried.`).waitFor();
    // Live: the page follows the run without a reload.
    await page.locator('.page-head [data-status="completed"]').waitFor({ timeout: 60_000 });
    await waitFor('boom drawn as completed', async () => /status-completed/.test((await page.getByTestId('dag-node-boom').getAttribute('class')) ?? ''), 10_000);
    assert.equal(await runStatus(runIds.flaky), 'completed');
  });

  test('cancel a running run', async () => {
    const { page } = w;
    await page.goto(`/pipelines/slow/runs/${runIds.slow}`);
    await page.locator('.page-head [data-status="running"]').waitFor();
    await page.locator('tr[data-block-run="nap"]').getByRole('button', { name: 'Log & output' }).click();
    await page.getByTestId('block-log').getByText('sleeping').waitFor();
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.locator('.page-head [data-status="cancelled"]').waitFor();
    assert.equal(await runStatus(runIds.slow), 'cancelled');
    assert.equal(await page.getByRole('button', { name: 'Cancel run' }).count(), 0);
  });

  test('no request left the origin and the console stayed clean', () => {
    assert.deepEqual(w.offOrigin, []);
    assert.deepEqual(unexpectedErrors(w.errors, allowed), []);
  });

  test('a viewer sees the runs without write buttons', async () => {
    const v = await signInAsNewViewer(browser, t.url, (body) => api('POST', '/api/users', body));
    try {
      await v.page.goto('/runs?status=failed');
      await v.page.getByTestId('runs-count').getByText('300 runs').waitFor();
      assert.equal(await v.page.getByRole('button', { name: 'Retry failed' }).count(), 0);
      await v.page.goto(`/pipelines/flaky/runs/${runIds.flaky}`);
      await v.page.getByTestId('dag-node-boom').waitFor();
      await v.page.locator('tr[data-block-run="boom"]').waitFor();
      assert.equal(await v.page.getByRole('button', { name: /Retry|Cancel/ }).count(), 0);
      assert.deepEqual(v.offOrigin, []);
      assert.deepEqual(v.errors, []);
    } finally {
      await v.close();
    }
  });
});
