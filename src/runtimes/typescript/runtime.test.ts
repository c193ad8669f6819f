import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Table } from 'apache-arrow';
import type { BlockRunRequest, LogLine } from '../types.js';
import { readOutputs } from '../../variables/read.js';
import { blockVariablesDir } from '../../variables/layout.js';
import { TypeScriptRuntime } from './runtime.js';

/** The repository root, for its Python virtualenvs. */
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

let root: string;
let runtime: TypeScriptRuntime;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bf-ts-'));
  runtime = new TypeScriptRuntime({ size: 2, abortGraceMs: 20 });
  await runtime.warm();
});

after(async () => {
  await runtime.close();
  await rm(root, { recursive: true, force: true });
});

async function block(relative: string, source: string): Promise<string> {
  const path = join(root, relative);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, source);
  return path;
}

function request(filePath: string, overrides: Partial<BlockRunRequest> = {}): BlockRunRequest {
  const blockUuid = filePath.split('/').pop()!.replace(/\.[jt]s$/, '');
  return {
    projectRoot: root,
    dataDir: root,
    pipelineUuid: 'pipe',
    blockUuid,
    blockType: 'transformer',
    language: filePath.endsWith('.js') ? 'javascript' : 'typescript',
    filePath,
    mode: 'run',
    configuration: {},
    upstream: [],
    kwargs: {},
    outputDir: null,
    returnOutputs: true,
    runTests: true,
    ...overrides,
  };
}

test('a TypeScript loader -> transformer chain passes an Arrow table through the variables folder', async () => {
  const loader = await block('data_loaders/load_orders.ts', `
import { table, type BlockContext } from 'blockflow';
interface Order { id: number; amount: number; customer: string }
export default function load(ctx: BlockContext): ReturnType<typeof table> {
  const orders: Order[] = [{ id: 1, amount: 10.5, customer: 'ann' }, { id: 2, amount: -3, customer: 'bob' }, { id: 3, amount: 7, customer: 'ann' }];
  return table(orders);
}
`);
  const transformer = await block('transformers/positive.ts', `
import { table, type BlockContext } from 'blockflow';
import type { Table } from 'apache-arrow';
export default function transform(ctx: BlockContext, orders: Table): Table {
  const rows = orders.toArray().map((r) => r.toJSON()).filter((r) => r.amount > 0);
  return table(rows.map((r) => ({ id: r.id, amount: r.amount * 2, customer: String(r.customer).toUpperCase() })));
}
`);
  const loaderDir = blockVariablesDir(root, 'pipe', '', 'load_orders');
  const first = await runtime.run(request(loader, { outputDir: loaderDir, returnOutputs: false }));
  assert.deepEqual(first, { ok: true, outputCount: 1 });
  const outDir = blockVariablesDir(root, 'pipe', '', 'positive');
  const second = await runtime.run(request(transformer, { upstream: [{ blockUuid: 'load_orders', variablesDir: loaderDir }], outputDir: outDir }));
  assert.deepEqual(second, { ok: true, outputCount: 1, outputs: [[{ id: 1, amount: 21, customer: 'ANN' }, { id: 3, amount: 14, customer: 'ANN' }]] });
  const [stored] = (await readOutputs(outDir)) as [Table];
  assert.equal(stored.numRows, 2);
  assert.deepEqual(stored.schema.fields.map((f) => String(f.type)), ['Int64', 'Int64', 'Utf8']);
});

test('kwargs reach the block with execution_date as a Date, ds/hr, variables and secrets', async () => {
  const file = await block('custom/kw.ts', `
import type { BlockContext, Kwargs } from 'blockflow';
export default async function (ctx: BlockContext<Kwargs & { country: string }>) {
  return {
    isDate: ctx.kwargs.execution_date instanceof Date,
    iso: ctx.kwargs.execution_date.toISOString(),
    ds: ctx.kwargs.ds, hr: ctx.kwargs.hr, env: ctx.kwargs.env,
    country: ctx.variables('country'),
    pipeline: ctx.kwargs.pipeline_uuid, block: ctx.kwargs.block_uuid,
    configuration: ctx.kwargs.configuration,
    token: await ctx.secret('api_token'),
    missing: await ctx.secret('nope').catch((e) => e.message),
  };
}
`);
  const result = await runtime.run(request(file, {
    kwargs: { execution_date: '2024-05-06T07:08:09Z', country: 'PT', env: 'prod' },
    configuration: { limit: 5 },
    getSecret: async (name) => (name === 'api_token' ? 's3cret' : undefined),
  }));
  assert.deepEqual(result, {
    ok: true,
    outputCount: 1,
    outputs: [{
      isDate: true, iso: '2024-05-06T07:08:09.000Z', ds: '2024-05-06', hr: '07', env: 'prod', country: 'PT',
      pipeline: 'pipe', block: 'kw', configuration: { limit: 5 }, token: 's3cret', missing: 'secret "nope" does not exist',
    }],
  });
});

