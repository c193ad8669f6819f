/**
 * Orchestration overhead of the run engine (`npm run bench:engine`): a 40-block sequential pipeline of no-op
 * blocks, in Python and in TypeScript, run through the engine (pipeline run, block runs, guarded status
 * updates, planning, logs, outputs dir lookup) on SQLite, beside the same 40 block calls sent directly to the
 * same warm runtime (one worker, no engine). The difference per block is the engine's overhead.
 *
 * Environment:
 * - BENCH_ENGINE_RUNS: measured runs per language (default 9; the median is reported, after one warm-up run).
 * - BENCH_ENGINE_BLOCKS: blocks in the chain (default 40).
 * - BLOCKFLOW_PYTHON / BLOCKFLOW_SKIP_VENV: the Python for Python blocks; default the prepared test venv.
 */
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadProject, type Project } from '../src/project/projectConfig.js';
import { loadPipeline } from '../src/project/pipeline.js';
import { blockFilePath } from '../src/project/blocks.js';
import { openStore } from '../src/store/db.js';
import { createEngineStack } from '../src/engine/stack.js';
import { runPartition } from '../src/engine/executeBlock.js';
import { buildKwargs } from '../src/engine/kwargs.js';
import { blockVariablesDir } from '../src/variables/layout.js';
import type { BlockLanguage, BlockRunRequest } from '../src/runtimes/types.js';
import { buildProject, usePreparedPython, type TestBlock } from '../test/engine/projectBuilder.js';

const RUNS = Number(process.env.BENCH_ENGINE_RUNS ?? 9);
const BLOCKS = Number(process.env.BENCH_ENGINE_BLOCKS ?? 40);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function chain(language: 'python' | 'typescript'): TestBlock[] {
  return Array.from({ length: BLOCKS }, (_, i) => {
    const uuid = `noop_${String(i).padStart(2, '0')}`;
    const code =
      language === 'python'
        ? `if 'custom' not in globals():\n    from mage_ai.data_preparation.decorators import custom\n\n\n@custom\ndef noop(*args, **kwargs):\n    return None\n`
        : `export default function noop() {\n  return undefined;\n}\n`;
    return { uuid, type: 'custom' as const, language, upstream: i === 0 ? [] : [`noop_${String(i - 1).padStart(2, '0')}`], code };
  });
}

/** The 40 block calls straight to the warm runtime, sequentially, as the engine would send them. */
async function directCalls(project: Project, runtime: { run(r: BlockRunRequest): Promise<{ ok: boolean }> }, pipelineUuid: string, language: BlockLanguage): Promise<number> {
  const pipeline = loadPipeline(project, pipelineUuid);
  const partition = 'bench/direct';
  const started = performance.now();
  for (const block of pipeline.blocks) {
    const result = await runtime.run({
      projectRoot: project.root,
      dataDir: project.dataDir,
      pipelineUuid,
      blockUuid: block.uuid,
      blockType: block.type,
      language,
      filePath: blockFilePath(project, block),
      mode: 'run',
      configuration: {},
      upstream: block.upstream_blocks.map((u) => ({ blockUuid: u, variablesDir: blockVariablesDir(project.dataDir, pipelineUuid, partition, u) })),
      kwargs: buildKwargs({
        executionDate: new Date(),
        executionPartition: partition,
        pipelineRunId: null,
        pipelineUuid,
        blockUuid: block.uuid,
        configuration: {},
        repoPath: project.root,
        env: 'prod',
      }),
      outputDir: blockVariablesDir(project.dataDir, pipelineUuid, partition, block.uuid),
      returnOutputs: false,
      runTests: true,
      onLog: () => undefined,
    });
    if (!result.ok) throw new Error(`direct call of ${block.uuid} failed: ${JSON.stringify(result)}`);
  }
  return performance.now() - started;
}

async function main(): Promise<void> {
  usePreparedPython();
  // One worker per language: the chain is sequential, and "one worker" is the baseline's definition.
  process.env.BLOCKFLOW_PY_WORKERS = '1';
  process.env.BLOCKFLOW_TS_WORKERS = '1';
  const root = buildProject({ chain_python: { blocks: chain('python') }, chain_typescript: { blocks: chain('typescript') } });
  const project = loadProject(root);
  const store = await openStore({ url: `sqlite://${join(project.dataDir, 'bench.db')}` });
  const stack = await createEngineStack({ project, store, instanceId: 'bench', adopt: false, env: {} });
  const rows: string[] = [];
  try {
    for (const language of ['python', 'typescript'] as const) {
      const pipelineUuid = `chain_${language}`;
      const runtime = await stack.runtimes.get(language);
      const engineRun = async () => {
        const started = performance.now();
        const run = await stack.engine.createRun({ pipelineUuid });
        const status = await stack.engine.waitForRun(run.id);
        const elapsed = performance.now() - started;
        if (status !== 'completed') throw new Error(`bench run ${run.id} ${status}`);
        const row = (await store.pipelineRuns.get(run.id))!;
        if (!row.completed_at || runPartition(row) === '') throw new Error('run has no completion time');
        return elapsed;
      };
      await engineRun();
      await directCalls(project, runtime, pipelineUuid, language);
      const engineTimes: number[] = [];
      const directTimes: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        directTimes.push(await directCalls(project, runtime, pipelineUuid, language));
        engineTimes.push(await engineRun());
      }
      const e = median(engineTimes) / BLOCKS;
      const d = median(directTimes) / BLOCKS;
      rows.push(`| ${language} | ${BLOCKS} | ${e.toFixed(2)} ms | ${d.toFixed(2)} ms | **${(e - d).toFixed(2)} ms** |`);
    }
  } finally {
    await stack.close();
    await store.close();
    rmSync(dirname(root), { recursive: true, force: true });
  }
  console.log(`Run engine: ${BLOCKS}-block sequential no-op pipeline, SQLite store, median of ${RUNS} runs (${cpus().length} CPUs, Node ${process.version})\n`);
  console.log('| language | blocks | engine, per block | baseline: same calls direct to one warm worker, per block | orchestration overhead per block |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  console.log('\nTarget: overhead under 5 ms per block. Published for scale (same workload): Windmill ~52 ms/task, Hatchet ~31 ms, Airflow ~2.9 s.');
}

await main();
