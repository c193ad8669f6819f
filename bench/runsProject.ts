/**
 * A Mage project for the synchronous block run's tests and benchmark: `blockflow init` plus pipelines whose
 * blocks cover each output shape, failures, timeouts, an upstream chain, and the spec's two examples.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { initProject } from '../src/project/init.js';

interface BlockSpec {
  uuid: string;
  type: 'data_loader' | 'transformer' | 'data_exporter' | 'custom' | 'callback';
  language: 'python' | 'typescript';
  upstream?: string[];
  timeout?: number;
  /** Uuids of the callback blocks of this block (`callback_blocks`). */
  callbacks?: string[];
  code: string;
}

const FOLDERS: Record<BlockSpec['type'], string> = {
  data_loader: 'data_loaders',
  transformer: 'transformers',
  data_exporter: 'data_exporters',
  custom: 'custom',
  callback: 'callbacks',
};

function writeFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** Writes pipelines/<uuid>/metadata.yaml (JSON is YAML) and each block's file. */
export function writePipeline(root: string, uuid: string, blocks: BlockSpec[], variables?: Record<string, unknown>, callbacks: BlockSpec[] = []): void {
  const downstream = (u: string) => blocks.filter((b) => (b.upstream ?? []).includes(u)).map((b) => b.uuid);
  const metadata = {
    uuid,
    name: uuid,
    type: 'python',
    ...(variables ? { variables } : {}),
    blocks: blocks.map((b) => ({
      uuid: b.uuid,
      name: b.uuid,
      type: b.type,
      language: b.language,
      configuration: {},
      upstream_blocks: b.upstream ?? [],
      downstream_blocks: downstream(b.uuid),
      timeout: b.timeout ?? null,
      status: 'not_executed',
      ...(b.callbacks ? { callback_blocks: b.callbacks } : {}),
    })),
    ...(callbacks.length ? { callbacks: callbacks.map((c) => ({ uuid: c.uuid, name: c.uuid, type: 'callback', language: c.language, configuration: {}, upstream_blocks: [], downstream_blocks: [] })) } : {}),
  };
  writeFile(join(root, 'pipelines', uuid, 'metadata.yaml'), JSON.stringify(metadata, null, 2) + '\n');
  writeFile(join(root, 'pipelines', uuid, '__init__.py'), '');
  for (const b of [...blocks, ...callbacks]) writeFile(join(root, FOLDERS[b.type], `${b.uuid}.${b.language === 'python' ? 'py' : 'ts'}`), b.code);
}

const py = (decorator: string, body: string, params = '*args, **kwargs') =>
  `if '${decorator}' not in globals():\n    from mage_ai.data_preparation.decorators import ${decorator}\n\n\n@${decorator}\ndef run_block(${params}):\n${body}\n`;

/** The benchmark's two blocks: each returns a small dict. */
export function writeBenchPipelines(root: string): void {
  writePipeline(root, 'ts_score', [
    { uuid: 'ts_score', type: 'data_loader', language: 'typescript', code: `export default function score(ctx) {\n  return { id: ctx.kwargs.id ?? null, score: 0.87 };\n}\n` },
  ]);
  writePipeline(root, 'py_score', [
    { uuid: 'py_score', type: 'data_loader', language: 'python', code: py('data_loader', "    return {'id': kwargs.get('id'), 'score': 0.87}") },
  ]);
}