test('returning an array splits into outputs, as Mage', async () => {
  const file = await block('custom/split.ts', `export default () => [{ a: 1 }, 'two', [3, 4]];`);
  const outDir = join(root, 'split-out');
  const result = await runtime.run(request(file, { outputDir: outDir }));
  assert.deepEqual(result, { ok: true, outputCount: 3, outputs: [{ a: 1 }, 'two', [3, 4]] });
  assert.deepEqual(await readOutputs(outDir), [{ a: 1 }, 'two', [3, 4]]);
});

test('returnOutputs gives Mage output list shapes', async () => {
  const cases: [string, unknown[]][] = [
    [`import { table } from 'blockflow'; export default () => table([{ x: 1, when: new Date('2024-01-01T00:00:00Z') }]);`, [[{ x: 1, when: '2024-01-01T00:00:00.000Z' }]]],
    [`export default () => ({ big: 2n ** 70n, small: 3n, nan: NaN });`, [{ big: '1180591620717411303424', small: 3, nan: null }]],
    [`export default () => 5;`, [5]],
    [`export default () => null;`, []],
    [`export default async () => undefined;`, []],
  ];
  for (const [i, [source, expected]] of cases.entries()) {
    const file = await block(`custom/shape_${i}.ts`, source);
    const result = await runtime.run(request(file));
    assert.deepEqual(result, { ok: true, outputCount: expected.length, outputs: expected }, source);
  }
});

test('a failing test function marks the run test_failed', async () => {
  const file = await block('custom/tested.ts', `
import assert from 'node:assert/strict';
export default () => ({ rows: 0 });
export function testHasRows(output: { rows: number }) {
  assert.ok(output.rows > 0, 'expected rows');
}
`);
  const result = await runtime.run(request(file));
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.error.type, 'test_failed');
  assert.equal(result.error.exception, 'AssertionError');
  assert.match(result.error.message, /^testHasRows: expected rows/);
  const skipped = await runtime.run(request(file, { runTests: false }));
  assert.equal(skipped.ok, true);
});

test('a thrown error reports its class, message and only block frames mapped to the .ts file', async () => {
  const file = await block('custom/thrower.ts', `
interface Config {
  mode: string;
}
class ValueError extends Error {
  override name = 'ValueError';
}
function check(config: Config): never {
  throw new ValueError('bad mode ' + config.mode);
}
export default function run() {
  return check({ mode: 'x' });
}
`);
  const result = await runtime.run(request(file));
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.error.type, 'block_execution_failed');
  assert.equal(result.error.exception, 'ValueError');
  assert.equal(result.error.message, 'bad mode x');
  assert.ok(result.error.traceback.length >= 2, JSON.stringify(result.error.traceback));
  for (const line of result.error.traceback) assert.ok(line.includes(`${file}:`), line);
  assert.match(result.error.traceback[0], new RegExp(`at check \\(${file}:9:\\d+\\)$`));
  assert.match(result.error.traceback[1], new RegExp(`at run \\(${file}:12:\\d+\\)$`));
});

test('a timeout stops an infinite loop and the runtime keeps working', async () => {
  const file = await block('custom/spin.ts', `export default function () { while (true) {} }`);
  const result = await runtime.run(request(file, { timeoutMs: 150 }));
  assert.deepEqual(result.ok ? null : [result.error.type, result.error.exception], ['timeout', 'TimeoutError']);
  const again = await block('custom/after_timeout.ts', `export default () => 'alive';`);
  assert.deepEqual(await runtime.run(request(again)), { ok: true, outputCount: 1, outputs: ['alive'] });
});

test('aborting the signal cancels a running block', async () => {
  const file = await block('custom/spin_abort.ts', `export default function () { for (;;) {} }`);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const result = await runtime.run(request(file, { signal: controller.signal }));
  assert.deepEqual(result.ok ? null : result.error.type, 'cancelled');
  const pre = new AbortController();
  pre.abort();
  const early = await runtime.run(request(file, { signal: pre.signal }));
  assert.deepEqual(early.ok ? null : early.error.type, 'cancelled');
});

