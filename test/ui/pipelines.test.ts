/**
 * Sign-in, sign-out and the pipelines list in Chromium against a real server: a page asked for without a session
 * goes to sign-in and back after it; a wrong password is shown; search and tag filter; create from a block
 * template; clone, rename, delete; run now; with authentication off the app opens straight to the list.
 * No request leaves the origin and the console stays clean.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { OWNER, startTestServer, type TestServer } from '../helpers/server.js';
import { chromiumMissing, ensureUiBuilt, launch, openPage, signInWithForm, unexpectedErrors, type WatchedPage } from './browser.js';
import { waitFor } from '../helpers/wait.js';

const missing = chromiumMissing();

describe('sign-in and the pipelines list in Chromium', { skip: missing || undefined, timeout: 240_000 }, () => {
  let t: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  const allowed: RegExp[] = [];

  before(async () => {
    ensureUiBuilt();
    t = await startTestServer();
    for (const [name, tags] of [
      ['orders daily', ['sales', 'daily']],
      ['customers sync', ['crm']],
      ['sales report', ['sales']],
    ] as const) {
      const res = await t.call('POST', '/api/pipelines', { pipeline: { name, tags } }, t.ownerToken);
      assert.equal(res.status, 200);
    }
    browser = await launch();
    w = await openPage(browser, t.url);
    w.page.setDefaultTimeout(20_000);
  });
  after(async () => {
    await w?.close();
    await browser?.close();
    await t?.close();
  });

  const rows = async () => w.page.locator('table[aria-label="Pipelines"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-pipeline')));

  test('a page asked for without a session goes to sign-in; a wrong password is refused; then back to the page', async () => {
    const { page } = w;
    await page.goto('/pipelines?tag=sales');
    await page.waitForURL(/\/sign-in\?redirect=/);
    allowed.push(/status of 401/);
    await signInWithForm(page, OWNER.email, 'wrong-password');
    await page.getByRole('alert').getByText(/password is wrong/).waitFor();
    await page.getByLabel('Password').fill('');
    await page.getByLabel('Password').click();
    await page.keyboard.type(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/pipelines\?tag=sales$/);
    await page.locator('table[aria-label="Pipelines"]').waitFor();
    assert.deepEqual((await rows()).sort(), ['orders_daily', 'sales_report']);
  });

  test('search and tag filter', async () => {
    const { page } = w;
    await page.getByLabel('Filter by tag').selectOption('');
    await waitFor('all four pipelines listed', async () => (await rows()).length === 4, 5000);
    assert.deepEqual((await rows()).sort(), ['customers_sync', 'demo_pipeline', 'orders_daily', 'sales_report']);
    await page.getByLabel('Search pipelines').click();
    await page.keyboard.type('sync');
    await page.waitForURL(/q=sync/);
    assert.deepEqual(await rows(), ['customers_sync']);
    await page.getByLabel('Search pipelines').fill('');
    await page.getByLabel('Filter by tag').selectOption('crm');
    assert.deepEqual(await rows(), ['customers_sync']);
    await page.getByLabel('Filter by tag').selectOption('');
  });

  test('creates a pipeline from a block template and opens it in the editor', async () => {
    const { page } = w;
    await page.getByRole('button', { name: '+ New pipeline' }).click();
    const dialog = page.getByTestId('create-pipeline');
    await dialog.getByLabel('Name', { exact: true }).click();
    await page.keyboard.type('from template');
    await dialog.getByLabel('A block template').check();
    await dialog.getByLabel('Block type').selectOption('data_loader');
    await dialog.getByLabel('Language').selectOption('sql');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/pipelines\/from_template\/edit$/);
    await page.getByTestId('cell-load_from_template').waitFor();
    const pipeline = (await t.call('GET', '/api/pipelines/from_template', undefined, t.ownerToken)).body.pipeline;
    assert.deepEqual(
      pipeline.blocks.map((b: { uuid: string; type: string; language: string }) => [b.uuid, b.type, b.language]),
      [['load_from_template', 'data_loader', 'sql']],
    );
    await page.getByRole('link', { name: 'Pipelines', exact: true }).first().click();
    await page.waitForURL(/\/pipelines$/);
  });

  test('clone, rename and delete', async () => {
    const { page } = w;
    const row = (uuid: string) => page.locator(`tr[data-pipeline="${uuid}"]`);
    await row('orders_daily').getByRole('button', { name: 'Clone' }).click();
    await page.getByLabel('Name of the copy').fill('orders copy');
    await page.getByRole('dialog').getByRole('button', { name: 'Clone' }).click();
    await row('orders_copy').waitFor();
    const copy = (await t.call('GET', '/api/pipelines/orders_copy', undefined, t.ownerToken)).body.pipeline;
    assert.deepEqual(copy.tags, ['sales', 'daily']);

    await row('orders_copy').getByRole('button', { name: 'Rename' }).click();
    await page.getByLabel('New name').fill('orders archive');
    await page.getByRole('dialog').getByRole('button', { name: 'Rename' }).click();
    await row('orders_archive').waitFor();
    await row('orders_copy').waitFor({ state: 'detached' });

    await row('orders_archive').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Delete pipeline' }).click();
    await row('orders_archive').waitFor({ state: 'detached' });
    assert.equal((await t.call('GET', '/api/pipelines/orders_archive', undefined, t.ownerToken)).status, 404);
  });

  test('run now starts a pipeline run', async () => {
    const { page } = w;
    await page.locator('tr[data-pipeline="demo_pipeline"]').getByRole('button', { name: /Run now/ }).click();
    await page.getByRole('status').getByText(/Run \d+ of demo_pipeline started/).waitFor();
    const runs = (await t.call('GET', '/api/pipeline_runs?pipeline_uuid=demo_pipeline', undefined, t.ownerToken)).body.pipeline_runs;
    assert.equal(runs.length, 1);
    // A second click reuses the same trigger.
    await page.locator('tr[data-pipeline="demo_pipeline"]').getByRole('button', { name: /Run now/ }).click();
    await waitFor('a second run', async () => (await t.call('GET', '/api/pipeline_runs?pipeline_uuid=demo_pipeline', undefined, t.ownerToken)).body.pipeline_runs.length === 2, 10_000);
    const schedules = (await t.call('GET', '/api/pipelines/demo_pipeline/pipeline_schedules', undefined, t.ownerToken)).body.pipeline_schedules;
    const runNow = schedules.filter((s: { name: string }) => s.name === 'Run now (web UI)');
    assert.equal(runNow.length, 1);
    assert.equal(runNow[0].schedule_type, 'api');
  });

  test('sign out ends the session', async () => {
    const { page } = w;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in/);
    await page.goto('/pipelines');
    await page.waitForURL(/\/sign-in/);
    const cookies = await w.context.cookies();
    assert.equal(cookies.find((c) => c.name === 'oauth_token')?.value ?? '', '');
  });

  test('no request left the origin and the console stayed clean', () => {
    assert.deepEqual(w.offOrigin, []);
    assert.deepEqual(unexpectedErrors(w.errors, allowed), []);
  });
});

describe('authentication off in Chromium', { skip: missing || undefined, timeout: 120_000 }, () => {
  let t: TestServer;
  let browser: Browser;
  let w: WatchedPage;

  before(async () => {
    ensureUiBuilt();
    t = await startTestServer({ requireAuth: false });
    browser = await launch();
    w = await openPage(browser, t.url);
  });
  after(async () => {
    await w?.close();
    await browser?.close();
    await t?.close();
  });

  test('/ opens straight to the pipelines list, and /sign-in sends there too', async () => {
    const { page } = w;
    await page.goto('/');
    await page.waitForURL(/\/pipelines$/);
    await page.locator('tr[data-pipeline="demo_pipeline"]').waitFor();
    await page.getByText('authentication off').waitFor();
    await page.goto('/sign-in');
    await page.waitForURL(/\/pipelines$/);
    assert.deepEqual(w.offOrigin, []);
    assert.deepEqual(w.errors, []);
  });
});
