/**
 * Page load of the web UI's pipeline editor (`npm run bench:editorLoad`), in Debian's Chromium against a real
 * server on loopback (production build, brotli), each load in a fresh browser context (cold HTTP cache):
 *
 * - blank page: `/favicon.svg` from the same server (one request, no script): the browser and network floor;
 * - the pipelines list (the app shell, React, Router, Query, one API call);
 * - the editor on a 1-block pipeline and on a 50-block pipeline (Python, SQL and TypeScript blocks in a chain).
 *
 * Time to interactive of the editor = from `goto` until every block's Monaco editor is mounted, the DAG shows every
 * node laid out, and a key typed into the last block has reached the page (its "unsaved" badge shows).
 * Median of BENCH_EDITOR_RUNS (default 5) loads per page, after one warm-up load of each.
 */
import { performance } from 'node:perf_hooks';
import { cpus } from 'node:os';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../test/helpers/server.js';
import { chromiumMissing, ensureUiBuilt, launch, openPage } from '../test/ui/browser.js';
import { usePreparedPython } from '../test/engine/projectBuilder.js';

const RUNS = Number(process.env.BENCH_EDITOR_RUNS ?? 5);
const BLOCKS = 50;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function makePipeline(t: TestServer, name: string, count: number): Promise<string> {
  const res = await t.call('POST', '/api/pipelines', { pipeline: { name } }, t.ownerToken);
  const uuid: string = res.body.pipeline.uuid;
  const languages = ['python', 'sql', 'typescript'] as const;
  let previous: string | null = null;
  for (let i = 0; i < count; i++) {
    const language = languages[i % 3];
    const type = i === 0 ? 'data_loader' : 'transformer';
    const block = await t.call(
      'POST',
      `/api/pipelines/${uuid}/blocks`,
      { block: { name: `${name}_${String(i).padStart(2, '0')}`, type, language, ...(previous ? { upstream_blocks: [previous] } : {}) } },
      t.ownerToken,
    );
    if (block.status !== 200) throw new Error(`block ${i}: ${JSON.stringify(block.body)}`);
    previous = block.body.block.uuid;
  }
  return uuid;
}

interface Load {
  ms: number;
  /** Milliseconds to the first Monaco editor on screen (editor pages only). */
  firstEditorMs?: number;
  kb: number;
  requests: number;
}

async function load(browser: Browser, t: TestServer, path: string, blocks: number | null, session: { cookie: string; user: unknown }): Promise<Load> {
  const w = await openPage(browser, t.url);
  // Signed in as the sign-in page leaves it: the session cookie, and the user remembered in localStorage.
  await w.context.addCookies([{ name: 'oauth_token', value: session.cookie, url: t.url }]);
  await w.page.addInitScript(`localStorage.setItem('blockflow.user', ${JSON.stringify(JSON.stringify(session.user))}); localStorage.setItem('blockflow.autosave', 'off');`);
  let bytes = 0;
  let requests = 0;
  w.page.on('response', (res) => {
    requests++;
    const length = Number(res.headers()['content-length'] ?? 0);
    bytes += Number.isFinite(length) ? length : 0;
  });
  const t0 = performance.now();
  await w.page.goto(path, { waitUntil: 'commit' });
  let firstEditorMs: number | undefined;
  if (blocks === null) {
    await w.page.waitForLoadState('load');
    if (path.startsWith('/pipelines')) await w.page.locator('table[aria-label="Pipelines"] tbody tr').first().waitFor();
  } else {
    await w.page.locator('.monaco-editor').first().waitFor({ timeout: 60_000 });
    firstEditorMs = performance.now() - t0;
    await w.page.waitForFunction(
      `document.querySelectorAll('.monaco-editor').length === ${blocks} && document.querySelectorAll('.react-flow__node').length === ${blocks} && document.querySelectorAll('.react-flow__edge').length === ${Math.max(0, blocks - 1)}`,
      undefined,
      { timeout: 120_000, polling: 20 },
    );
    const last = w.page.locator('section.cell').last();
    await last.locator('.view-lines').click();
    await w.page.keyboard.type('x');
    await last.getByText('unsaved').waitFor();
  }
  const ms = performance.now() - t0;
  if (w.offOrigin.length) throw new Error(`requests left the origin: ${w.offOrigin.join(', ')}`);
  await w.close();
  return { ms, firstEditorMs, kb: bytes / 1024, requests };
}

async function main(): Promise<void> {
  const missing = chromiumMissing();
  if (missing) {
    console.log(`skipped: ${missing}`);
    return;
  }
  ensureUiBuilt();
  usePreparedPython();
  const t = await startTestServer();
  const browser = await launch();
  try {
    const one = await makePipeline(t, 'one_block', 1);
    const fifty = await makePipeline(t, 'fifty_blocks', BLOCKS);
    const login = await t.call('POST', '/api/sessions', { session: { email: 'owner@example.com', password: 'owner-password-1' } });
    const session = { cookie: login.body.session.token as string, user: login.body.session.user as unknown };
    const pages: { label: string; path: string; blocks: number | null }[] = [
      { label: 'blank page (/favicon.svg, same server)', path: '/favicon.svg', blocks: null },
      { label: 'pipelines list', path: '/pipelines', blocks: null },
      { label: 'editor, 1 block', path: `/pipelines/${one}/edit`, blocks: 1 },
      { label: `editor, ${BLOCKS} blocks`, path: `/pipelines/${fifty}/edit`, blocks: BLOCKS },
    ];
    const results = new Map<string, Load[]>(pages.map((p) => [p.label, []]));
    for (const p of pages) await load(browser, t, p.path, p.blocks, session); // warm-up: server caches, V8 code cache
    for (let run = 0; run < RUNS; run++) {
      // Interleaved, so drift on the shared machine hits every page alike.
      for (const p of pages) results.get(p.label)!.push(await load(browser, t, p.path, p.blocks, session));
    }
    console.log(`\nEditor page load in Chromium (${cpus().length} CPUs, Node ${process.version}), median of ${RUNS} cold-cache loads:\n`);
    console.log('| page | time to interactive | first editor visible | transferred | requests |');
    console.log('|---|---|---|---|---|');
    for (const p of pages) {
      const r = results.get(p.label)!;
      const first = r.every((x) => x.firstEditorMs !== undefined) ? `${median(r.map((x) => x.firstEditorMs!)).toFixed(0)} ms` : '—';
      console.log(`| ${p.label} | ${median(r.map((x) => x.ms)).toFixed(0)} ms | ${first} | ${median(r.map((x) => x.kb)).toFixed(1)} KB | ${median(r.map((x) => x.requests))} |`);
    }
  } finally {
    await browser.close();
    await t.close();
  }
}

await main();
