/**
 * The triggers pages in Chromium against a real server: create a cron trigger in a timezone and see the next 5
 * run times before saving, toggle it on and off, create an API trigger and see its URL with the token (shown
 * once) and its curl samples (the sample really starts a run), rotate the token, run now, edit, delete; a viewer
 * sees the list without write buttons. No request leaves the origin and the console stays clean.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { OWNER, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { buildProject } from '../engine/projectBuilder.js';
import { chromiumMissing, ensureUiBuilt, launch, openPage, signInWithForm,
  signInAsNewViewer, unexpectedErrors, type WatchedPage } from './browser.js';

const missing = chromiumMissing();

const LOAD = `export default function load() {\n  return { n: 1 };\n}\n`;
const fixture = () => buildProject({ etl: { blocks: [{ uuid: 'load_rows', type: 'data_loader', language: 'typescript', code: LOAD }] } });

describe('triggers pages in Chromium', { skip: missing || undefined, timeout: 300_000 }, () => {
  let t: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  const allowed: RegExp[] = [];

  const api = (method: string, path: string, body?: unknown) => t.call(method, path, body, t.ownerToken);
  const triggersOf = async (pipeline: string) => (await api('GET', `/api/pipelines/${pipeline}/pipeline_schedules`)).body.pipeline_schedules as { id: number; name: string; status: string; schedule_interval: string; timezone: string; schedule_type: string; variables: unknown }[];

  before(async () => {
    ensureUiBuilt();
    t = await startTestServer({ fixture: fixture() });
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

  test('creates a cron trigger and sees the next 5 runs in its timezone first', async () => {
    const { page } = w;
    await page.getByRole('navigation').getByRole('link', { name: 'Triggers' }).click();
    await page.waitForURL(/\/triggers$/);
    await page.getByText('No triggers yet.').waitFor();
    await page.goto('/pipelines/etl/triggers');
    await page.getByRole('button', { name: '+ New trigger' }).click();
    const form = page.getByTestId('trigger-form');
    await form.getByLabel('Name').fill('nightly');
    await form.getByLabel('Interval').selectOption('cron');
    await form.getByLabel('Cron expression').fill('30 2 * * 1-5');
    await form.getByLabel('Timezone').fill('Pacific/Auckland');
    const preview = form.getByTestId('schedule-preview');
    await preview.getByText('Next runs (Pacific/Auckland)').waitFor();
    const times = await preview.locator('li').allInnerTexts();
    assert.equal(times.length, 5);
    for (const line of times) assert.match(line, /^(Mon|Tue|Wed|Thu|Fri), .*02:30.*(NZDT|NZST|GMT\+1[23])/);
    // A broken expression is explained and cannot be saved.
    await form.getByLabel('Cron expression').fill('61 * * * *');
    await preview.getByText(/Invalid cron expression/).waitFor();
    assert.equal(await form.getByRole('button', { name: 'Create trigger' }).isDisabled(), true);
    await form.getByLabel('Cron expression').fill('30 2 * * 1-5');
    await form.getByLabel(/Runtime variables/).fill('{"country": "NZ"}');
    await form.getByRole('button', { name: 'Create trigger' }).click();
    await page.locator('tr[data-trigger="nightly"]').waitFor();
    const [nightly] = (await triggersOf('etl')).filter((s) => s.name === 'nightly');
    assert.equal(nightly.schedule_interval, '30 2 * * 1-5');
    assert.equal(nightly.timezone, 'Pacific/Auckland');
    assert.equal(nightly.status, 'inactive');
    assert.deepEqual(nightly.variables, { country: 'NZ' });
  });

  test('toggles a trigger on and off', async () => {
    const { page } = w;
    const toggle = page.locator('tr[data-trigger="nightly"]').getByRole('switch', { name: 'Active nightly' });
    // The switch is controlled: it shows the server's state once the PUT answers, so click and wait for it.
    await toggle.click();
    await waitFor('nightly active', async () => (await triggersOf('etl')).find((s) => s.name === 'nightly')?.status === 'active', 10_000);
    await waitFor('the next run shown', async () => !/—/.test(await page.locator('tr[data-trigger="nightly"] td').nth(4).innerText()), 10_000);
    await waitFor('the switch on', () => toggle.isChecked(), 10_000);
    await toggle.click();
    await waitFor('nightly inactive', async () => (await triggersOf('etl')).find((s) => s.name === 'nightly')?.status === 'inactive', 10_000);
    await waitFor('the switch off', async () => !(await toggle.isChecked()), 10_000);
  });

  test('creates an API trigger and sees its URL with the token once, and curl samples that work', async () => {
    const { page } = w;
    await page.getByRole('button', { name: '+ New trigger' }).click();
    const form = page.getByTestId('trigger-form');
    await form.getByLabel('Name').fill('webhook');
    await form.getByLabel('Type').selectOption('api');
    await form.getByLabel('Active').check();
    await form.getByRole('button', { name: 'Create trigger' }).click();
    const info = page.getByTestId('api-trigger-info');
    await info.getByText(/Copy it now: it is not shown again/).waitFor();
    const url = await info.getByLabel('Trigger URL').inputValue();
    const [webhook] = (await triggersOf('etl')).filter((s) => s.name === 'webhook');
    assert.match(url, new RegExp(`^${t.url}/api/pipeline_schedules/${webhook.id}/pipeline_runs/[A-Za-z0-9_-]{16,}$`));
    const curl = await info.getByTestId('sample-curl-async-run-').innerText();
    assert.ok(curl.startsWith(`curl -X POST '${url}'`), curl);
    const sync = await info.getByTestId('sample-curl-post-api-runs-').innerText();
    const token = url.split('/').pop()!;
    assert.match(sync, new RegExp(`Authorization: Bearer ${token}`));
    assert.match(sync, /"pipeline_uuid": "etl", "block_uuid": "load_rows"/);
    assert.match(await info.getByTestId('sample-python-async-run-').innerText(), /requests\.post\(/);
    // The URL works as shown.
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ pipeline_run: { variables: { key: 'value' } } }) });
    assert.equal(res.status, 200);
    // Rotating makes a new token; the old one stops working.
    await info.getByRole('button', { name: 'Rotate token' }).click();
    await waitFor('a new URL', async () => (await info.getByLabel('Trigger URL').inputValue()) !== url, 10_000);
    const old = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(old.status, 401);
    await info.getByRole('button', { name: 'Close' }).click();
    // Opened again later, the token is not known any more.
    await page.locator('tr[data-trigger="webhook"]').getByRole('button', { name: 'API' }).click();
    assert.match(await info.getByLabel('Trigger URL').inputValue(), /<TOKEN>$/);
    await info.getByRole('button', { name: 'Close' }).click();
  });

  test('run now, edit and delete', async () => {
    const { page } = w;
    await page.locator('tr[data-trigger="webhook"]').getByRole('button', { name: /Run now/ }).click();
    await page.getByRole('status').getByText(/Run \d+ of etl started/).waitFor();
    await waitFor('two runs of webhook', async () => (await api('GET', '/api/pipeline_runs?pipeline_uuid=etl')).body.metadata.count === 2, 10_000);
    await page.locator('tr[data-trigger="nightly"]').getByRole('button', { name: 'Edit' }).click();
    const form = page.getByTestId('trigger-form');
    await form.getByLabel('Interval').selectOption('@hourly');
    await form.getByTestId('schedule-preview').locator('li').nth(4).waitFor();
    await form.getByRole('button', { name: 'Save' }).click();
    await page.locator('tr[data-trigger="nightly"]').getByText('@hourly').waitFor();
    await page.locator('tr[data-trigger="nightly"]').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Delete trigger' }).click();
    await page.locator('tr[data-trigger="nightly"]').waitFor({ state: 'detached' });
    assert.equal((await triggersOf('etl')).some((s) => s.name === 'nightly'), false);
  });

  test('no request left the origin and the console stayed clean', () => {
    assert.deepEqual(w.offOrigin, []);
    assert.deepEqual(unexpectedErrors(w.errors, allowed), []);
  });

  test('a viewer sees the triggers without write buttons', async () => {
    const v = await signInAsNewViewer(browser, t.url, (body) => api('POST', '/api/users', body));
    try {
      await v.page.goto('/triggers');
      await v.page.locator('tr[data-trigger="webhook"]').waitFor();
      for (const name of ['+ New trigger', 'Edit', 'Delete', '▶ Run now']) assert.equal(await v.page.getByRole('button', { name }).count(), 0, name);
      assert.equal(await v.page.getByRole('switch').count(), 0);
      await v.page.getByRole('button', { name: 'API' }).click();
      await v.page.getByTestId('api-trigger-info').getByLabel('Trigger URL').waitFor();
      assert.equal(await v.page.getByRole('button', { name: 'Rotate token' }).count(), 0);
      assert.deepEqual(v.offOrigin, []);
      assert.deepEqual(v.errors, []);
    } finally {
      await v.close();
    }
  });
});
