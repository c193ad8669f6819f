/**
 * A run whose message cannot cross to its worker (nested too deep, not cloneable, not serialisable as JSON) or
 * whose result cannot come back fails alone: the process goes on, and the same worker (same thread id, same
 * process id, nothing respawned) serves the next run. Each failure is tried on an idle pool and on a busy one,
 * where the failing run is dispatched from a worker's message handler, the place where an exception used to
 * end the process. Real worker threads and real Python processes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { BlockRunRequest, BlockRunResult } from '../../src/runtimes/types.js';
import { TypeScriptRuntime } from '../../src/runtimes/typescript/runtime.js';
import { PythonRuntime } from '../../src/runtimes/python/pool.js';
import { testPython } from '../../src/runtimes/python/testPython.js';
import { MAX_PAYLOAD_DEPTH } from '../../src/runtimes/payloadLimits.js';
import { waitFor } from '../helpers/wait.js';

/** `[[[...]]]`, `levels` deep, built without recursion. */
function nested(levels: number): unknown {
  let value: unknown[] = [];
  for (let i = 1; i < levels; i++) value = [value];
  return value;
}

let root: string;
let gates = 0;

function writeBlock(relative: string, source: string): string {
  const path = join(root, relative);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, source);
  return path;
}

function request(filePath: string, language: BlockRunRequest['language'], kwargs: Record<string, unknown> = {}): BlockRunRequest {
  return {
    projectRoot: root,
    dataDir: root,
    pipelineUuid: 'pipe',
    blockUuid: filePath.split('/').pop()!.replace(/\.\w+$/, ''),
    blockType: 'data_loader',
    language,
    filePath,
    mode: 'run',
    configuration: {},
    upstream: [],
    kwargs,
    outputDir: null,
    returnOutputs: true,
    runTests: false,
  };
}

/** A gate file: blocks given its path report that they started, then wait until it exists. */
function gate(): { path: string; started: () => Promise<void>; open: () => void } {
  const path = join(root, `gate-${++gates}`);
  return {
    path,
    started: async () => void (await waitFor(`a block to start at ${path}`, () => existsSync(`${path}.started`))),
    open: () => writeFileSync(path, ''),
  };
}

function assertFailed(result: BlockRunResult, exception: string, message: RegExp): void {
  assert.equal(result.ok, false, `expected a failure, got ${JSON.stringify(result)}`);
  if (result.ok) return;
  assert.equal(result.error.exception, exception, JSON.stringify(result.error));
  assert.match(result.error.message, message);
}

before(() => {
  root = mkdtempSync(join(tmpdir(), 'bf-send-failures-'));
});

after(() => rmSync(root, { recursive: true, force: true }));

describe('TypeScript pool: a run that cannot be sent or answered', () => {
  let runtime: TypeScriptRuntime;
  let thread: string;
  let hold: string;
  let deepOutput: string;
  let firstThread: number;

  const threadOf = async (): Promise<number> => {
    const result = await runtime.run(request(thread, 'typescript'));
    assert.equal(result.ok, true, JSON.stringify(result));
    return (result as { outputs: { threadId: number }[] }).outputs[0].threadId;
  };

  before(async () => {
    thread = writeBlock('ts/thread.ts', "import { threadId } from 'node:worker_threads';\nexport default () => ({ threadId });\n");
    hold = writeBlock(
      'ts/hold.ts',
      "import { existsSync, writeFileSync } from 'node:fs';\nimport { threadId } from 'node:worker_threads';\n" +
        'export default async (ctx) => {\n' +
        "  const gate = String(ctx.kwargs.gate);\n  writeFileSync(gate + '.started', '');\n" +
        '  while (!existsSync(gate)) await new Promise((resolve) => setTimeout(resolve, 5));\n' +
        '  return { threadId };\n};\n',
    );
    deepOutput = writeBlock('ts/deep_output.ts', `export default () => { let v = []; for (let i = 0; i < ${MAX_PAYLOAD_DEPTH + 100}; i++) v = [v]; return { v }; };\n`);
    // One worker: whatever fails must leave exactly this thread serving.
    runtime = new TypeScriptRuntime({ size: 1, abortGraceMs: 20 });
    await runtime.warm();
    firstThread = await threadOf();
  });

  after(() => runtime.close());

  const failures: { name: string; run: () => Promise<BlockRunResult>; exception: string; message: RegExp }[] = [
    {
      name: 'kwargs nested 20,000 levels deep',
      run: () => runtime.run(request(thread, 'typescript', { deep: nested(20_000) })),
      exception: 'PayloadTooDeep',
      message: new RegExp(`kwargs is nested more than ${MAX_PAYLOAD_DEPTH} levels`),
    },
    {
      name: 'inline inputs nested past the runtime bound',
      run: () => runtime.run({ ...request(thread, 'typescript'), inlineInputs: [nested(MAX_PAYLOAD_DEPTH + 10)] }),
      exception: 'PayloadTooDeep',
      message: /inline inputs is nested more than/,
    },
    {
      name: 'kwargs holding a function (postMessage itself throws)',
      run: () => runtime.run(request(thread, 'typescript', { callback: () => 1 })),
      exception: 'DataCloneError',
      message: /could not be sent to its worker thread/,
    },
    {
      name: 'a block returning a value nested past the runtime bound',
      run: () => runtime.run(request(deepOutput, 'typescript')),
      exception: 'RangeError',
      message: new RegExp(`outputs is nested more than ${MAX_PAYLOAD_DEPTH} levels`),
    },
  ];

  for (const failure of failures) {
    test(`${failure.name}: fails alone, the same worker runs the next block`, async () => {
      assertFailed(await failure.run(), failure.exception, failure.message);
      assert.equal(await threadOf(), firstThread);
    });

    test(`${failure.name}, queued behind a busy worker: fails alone when dispatched, the same worker runs on`, async () => {
      const g = gate();
      const holding = runtime.run(request(hold, 'typescript', { gate: g.path }));
      await g.started();
      const failing = failure.run();
      const next = runtime.run(request(thread, 'typescript'));
      g.open();
      const held = await holding;
      assert.equal(held.ok, true, JSON.stringify(held));
      assertFailed(await failing, failure.exception, failure.message);
      const after = await next;
      assert.equal(after.ok, true, JSON.stringify(after));
      assert.equal((after as { outputs: { threadId: number }[] }).outputs[0].threadId, firstThread);
    });
  }
});

