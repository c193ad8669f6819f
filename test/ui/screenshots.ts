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