/** Every pipeline the HTTP tests use. */
export function writeTestPipelines(root: string): void {
  writeBenchPipelines(root);
  writePipeline(root, 'shapes', [
    {
      uuid: 'py_df',
      type: 'data_loader',
      language: 'python',
      code:
        'import math\nimport pandas as pd\n' +
        py(
          'data_loader',
          "    return pd.DataFrame({'id': [1, 2], 'when': pd.to_datetime(['2024-01-02T03:04:05', '2024-02-03T00:00:00']), 'x': [1.5, math.nan]})",
        ),
    },
    { uuid: 'py_dict', type: 'data_loader', language: 'python', code: py('data_loader', "    return {'a': 1, 'nested': {'b': [1, 2]}}") },
    { uuid: 'py_list', type: 'data_loader', language: 'python', code: py('data_loader', "    return [1, 'two', {'three': 3}]") },
    { uuid: 'py_none', type: 'data_loader', language: 'python', code: py('data_loader', '    return None') },
    {
      uuid: 'py_dates',
      type: 'data_loader',
      language: 'python',
      code: 'import datetime\nimport math\n' + py('data_loader', "    return {'at': datetime.datetime(2024, 5, 6, 7, 8, 9), 'day': datetime.date(2024, 5, 6), 'missing': math.nan}"),
    },
    { uuid: 'ts_dict', type: 'data_loader', language: 'typescript', code: 'export default () => ({ a: 1, at: new Date(Date.UTC(2024, 4, 6, 7, 8, 9)), missing: NaN });\n' },
    { uuid: 'ts_list', type: 'data_loader', language: 'typescript', code: "export default () => [1, 'two', { three: 3 }];\n" },
    { uuid: 'ts_none', type: 'data_loader', language: 'typescript', code: 'export default () => undefined;\n' },
    {
      uuid: 'ts_table',
      type: 'data_loader',
      language: 'typescript',
      code: "import { table } from 'blockflow';\nexport default () => table([{ id: 1, name: 'a' }, { id: 2, name: 'b' }]);\n",
    },
  ]);
  writePipeline(root, 'failing', [
    {
      uuid: 'py_raise',
      type: 'custom',
      language: 'python',
      code: "def check(value):\n    raise ValueError(f'bad patient {value}')\n\n\n" + py('custom', "    check(kwargs.get('patient_id'))"),
    },
    {
      uuid: 'ts_throw',
      type: 'custom',
      language: 'typescript',
      code: "function check(value: unknown): never {\n  throw new RangeError(`bad patient ${String(value)}`);\n}\nexport default (ctx) => check(ctx.kwargs.patient_id);\n",
    },
  ]);
  // The target's callback appends `<mode> <error>` to the file named by the `marker` variable.
  writePipeline(
    root,
    'with_callbacks',
    [
      {
        uuid: 'py_cb_target',
        type: 'data_loader',
        language: 'python',
        callbacks: ['py_cb'],
        code: py('data_loader', "    if kwargs.get('fail'):\n        raise KeyError('no such patient')\n    return {'ok': True}"),
      },
    ],
    undefined,
    [
      {
        uuid: 'py_cb',
        type: 'callback',
        language: 'python',
        code:
          "if 'on_success' not in globals():\n    from mage_ai.data_preparation.decorators import on_success, on_failure\n\n\n" +
          "@on_success\ndef ok(*args, **kwargs):\n    with open(kwargs['marker'], 'a') as f:\n        f.write(f\"on_success {kwargs['block_uuid']}\\n\")\n\n\n" +
          "@on_failure\ndef failed(*args, **kwargs):\n    with open(kwargs['marker'], 'a') as f:\n        f.write(f\"on_failure {kwargs.get('__error')}\\n\")\n",
      },
    ],
  );
  writePipeline(root, 'slow', [
    { uuid: 'ts_slow', type: 'custom', language: 'typescript', timeout: 1, code: 'export default async () => { for (;;) {} };\n' },
    { uuid: 'py_slow', type: 'custom', language: 'python', timeout: 1, code: 'import time\n' + py('custom', '    time.sleep(30)') },
    {
      uuid: 'ts_wait',
      type: 'custom',
      language: 'typescript',
      code:
        "import { appendFileSync } from 'node:fs';\nimport { join } from 'node:path';\n" +
        'export default async (ctx) => {\n' +
        "  appendFileSync(join(String(ctx.kwargs.repo_path), 'wait_started.txt'), 'x');\n" +
        '  await new Promise((resolve) => setTimeout(resolve, 2000));\n' +
        "  appendFileSync(join(String(ctx.kwargs.repo_path), 'wait_finished.txt'), 'x');\n" +
        '  return { done: true };\n};\n',
    },
    { uuid: 'ts_big', type: 'custom', language: 'typescript', code: "export default () => ({ text: 'x'.repeat(3000) });\n" },
  ]);
  writePipeline(
    root,
    'chain',
    [
      {
        uuid: 'load',
        type: 'data_loader',
        language: 'python',
        code:
          'import os\nimport pandas as pd\n' +
          py(
            'data_loader',
            "    with open(os.path.join(kwargs['repo_path'], 'load_count.txt'), 'a') as f:\n        f.write('x')\n" +
              "    return pd.DataFrame({'n': [1, 2, 3], 'factor': [kwargs.get('factor', 1)] * 3})",
          ),
      },
      {
        uuid: 'double',
        type: 'transformer',
        language: 'typescript',
        upstream: ['load'],
        code:
          "import { table } from 'blockflow';\n" +
          'export default (ctx, rows) => table(rows.toArray().map((r) => ({ n: Number(r.n) * 2 * Number(r.factor) })));\n',
      },
      {
        uuid: 'summarize',
        type: 'transformer',
        language: 'python',
        upstream: ['double'],
        code: py('transformer', "    return {'type': type(df).__name__, 'total': int(df['n'].sum()) if hasattr(df, 'sum') else None, 'rows': len(df)}", 'df, *args, **kwargs'),
      },
    ],
    { factor: 1 },
  );
  writePipeline(
    root,
    'kwargs_pipe',
    [
      {
        uuid: 'echo',
        type: 'data_loader',
        language: 'python',
        code: py(
          'data_loader',
          "    return {k: kwargs.get(k) for k in ('patient_id', 'limit', 'from_trigger', 'env', 'pipeline_uuid', 'block_uuid', 'execution_partition')}",
        ),
      },
      { uuid: 'ts_echo', type: 'data_loader', language: 'typescript', code: 'export default (ctx) => ({ patient_id: ctx.kwargs.patient_id, limit: ctx.kwargs.limit });\n' },
    ],
    { limit: 10, patient_id: 'default' },
  );
  // The spec's first example: run a single block.
  writePipeline(root, 'my_pipeline', [
    { uuid: 'my_block', type: 'data_loader', language: 'python', code: py('data_loader', "    return {'status': 'ok', 'rows': 3}") },
  ]);
  // The spec's second example: a transformer reading kwargs.get('patient_id').
  writePipeline(root, 'patient_lookup', [
    {
      uuid: 'load_patients',
      type: 'data_loader',
      language: 'python',
      code:
        'import pandas as pd\n' +
        py('data_loader', "    return pd.DataFrame({'patient_id': ['PID00001', 'PID00087'], 'name': ['Ada', 'Grace'], 'age': [36, 45]})"),
    },
    {
      uuid: 'transform_medical_data',
      type: 'transformer',
      language: 'python',
      upstream: ['load_patients'],
      code:
        "if 'transformer' not in globals():\n    from mage_ai.data_preparation.decorators import transformer\n\n\n" +
        '@transformer\ndef transform(df, *args, **kwargs):\n' +
        "    patient_id = kwargs.get('patient_id')\n" +
        '    # use patient_id in your block logic\n' +
        "    return df[df['patient_id'] == patient_id]\n",
    },
  ]);
}

/** A new project folder (under the OS temp dir) holding the benchmark or test pipelines. */
export function makeRunsProject(kind: 'test' | 'bench'): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'blockflow-runs-')), 'project');
  initProject(dir);
  if (kind === 'test') writeTestPipelines(dir);
  else writeBenchPipelines(dir);
  return dir;
}

/** Removes a folder made by {@link makeRunsProject}. */
export function removeRunsProject(dir: string): void {
  rmSync(dirname(dir), { recursive: true, force: true });
}
