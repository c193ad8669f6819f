/**
 * The notebook editor end to end, in Debian's Chromium (playwright-core) against a real server (SQLite, real
 * Python, DuckDB): sign in, create a pipeline, add a Python loader and a SQL transformer, type their code with
 * the keyboard, run the loader and see its table, connect the blocks in the DAG, run the transformer with its
 * upstream, interrupt a long block, autosave with a local draft, and a stale save refused (409 shown, nothing
 * overwritten). Every page asserts that no request left the server's origin and the console stayed clean.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { OWNER, startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { chromiumMissing, connectInDag, ensureUiBuilt, launch, openPage, signInWithForm, storageItem, typeIntoBlock, unexpectedErrors, waitForEditorText, type WatchedPage } from './browser.js';

const missing = chromiumMissing();

const LOADER = `import pandas as pd
from mage_ai.data_preparation.decorators import data_loader

@data_loader
def load_rows(*args, **kwargs):
    print('loading three rows')
    return pd.DataFrame({'n': [1, 2, 3], 'word': ['one', 'two', 'three']})`;

const TRANSFORMER = 'SELECT count(*) AS row_count, sum(n) AS n_total FROM {{ df_1 }}';

const SLOW = `import time
from mage_ai.data_preparation.decorators import custom

@custom
def slow(*args, **kwargs):
    print('sleeping')
    time.sleep(120)
    return 1`;

describe('pipeline editor in Chromium', { skip: missing || undefined, timeout: 300_000 }, () => {
  let t: TestServer;
  let browser: Browser;
  let w: WatchedPage;
  const allowed: RegExp[] = [];

  before(async () => {
    ensureUiBuilt();
    t = await startTestServer();
    browser = await launch();
    w = await openPage(browser, t.url);
    w.page.setDefaultTimeout(30_000);
  });
  after(async () => {
    await w?.close();
    await browser?.close();
    await t?.close();
  });

  const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => t.call(method, path, body, t.ownerToken, headers);
  const blockOf = async (uuid: string) => (await api('GET', `/api/pipelines/ui_notebook/blocks/${uuid}`)).body.block;

  test('signs in at / and lands on the pipelines list', async () => {
    const { page } = w;
    await page.goto('/');
    await page.waitForURL(/\/sign-in/);
    await signInWithForm(page, OWNER.email, OWNER.password);
    await page.waitForURL(/\/pipelines$/);
    await page.getByRole('heading', { name: 'Pipelines' }).waitFor();
    assert.equal(await page.getByTestId('signed-in-user').innerText(), 'owner');
  });

  test('creates a blank pipeline and opens its editor', async () => {
    const { page } = w;
    await page.getByRole('button', { name: '+ New pipeline' }).click();
    await page.getByLabel('Name', { exact: true }).click();
    await page.keyboard.type('ui notebook');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/pipelines\/ui_notebook\/edit$/);
    await page.getByText('This pipeline has no blocks yet').waitFor();
    // Autosave is tested on its own below; off here, so each save happens when the test says.
    await page.getByLabel('Autosave').uncheck();
  });

  test('adds a Python loader, types its code, runs it with Ctrl+Enter and shows its table and stdout', async () => {
    const { page } = w;
    const bar = page.getByTestId('add-block');
    await bar.getByLabel('Block type').selectOption('data_loader');
    await bar.getByLabel('Block language').selectOption('python');
    await bar.getByLabel('Block name').fill('load rows');
    await bar.getByRole('button', { name: '+ Add' }).click();
    await page.getByTestId('cell-load_rows').waitFor();
    await typeIntoBlock(page, 'load_rows', LOADER);
    await page.getByTestId('cell-load_rows').getByText('unsaved').waitFor();
    await page.keyboard.press('ControlOrMeta+Enter');
    const table = page.getByTestId('cell-load_rows').getByTestId('output-table');
    await table.waitFor({ timeout: 60_000 });
    assert.match(await table.innerText(), /three/);
    assert.match(await table.innerText(), /3 rows × 2 columns/);
    assert.match(await page.getByTestId('cell-load_rows').getByTestId('stdout').innerText(), /loading three rows/);
    // The run used the unsaved editor text; saving writes it (Ctrl+S inside the editor).
    await page.getByTestId('editor-load_rows').locator('.view-lines').click();
    await page.keyboard.press('ControlOrMeta+S');
    await page.getByTestId('save-state').getByText(/Saved/).waitFor();
    assert.equal(readFileSync(join(t.projectDir, 'data_loaders', 'load_rows.py'), 'utf8').trim(), LOADER.trim());
  });

  test('adds a SQL transformer without upstream, types its query, and connects it in the DAG', async () => {
    const { page } = w;
    const bar = page.getByTestId('add-block');
    await bar.getByLabel('Block type').selectOption('transformer');
    await bar.getByLabel('Block language').selectOption('sql');
    await bar.getByLabel('Upstream block').selectOption('');
    await bar.getByLabel('Block name').fill('sum rows');
    await bar.getByRole('button', { name: '+ Add' }).click();
    await page.getByTestId('cell-sum_rows').waitFor();
    assert.deepEqual((await blockOf('sum_rows')).upstream_blocks, []);
    await typeIntoBlock(page, 'sum_rows', TRANSFORMER);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByTestId('save-state').getByText(/Saved/).waitFor();
    await page.getByTestId('dag-node-sum_rows').waitFor();
    await connectInDag(page, 'load_rows', 'sum_rows');
    await page.getByTestId('upstream-sum_rows-load_rows').waitFor();
    assert.deepEqual((await blockOf('sum_rows')).upstream_blocks, ['load_rows']);
    // Clicking a node scrolls to its cell and makes it the active one.
    await page.getByTestId('dag-node-load_rows').click();
    await page.locator('[data-block="load_rows"].active').waitFor();
  });

  test('runs the transformer with its upstream and shows both outputs', async () => {
    const { page } = w;
    await page.getByRole('button', { name: 'Run sum_rows with upstream' }).click();
    const table = page.getByTestId('cell-sum_rows').getByTestId('output-table');
    await table.waitFor({ timeout: 60_000 });
    const text = await table.innerText();
    assert.match(text, /row_count/);
    assert.match(text, /n_total/);
    assert.match(text, /\b6\b/);
    assert.match(await page.getByTestId('cell-load_rows').getByTestId('output-table').innerText(), /three/);
    // The DAG still draws its edge after the reload that follows a run.
    await page.waitForTimeout(300);
    assert.equal(await page.getByTestId('dag').locator('.react-flow__edge').count(), 1);
  });

  test('disconnects the blocks from the cell header', async () => {
    const { page } = w;
    await page.getByRole('button', { name: 'Disconnect load_rows from sum_rows' }).click();
    await page.getByTestId('upstream-sum_rows-load_rows').waitFor({ state: 'detached' });
    assert.deepEqual((await blockOf('sum_rows')).upstream_blocks, []);
    await connectInDag(page, 'load_rows', 'sum_rows');
    await page.getByTestId('upstream-sum_rows-load_rows').waitFor();
  });

  test('interrupts a long-running block', async () => {
    const { page } = w;
    const bar = page.getByTestId('add-block');
    await bar.getByLabel('Block type').selectOption('custom');
    await bar.getByLabel('Block language').selectOption('python');
    await bar.getByLabel('Upstream block').selectOption('');
    await bar.getByLabel('Block name').fill('slow');
    await bar.getByRole('button', { name: '+ Add' }).click();
    await page.getByTestId('cell-slow').waitFor();
    await typeIntoBlock(page, 'slow', SLOW);
    await page.keyboard.press('ControlOrMeta+S');
    await page.getByTestId('save-state').getByText(/Saved/).waitFor();
    await page.getByRole('button', { name: 'Run slow', exact: true }).click();
    const cell = page.getByTestId('cell-slow');
    await cell.getByTestId('stdout').getByText('sleeping').waitFor({ timeout: 60_000 });
    // A reload while it runs re-attaches to the execution (Mage forgets it, mage-ai#5097): the output replays
    // and the cell can still be interrupted.
    await page.reload();
    await cell.getByTestId('stdout').getByText('sleeping').waitFor();
    await page.getByRole('button', { name: 'Interrupt slow' }).waitFor();
    const started = Date.now();
    await page.getByRole('button', { name: 'Interrupt slow' }).click();
    await cell.getByText('Interrupted').waitFor({ timeout: 20_000 });
    assert.ok(Date.now() - started < 20_000);
    await page.getByRole('button', { name: 'Run slow', exact: true }).waitFor();
    const running = await api('GET', '/api/pipelines/ui_notebook/executions?status=running');
    assert.equal(running.body.executions.length, 0);
  });

  test("an error shows the exception and the block's own traceback", async () => {
    const { page } = w;
    await typeIntoBlock(page, 'slow', "from mage_ai.data_preparation.decorators import custom\n\n@custom\ndef slow(*args, **kwargs):\n    raise ValueError('no rows today')");
    await page.getByRole('button', { name: 'Run slow', exact: true }).click();
    const error = page.getByTestId('cell-slow').getByTestId('block-error');
    await error.waitFor({ timeout: 60_000 });
    const text = await error.innerText();
    assert.match(text, /ValueError: no rows today/);
    assert.match(text, /raise ValueError/, 'the traceback shows the failing line');
  });

  test('Shift+Enter runs the cell and moves to the next one', async () => {
    const { page } = w;
    await page.getByTestId('editor-load_rows').locator('.view-lines').click();
    await page.keyboard.press('Shift+Enter');
    await page.locator('[data-block="sum_rows"].active').waitFor();
    await page.getByTestId('cell-load_rows').getByTestId('block-output').getByText(/Done in/).waitFor({ timeout: 60_000 });
    // The key ran the block and inserted no newline.
    assert.equal(readFileSync(join(t.projectDir, 'data_loaders', 'load_rows.py'), 'utf8').trim(), LOADER.trim());
    assert.doesNotMatch(await page.getByTestId('cell-load_rows').innerText(), /unsaved/);
  });

  test('a reload restores unsaved edits from the local draft', async () => {
    const { page } = w;
    await typeIntoBlock(page, 'sum_rows', '-- draft line', { append: true });
    await page.getByTestId('cell-sum_rows').getByText('unsaved').waitFor();
    await page.reload();
    await page.getByTestId('draft-notice').waitFor();
    assert.match(await page.getByTestId('draft-notice').innerText(), /Restored unsaved edits/);
    await page.getByTestId('cell-sum_rows').getByText('unsaved').waitFor();
    await waitForEditorText(page, 'sum_rows', /-- draft line/);
    assert.doesNotMatch(readFileSync(join(t.projectDir, 'transformers', 'sum_rows.sql'), 'utf8'), /draft line/);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByTestId('save-state').getByText(/Saved/).waitFor();
    assert.match(readFileSync(join(t.projectDir, 'transformers', 'sum_rows.sql'), 'utf8'), /-- draft line/);
    await page.getByTestId('draft-notice').getByRole('button', { name: 'Dismiss' }).click();
  });

  test('removes a block, then runs the whole pipeline', async () => {
    const { page } = w;
    await page.getByRole('button', { name: 'Remove slow' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove block' }).click();
    await page.getByTestId('cell-slow').waitFor({ state: 'detached' });
    await page.getByTestId('dag-node-slow').waitFor({ state: 'detached' });
    const blocks = (await api('GET', '/api/pipelines/ui_notebook')).body.pipeline.blocks.map((b: { uuid: string }) => b.uuid);
    assert.deepEqual(blocks, ['load_rows', 'sum_rows']);
    const executions = async () => (await api('GET', '/api/pipelines/ui_notebook/executions')).body.executions as { mode: string; status: string }[];
    const before = (await executions()).length;
    await page.getByRole('button', { name: '▶ Run pipeline' }).click();
    await waitFor('the pipeline execution', async () => {
      const list = await executions();
      return list.length === before + 1 && list[0].mode === 'pipeline' && list[0].status === 'completed';
    }, 60_000);
    for (const uuid of ['load_rows', 'sum_rows']) {
      const output = page.getByTestId(`cell-${uuid}`).locator('[data-testid="block-output"][data-state="completed"]');
      await output.getByTestId('output-table').waitFor();
    }
    await page.getByRole('button', { name: '▶ Run pipeline' }).waitFor();
  });

  test('TypeScript blocks get completion from the blockflow types, without errors', async () => {
    const { page } = w;
    const bar = page.getByTestId('add-block');
    await bar.getByLabel('Block type').selectOption('custom');
    await bar.getByLabel('Block language').selectOption('typescript');
    await bar.getByLabel('Upstream block').selectOption('');
    await bar.getByLabel('Block name').fill('ts helper');
    await bar.getByRole('button', { name: '+ Add' }).click();
    const cell = page.getByTestId('cell-ts_helper');
    await cell.waitFor();
    // The new block starts from the TypeScript template (Monaco paints its lines a moment after mounting).
    await waitForEditorText(page, 'ts_helper', /import type \{ BlockContext \} from 'blockflow'/);
    // Inside the template's function body: `ctx.` offers the context's members.
    await typeIntoBlock(page, 'ts_helper', "import type { BlockContext } from 'blockflow';\n\nexport default async function run(ctx: BlockContext) {\n  return ctx.kwargs.ds;");
    await page.keyboard.press('Enter');
    await page.keyboard.type('ctx.');
    const suggestions = page.locator('.suggest-widget .monaco-list-row');
    await suggestions.first().waitFor({ timeout: 30_000 });
    const labels = await suggestions.allInnerTexts();
    assert.ok(labels.some((l) => /logger/.test(l)) && labels.some((l) => /kwargs/.test(l)), labels.join(' | '));
    await page.keyboard.press('Escape');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Backspace');
    await page.waitForTimeout(1500);
    assert.equal(await cell.locator('.squiggly-error').count(), 0, 'no type errors: the blockflow module resolves');
    await page.getByRole('button', { name: 'Remove ts_helper' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove block' }).click();
    await cell.waitFor({ state: 'detached' });
  });

  test('global variables: add, change and delete them in the side panel', async () => {
    const { page } = w;
    const vars = async () => (await api('GET', '/api/pipelines/ui_notebook')).body.pipeline.variables ?? {};
    await page.getByRole('tab', { name: 'Variables' }).click();
    const panel = page.getByTestId('variables-panel');
    await panel.getByLabel('Variable name').click();
    await page.keyboard.type('threshold');
    await panel.getByLabel('Variable value').click();
    await page.keyboard.type('5');
    await panel.getByRole('button', { name: 'Add' }).click();
    await panel.locator('[data-variable="threshold"]').waitFor();
    assert.deepEqual(await vars(), { threshold: 5 });
    await panel.locator('[data-variable="threshold"]').getByRole('button', { name: '5' }).click();
    await panel.getByLabel('Value of threshold').fill('"high"');
    await page.keyboard.press('Enter');
    await panel.locator('[data-variable="threshold"]').getByRole('button', { name: 'high' }).waitFor();
    assert.deepEqual(await vars(), { threshold: 'high' });
    await panel.getByRole('button', { name: 'Delete variable threshold' }).click();
    await panel.locator('[data-variable="threshold"]').waitFor({ state: 'detached' });
    assert.deepEqual(await vars(), {});
    await page.getByRole('tab', { name: 'Tree' }).click();
    await page.getByTestId('dag-node-load_rows').waitFor();
  });

  test('autosave saves a touched block within ~10 s; until then the edit is kept as a local draft', async () => {
    const { page } = w;
    await page.getByLabel('Autosave').check();
    await typeIntoBlock(page, 'load_rows', '# autosaved', { append: true });
    const draft = await storageItem(page, 'blockflow.draft.ui_notebook');
    assert.match(draft ?? '', /# autosaved/);
    await page.getByTestId('save-state').getByText(/Saved/).waitFor({ timeout: 15_000 });
    assert.match(readFileSync(join(t.projectDir, 'data_loaders', 'load_rows.py'), 'utf8'), /# autosaved/);
    assert.equal(await storageItem(page, 'blockflow.draft.ui_notebook'), null);
    await page.getByLabel('Autosave').uncheck();
  });

  test('a stale save is refused with 409, shown, and nothing is overwritten', async () => {
    const { page } = w;
    // Someone else (another tab, curl) changes the transformer after this page loaded the pipeline.
    const other = await api('PUT', '/api/pipelines/ui_notebook/blocks/sum_rows', { block: { content: 'SELECT 42 AS answer' } });
    assert.equal(other.status, 200);
    await typeIntoBlock(page, 'sum_rows', 'SELECT 1 AS mine');
    allowed.push(/status of 409/);
    await page.keyboard.press('ControlOrMeta+S');
    const banner = page.getByTestId('conflict');
    await banner.waitFor();
    assert.match(await banner.innerText(), /changed on the server/);
    assert.match(await page.getByTestId('save-state').innerText(), /conflict/i);
    assert.equal(readFileSync(join(t.projectDir, 'transformers', 'sum_rows.sql'), 'utf8'), 'SELECT 42 AS answer');
    // Reloading takes the server's version and clears the conflict.
    await banner.getByRole('button', { name: /Reload server version/ }).click();
    await banner.waitFor({ state: 'detached' });
    await waitForEditorText(page, 'sum_rows', /SELECT 42 AS answer/);
  });

  test('no request left the origin and the console stayed clean', () => {
    assert.deepEqual(w.offOrigin, []);
    assert.deepEqual(unexpectedErrors(w.errors, allowed), []);
  });
});