describe('Python pool: a request that cannot be sent', () => {
  let runtime: PythonRuntime;
  let pidBlock: string;
  let hold: string;
  let firstPid: number;
  let spawned: number;

  const HEADER = "if 'data_loader' not in globals():\n    from mage_ai.data_preparation.decorators import data_loader\n";
  const pidOf = async (): Promise<number> => {
    const result = await runtime.run(request(pidBlock, 'python'));
    assert.equal(result.ok, true, JSON.stringify(result));
    return (result as { outputs: { pid: number }[] }).outputs[0].pid;
  };

  before(async () => {
    pidBlock = writeBlock('py/pid_block.py', `import os\n${HEADER}\n\n@data_loader\ndef load(*args, **kwargs):\n    return {'pid': os.getpid()}\n`);
    hold = writeBlock(
      'py/hold_block.py',
      `import os\nimport time\n${HEADER}\n\n@data_loader\ndef load(*args, **kwargs):\n` +
        "    gate = kwargs['gate']\n    open(gate + '.started', 'w').close()\n" +
        '    while not os.path.exists(gate):\n        time.sleep(0.005)\n' +
        "    return {'pid': os.getpid()}\n",
    );
    runtime = new PythonRuntime({ python: await testPython(), size: 1, cwd: root });
    await runtime.warm();
    firstPid = await pidOf();
    spawned = runtime.stats.spawned;
  });

  after(() => runtime.close());

  const failures: { name: string; run: () => Promise<BlockRunResult>; exception: string; message: RegExp }[] = [
    {
      // Deeper than Python's json decoder can read: sent, it would kill the worker reading it.
      name: 'kwargs nested 2,000 levels deep',
      run: () => runtime.run(request(pidBlock, 'python', { deep: nested(2_000) })),
      exception: 'PayloadTooDeep',
      message: new RegExp(`kwargs is nested more than ${MAX_PAYLOAD_DEPTH} levels`),
    },
    {
      name: 'a configuration nested 20,000 levels deep',
      run: () => runtime.run({ ...request(pidBlock, 'python'), configuration: { deep: nested(20_000) } }),
      exception: 'PayloadTooDeep',
      message: /configuration is nested more than/,
    },
    {
      name: 'kwargs JSON cannot represent (a BigInt: JSON.stringify throws)',
      run: () => runtime.run(request(pidBlock, 'python', { big: 1n })),
      exception: 'TypeError',
      message: /cannot be sent to the Python worker: .*BigInt/,
    },
  ];

  for (const failure of failures) {
    test(`${failure.name}: fails alone, the same worker process runs the next block`, async () => {
      assertFailed(await failure.run(), failure.exception, failure.message);
      assert.equal(await pidOf(), firstPid);
      assert.equal(runtime.stats.spawned, spawned, 'no worker was replaced');
    });

    test(`${failure.name}, queued behind a busy worker: fails alone when dispatched, the same worker runs on`, async () => {
      const g = gate();
      const holding = runtime.run(request(hold, 'python', { gate: g.path }));
      await g.started();
      const failing = failure.run();
      const next = runtime.run(request(pidBlock, 'python'));
      g.open();
      const held = await holding;
      assert.equal(held.ok, true, JSON.stringify(held));
      assertFailed(await failing, failure.exception, failure.message);
      const after = await next;
      assert.equal(after.ok, true, JSON.stringify(after));
      assert.equal((after as { outputs: { pid: number }[] }).outputs[0].pid, firstPid);
      assert.equal(runtime.stats.spawned, spawned, 'no worker was replaced');
    });
  }
});