test('console output and ctx.logger go to onLog', async () => {
  const file = await block('custom/logs.ts', `
import type { BlockContext } from 'blockflow';
export default function (ctx: BlockContext) {
  console.log('hello', { n: 1 });
  console.error('oops');
  process.stdout.write('raw line\\n');
  ctx.logger.warning('careful');
  ctx.logger.debug('details');
  return 1;
}
`);
  const lines: LogLine[] = [];
  const result = await runtime.run(request(file, { onLog: (line) => lines.push(line) }));
  assert.equal(result.ok, true);
  assert.deepEqual(lines.map((l) => [l.level, l.message]), [
    ['INFO', 'hello { n: 1 }'],
    ['ERROR', 'oops'],
    ['INFO', 'raw line'],
    ['WARNING', 'careful'],
    ['DEBUG', 'details'],
  ]);
  assert.ok(lines.every((l) => typeof l.timestamp === 'number' && l.timestamp > 1e9));
});

test('a plain JavaScript block runs, with relative and blockflow imports', async () => {
  await block('utils/helpers.ts', `export const double = (n: number): number => n * 2;`);
  const file = await block('custom/plain.js', `
import { double } from '../utils/helpers.js';
import { table } from 'blockflow';
export default function (ctx, input) {
  return [double(input.n), table([{ v: double(1) }]).numRows];
}
`);
  const result = await runtime.run(request(file, { inlineInputs: [{ n: 21 }] }));
  assert.deepEqual(result, { ok: true, outputCount: 2, outputs: [42, 1] });
});

test('an edited block file is transpiled again', async () => {
  const file = await block('custom/edited.ts', `export default (): string => 'v1';`);
  assert.deepEqual(await runtime.run(request(file)), { ok: true, outputCount: 1, outputs: ['v1'] });
  await writeFile(file, `export default (): string => 'version 2';`);
  const later = new Date(Date.now() + 2000);
  await utimes(file, later, later);
  assert.deepEqual(await runtime.run(request(file)), { ok: true, outputCount: 1, outputs: ['version 2'] });
});

test('condition and callback modes call the named exports', async () => {
  const file = await block('conditionals/gate.ts', `
import type { BlockContext } from 'blockflow';

export const condition = [(ctx: BlockContext) => ctx.kwargs.env === 'prod', () => true];
export function onSuccess(ctx: BlockContext, ...inputs: unknown[]) { console.log('success', JSON.stringify(inputs)); }
export default () => 1;
`);
  const yes = await runtime.run(request(file, { mode: 'condition', kwargs: { env: 'prod' } }));
  assert.deepEqual(yes, { ok: true, outputCount: 0, conditionResult: true });
  const no = await runtime.run(request(file, { mode: 'condition', kwargs: { env: 'dev' } }));
  assert.deepEqual(no, { ok: true, outputCount: 0, conditionResult: false });
  const lines: string[] = [];
  const cb = await runtime.run(request(file, { mode: 'on_success', inlineInputs: [{ a: 1 }], onLog: (l) => lines.push(l.message) }));
  assert.deepEqual(cb, { ok: true, outputCount: 0 });
  assert.deepEqual(lines, ['success [{"a":1}]']);
});

test('a syntax error is reported as block_execution_failed SyntaxError', async () => {
  const file = await block('custom/broken.ts', `export default function ( { return 1 }`);
  const result = await runtime.run(request(file));
  assert.deepEqual(result.ok ? null : [result.error.type, result.error.exception], ['block_execution_failed', 'SyntaxError']);
});

test('an Arrow table written by a TypeScript block is read by pyarrow', async (t) => {
  const python = [process.env.BLOCKFLOW_TEST_PYTHON ?? '', `${REPO}.venv/bin/python`, `${REPO}.venv-test/bin/python`, '/root/.pyenv/versions/3.11.7/bin/python3'].filter(Boolean).find((p) => {
    if (!existsSync(p)) return false;
    try {
      execFileSync(p, ['-c', 'import pyarrow'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!python) {
    t.skip('pyarrow is not installed in BLOCKFLOW_TEST_PYTHON, .venv, .venv-test or /root/.pyenv/versions/3.11.7/bin/python3');
    return;
  }
  const file = await block('data_loaders/for_python.ts', `import { table } from 'blockflow'; export default () => table([{ id: 1, name: 'x' }, { id: 2, name: null }]);`);
  const outDir = join(root, 'for-python');
  assert.deepEqual(await runtime.run(request(file, { outputDir: outDir, returnOutputs: false })), { ok: true, outputCount: 1 });
  const out = execFileSync(python, ['-c', 'import pyarrow.parquet as pq, sys; print(pq.read_table(sys.argv[1]).to_pylist())', join(outDir, 'output_0', 'data.parquet')], { encoding: 'utf8' });
  assert.equal(out.trim(), "[{'id': 1, 'name': 'x'}, {'id': 2, 'name': None}]");
});
