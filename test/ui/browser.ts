/**
 * A real browser for the UI tests, screenshots and the editor benchmark: Debian's Chromium (`/usr/bin/chromium`,
 * installed by .ci/run when missing) driven by playwright-core, against a real Blockflow server.
 * Each page records requests that leave the server's origin and console errors, which the tests assert empty.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.BLOCKFLOW_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Builds ui/dist when it is missing (npm install builds it; a fresh checkout without install may not have). */
export function ensureUiBuilt(): void {
  if (existsSync(`${ROOT}ui/dist/index.html`)) return;
  const res = spawnSync('npm', ['run', '--silent', 'build:ui'], { cwd: ROOT, stdio: 'inherit' });
  if (res.status !== 0) throw new Error('npm run build:ui failed');
}

export function chromiumMissing(): string | false {
  return existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install -y chromium; .ci/run does it)`;
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  /** Requests to anything but the server's origin (data: and blob: URLs are local). */
  offOrigin: string[];
  /** console.error lines and uncaught page errors. */
  errors: string[];
  close(): Promise<void>;
}

export async function openPage(browser: Browser, origin: string, viewport = { width: 1440, height: 900 }): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport, baseURL: origin });
  const page = await context.newPage();
  const offOrigin: string[] = [];
  const errors: string[] = [];
  const base = new URL(origin).origin;
  page.on('request', (req) => {
    const url = req.url();
    if (url.startsWith('data:') || url.startsWith('blob:') || url === 'about:blank' || url === 'about:srcdoc') return;
    if (new URL(url).origin !== base) offOrigin.push(url);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  // "Leave the page with unsaved changes?" is answered yes (a reload in a test means it); other dialogs are
  // recorded as errors, since the app does not use them.
  page.on('dialog', (dialog) => {
    if (dialog.type() !== 'beforeunload') errors.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    void dialog.accept();
  });
  // Workers' requests (Monaco, ELK) go through the context.
  context.on('request', (req) => {
    const url = req.url();
    if (url.startsWith('data:') || url.startsWith('blob:')) return;
    if (new URL(url).origin !== base && !offOrigin.includes(url)) offOrigin.push(url);
  });
  return { context, page, offOrigin, errors, close: () => context.close() };
}

/**
 * Console errors the app cannot avoid and that say nothing about it: a 4xx the test provoked on purpose shows
 * as "Failed to load resource"; those are expected only where a test asks for them.
 */
export function unexpectedErrors(errors: string[], allowed: RegExp[] = []): string[] {
  return errors.filter((e) => !allowed.some((re) => re.test(e)));
}

/** Signs in through the form. */
export async function signInWithForm(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email or username').click();
  await page.keyboard.type(email);
  await page.getByLabel('Password').click();
  await page.keyboard.type(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * Types code into a block's Monaco editor with keyboard.type (so every space goes through Monaco's key handling,
 * where React Flow once ate them: ui.md §6.3 trap 5), replacing its text unless `append`. Line by line: Escape
 * closes a suggestion box before Enter, and the indentation Monaco adds after Enter is selected (Shift+Home)
 * so that the line's own indentation replaces it.
 */
/**
 * Creates a viewer through `createUser` (the test's own API call), opens a new page and signs in as that viewer
 * through the form; the caller closes the page.
 */
export async function signInAsNewViewer(
  browser: Browser,
  origin: string,
  createUser: (body: unknown) => Promise<{ status: number; body: unknown }>,
): Promise<WatchedPage> {
  const email = 'viewer@example.com';
  const password = 'viewer-password-1';
  const created = await createUser({ user: { email, password, role: 'viewer' } });
  if (created.status !== 200) throw new Error(`creating the viewer failed: ${created.status} ${JSON.stringify(created.body)}`);
  const v = await openPage(browser, origin);
  v.page.setDefaultTimeout(30_000);
  await v.page.goto('/sign-in');
  await signInWithForm(v.page, email, password);
  await v.page.waitForURL(/\/pipelines$/);
  return v;
}

export async function typeIntoBlock(page: Page, blockUuid: string, code: string, options: { append?: boolean } = {}): Promise<void> {
  const editor = page.getByTestId(`editor-${blockUuid}`).locator('.monaco-editor');
  await editor.waitFor();
  await editor.locator('.view-lines').click();
  if (!options.append) {
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
  } else {
    await page.keyboard.press('ControlOrMeta+End');
  }
  const lines = code.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (i > 0 || options.append) {
      await page.keyboard.press('Escape');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Shift+Home');
      await page.keyboard.press('Shift+Home');
    }
    if (lines[i]) await page.keyboard.type(lines[i]);
    else await page.keyboard.press('Delete');
  }
  await page.keyboard.press('Escape');
}

/** Drags from one DAG node's bottom handle onto another node (the whole node is a drop target). */
export async function connectInDag(page: Page, upstream: string, downstream: string): Promise<void> {
  const from = page.getByTestId(`dag-node-${upstream}`).locator('.react-flow__handle.source');
  const to = page.getByTestId(`dag-node-${downstream}`);
  // The layout (ELK in a worker) may still be moving nodes after the last change: wait until they stand still.
  let a = await from.boundingBox();
  let b = await to.boundingBox();
  for (let i = 0; i < 40; i++) {
    await page.waitForTimeout(100);
    const [a2, b2] = [await from.boundingBox(), await to.boundingBox()];
    const same = JSON.stringify([a, b]) === JSON.stringify([a2, b2]);
    [a, b] = [a2, b2];
    if (same && a && b) break;
  }
  if (!a || !b) throw new Error(`DAG nodes ${upstream} / ${downstream} are not visible`);
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(a.x + a.width / 2 + 20, a.y + a.height / 2 + 20, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + 8, { steps: 12 });
  await page.mouse.up();
}

/** The text a block's editor shows (Monaco paints spaces as no-break spaces). */
export async function editorText(page: Page, blockUuid: string): Promise<string> {
  return (await page.getByTestId(`editor-${blockUuid}`).locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
}

/** Waits until a block's editor shows text matching `pattern` (Monaco paints lines a moment after a change). */
export async function waitForEditorText(page: Page, blockUuid: string, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await editorText(page, blockUuid);
    if (pattern.test(last)) return;
    await page.waitForTimeout(50);
  }
  throw new Error(`editor of ${blockUuid} never showed ${pattern}; it shows ${JSON.stringify(last)}`);
}

/** localStorage of the page, read in the page. */
export async function storageItem(page: Page, key: string): Promise<string | null> {
  return page.evaluate(`localStorage.getItem(${JSON.stringify(key)})`) as Promise<string | null>;
}
