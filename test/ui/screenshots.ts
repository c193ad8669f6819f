/**
 * `npm run ui:screenshots`: screenshots of each page of the web UI into docs/ui/*.png, taken in Chromium from a
 * real server on a fresh demo project (the README links them). Also prints how long each page took.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OWNER, startTestServer } from '../helpers/server.js';
import { chromiumMissing, ensureUiBuilt, launch, openPage, signInWithForm, typeIntoBlock } from './browser.js';
import { usePreparedPython } from '../engine/projectBuilder.js';

const OUT = fileURLToPath(new URL('../../docs/ui/', import.meta.url));

async function main(): Promise<void> {
  const missing = chromiumMissing();
  if (missing) throw new Error(missing);
  ensureUiBuilt();
  mkdirSync(OUT, { recursive: true });
  // The interpreter the test suites use (scripts/prepare-test-env.mjs), so no project venv is made here.
  usePreparedPython();
  const t = await startTestServer();
  const browser = await launch();
  const w = await openPage(browser, t.url, { width: 1440, height: 900 });
  const { page } = w;
  page.setDefaultTimeout(60_000);
  const shot = async (name: string) => {
    await page.waitForTimeout(400);
    await page.screenshot({ path: `${OUT}${name}.png` });
    console.log(`docs/ui/${name}.png`);
  };
  try {
    for (const [name, tags, description] of [
      ['orders daily', ['sales', 'daily'], 'Loads yesterday’s orders from the shop database.'],
      ['customers sync', ['crm'], 'Copies new customers into the warehouse.'],
      ['sales report', ['sales'], null],
    ] as const) {
      await t.call('POST', '/api/pipelines', { pipeline: { name, tags, description } }, t.ownerToken);
    }
    await t.call('POST', '/api/pipelines/demo_pipeline/variables', { variable: { name: 'threshold', value: 3 } }, t.ownerToken);
    await t.call('POST', '/api/pipelines/demo_pipeline/variables', { variable: { name: 'country', value: 'NZ' } }, t.ownerToken);

    await page.goto('/');
    await page.waitForURL(/sign-in/);
    await page.getByLabel('Email or username').click();
    await page.keyboard.type(OWNER.email);
    await shot('sign-in');
    await page.goto('/sign-in');
    await signInWithForm(page, OWNER.email, OWNER.password);
    await page.locator('table[aria-label="Pipelines"]').waitFor();
    await shot('pipelines');

    await page.getByRole('button', { name: '+ New pipeline' }).click();
    await page.getByTestId('create-pipeline').getByLabel('Name', { exact: true }).fill('daily revenue');
    await page.getByTestId('create-pipeline').getByLabel('A block template').check();
    await shot('new-pipeline');
    await page.keyboard.press('Escape');

    await page.getByRole('link', { name: 'demo_pipeline' }).click();
    await page.locator('.monaco-editor .view-lines').first().waitFor();
    await page.getByLabel('Autosave').uncheck();
    await page.getByRole('button', { name: '▶ Run pipeline' }).click();
    await page.getByTestId('cell-report').getByTestId('block-output').getByText(/Done in/).waitFor({ timeout: 120_000 });
    await page.getByTestId('dag-node-summarise').click();
    await page.waitForTimeout(600);
    await page.locator('.cells').evaluate((el) => el.scrollTo(0, 0));
    await shot('editor');

    await page.locator('.cells').evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await page.getByRole('tab', { name: 'Variables' }).click();
    await page.getByTestId('variables-panel').getByText('threshold').waitFor();
    await shot('editor-outputs-variables');
    await page.getByRole('tab', { name: 'Tree' }).click();

    // A stale save: another client changes the transformer, then this page saves.
    await t.call('PUT', '/api/pipelines/demo_pipeline/blocks/summarise', { block: { content: 'SELECT 1 AS changed_elsewhere' } }, t.ownerToken);
    await page.locator('.cells').evaluate((el) => el.scrollTo(0, 0));
    await typeIntoBlock(page, 'summarise', '-- my edit', { append: true });
    await page.keyboard.press('ControlOrMeta+S');
    await page.getByTestId('conflict').waitFor();
    await page.getByTestId('cell-summarise').scrollIntoViewIfNeeded();
    await shot('editor-conflict');

    // Runs and triggers: a nightly cron trigger, an API trigger, two real runs of demo_pipeline (one through
    // the API trigger) and a history of finished runs written to the store, so the list has pages to scroll.
    const nightly = (
      await t.call('POST', '/api/pipelines/demo_pipeline/pipeline_schedules', { pipeline_schedule: { name: 'nightly', schedule_type: 'time', schedule_interval: '30 2 * * *', timezone: 'Europe/Berlin', status: 'active', variables: { threshold: 5 } } }, t.ownerToken)
    ).body.pipeline_schedule;
    const webhook = (await t.call('POST', '/api/pipelines/demo_pipeline/pipeline_schedules', { pipeline_schedule: { name: 'webhook', schedule_type: 'api', status: 'active' } }, t.ownerToken)).body.pipeline_schedule;
    await t.server.ctx.store.transaction(async (tx) => {
      const day0 = Date.now() - 40 * 86_400_000;
      for (let i = 0; i < 1200; i++) {
        const at = day0 + i * 45 * 60_000;
        const status = i % 17 === 0 ? 'failed' : i % 41 === 0 ? 'cancelled' : 'completed';
        await tx.pipelineRuns.create({ pipeline_uuid: i % 3 === 0 ? 'orders_daily' : 'demo_pipeline', pipeline_schedule_id: i % 3 === 0 ? null : nightly.id, status, execution_date: new Date(at), started_at: new Date(at), completed_at: new Date(at + 20_000 + (i % 7) * 9000) });
      }
    });
    const first = (await t.call('POST', `/api/pipeline_schedules/${webhook.id}/pipeline_runs/${webhook.token}`, { pipeline_run: { variables: { threshold: 2 } } })).body.pipeline_run;
    const waitRun = async (id: number) => {
      for (let i = 0; i < 600; i++) {
        const run = (await t.call('GET', `/api/pipeline_runs/${id}`, undefined, t.ownerToken)).body.pipeline_run;
        if (!['initial', 'running'].includes(run.status)) return run;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`run ${id} did not finish`);
    };
    await waitRun(first.id);
    await page.goto('/runs');
    await page.locator('[data-testid="runs-list"] [data-run-id]').first().waitFor();
    await shot('runs');
    await page.goto(`/pipelines/demo_pipeline/runs/${first.id}`);
    await page.getByTestId('dag-node-summarise').waitFor();
    await page.locator('tr[data-block-run="load_numbers"]').getByRole('button', { name: 'Log & output' }).click();
    await page.getByTestId('block-log').locator('.log-line').first().waitFor();
    await page.waitForTimeout(600);
    await shot('run-detail');
    await page.getByTestId('block-run-panel').getByRole('tab', { name: 'Output' }).click();
    await page.getByTestId('block-output-sample').getByTestId('output-table').first().waitFor();
    await page.getByTestId('block-run-panel').scrollIntoViewIfNeeded();
    await shot('run-detail-output');

    await page.goto('/triggers');
    await page.locator('tr[data-trigger="nightly"]').waitFor();
    await shot('triggers');
    await page.goto('/pipelines/demo_pipeline/triggers');
    await page.getByRole('button', { name: '+ New trigger' }).click();
    const form = page.getByTestId('trigger-form');
    await form.getByLabel('Name').fill('weekday mornings');
    await form.getByLabel('Interval').selectOption('cron');
    await form.getByLabel('Cron expression').fill('15 7 * * 1-5');
    await form.getByLabel('Timezone').fill('America/New_York');
    await form.getByTestId('schedule-preview').locator('li').nth(4).waitFor();
    await shot('trigger-form');
    await form.getByLabel('Type').selectOption('api');
    await form.getByLabel('Name').fill('partner webhook');
    await form.getByLabel('Active').check();
    await form.getByRole('button', { name: 'Create trigger' }).click();
    await page.getByTestId('api-trigger-info').getByLabel('Trigger URL').waitFor();
    await shot('api-trigger');
    await page.getByTestId('api-trigger-info').getByRole('button', { name: 'Close' }).click();

    if (w.offOrigin.length || w.errors.filter((e) => !/status of 409/.test(e)).length) {
      console.error('unexpected:', { offOrigin: w.offOrigin, errors: w.errors });
      process.exitCode = 1;
    }
  } finally {
    await w.close();
    await browser.close();
    await t.close();
  }
}

await main();
