/**
 * Builds throwaway Mage projects for engine tests: project metadata, pipelines/<uuid>/metadata.yaml and the
 * block files, written from a compact description. Also points Python blocks at the prepared test venv when
 * the test file runs alone (outside `npm test`, which sets BLOCKFLOW_PYTHON itself).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
// @ts-expect-error plain ESM script without types
import { prepareTestEnv } from '../../scripts/prepare-test-env.mjs';

export interface TestBlock {
  uuid: string;
  type: 'data_loader' | 'transformer' | 'data_exporter' | 'custom' | 'callback' | 'conditional' | 'sensor';
  language?: 'python' | 'sql' | 'typescript' | 'javascript';
  upstream?: string[];
  code: string;
  timeout?: number;
  retry_config?: Record<string, unknown>;
  configuration?: Record<string, unknown>;
  callback_blocks?: string[];
  conditional_blocks?: string[];
}

export interface TestPipeline {
  blocks: TestBlock[];
  /** Callback and conditional blocks (their `type` says which list they go in). */
  addOns?: TestBlock[];
  variables?: Record<string, unknown>;
  retry_config?: Record<string, unknown>;
  concurrency_config?: Record<string, unknown>;
}

export interface ProjectOptions {
  /** `queue_config.concurrency` (default 20). */
  concurrency?: number;
  retry_config?: Record<string, unknown>;
}

const EXT: Record<string, string> = { python: 'py', sql: 'sql', typescript: 'ts', javascript: 'js' };

/** Makes Python blocks use the test venv (pandas, pyarrow) and skip the managed per-project venv. */
export function usePreparedPython(): void {
  if (!process.env.BLOCKFLOW_PYTHON) process.env.BLOCKFLOW_PYTHON = prepareTestEnv() as string;
  process.env.BLOCKFLOW_SKIP_VENV = '1';
}

function blockEntry(b: TestBlock, downstream: string[]) {
  return {
    all_upstream_blocks_executed: true,
    callback_blocks: b.callback_blocks ?? [],
    color: null,
    conditional_blocks: b.conditional_blocks ?? [],
    configuration: b.configuration ?? {},
    downstream_blocks: downstream,
    executor_config: null,
    executor_type: 'local_python',
    has_callback: (b.callback_blocks ?? []).length > 0,
    language: b.language ?? 'python',
    name: b.uuid,
    retry_config: b.retry_config ?? null,
    status: 'not_executed',
    timeout: b.timeout ?? null,
    type: b.type,
    upstream_blocks: b.upstream ?? [],
    uuid: b.uuid,
  };
}

/** Writes `pipelines/<uuid>/` and its block files into an existing project folder. */
export function writePipeline(root: string, uuid: string, pipeline: TestPipeline): void {
  const all = [...pipeline.blocks, ...(pipeline.addOns ?? [])];
  for (const b of all) {
    const dir = b.type === 'custom' ? 'custom' : `${b.type}s`;
    const path = join(root, dir, `${b.uuid}.${EXT[b.language ?? 'python']}`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, b.code);
  }
  const downstreamOf = (u: string) => pipeline.blocks.filter((b) => (b.upstream ?? []).includes(u)).map((b) => b.uuid);
  const metadata = {
    blocks: pipeline.blocks.map((b) => blockEntry(b, downstreamOf(b.uuid))),
    callbacks: (pipeline.addOns ?? []).filter((b) => b.type === 'callback').map((b) => blockEntry(b, [])),
    concurrency_config: pipeline.concurrency_config ?? {},
    conditionals: (pipeline.addOns ?? []).filter((b) => b.type === 'conditional').map((b) => blockEntry(b, [])),
    description: null,
    executor_count: 1,
    name: uuid,
    retry_config: pipeline.retry_config ?? {},
    tags: [],
    type: 'python',
    uuid,
    variables: pipeline.variables ?? undefined,
    widgets: [],
  };
  mkdirSync(join(root, 'pipelines', uuid), { recursive: true });
  writeFileSync(join(root, 'pipelines', uuid, '__init__.py'), '');
  writeFileSync(join(root, 'pipelines', uuid, 'metadata.yaml'), stringify(JSON.parse(JSON.stringify(metadata))));
}

/** A new project in a temp folder (data dir inside it) holding these pipelines. Returns the project root. */
export function buildProject(pipelines: Record<string, TestPipeline>, options: ProjectOptions = {}): string {
  const root = join(mkdtempSync(join(tmpdir(), 'blockflow-engine-')), 'project');
  mkdirSync(root, { recursive: true });
  const metadata: Record<string, unknown> = {
    project_type: 'standalone',
    project_uuid: 'e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0',
    variables_dir: 'mage_data',
    queue_config: { concurrency: options.concurrency ?? 20 },
  };
  if (options.retry_config) metadata.retry_config = options.retry_config;
  writeFileSync(join(root, 'metadata.yaml'), stringify(metadata));
  writeFileSync(join(root, 'io_config.yaml'), 'version: 0.1.1\ndefault:\n  DUCKDB_PATH: ":memory:"\n');
  for (const [uuid, p] of Object.entries(pipelines)) writePipeline(root, uuid, p);
  return root;
}

/** Python source of a Mage block: the decorator import guard, then `body`. */
export function py(decorator: string, body: string): string {
  return `if '${decorator}' not in globals():\n    from mage_ai.data_preparation.decorators import ${decorator}\nif 'test' not in globals():\n    from mage_ai.data_preparation.decorators import test\n\n${body}\n`;
}
