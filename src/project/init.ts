/**
 * `blockflow init`: a new project in Mage's layout (mage_ai/data_preparation/templates/repo) with a demo
 * pipeline that mixes Python, SQL (DuckDB) and TypeScript blocks.
 */
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { addBlock } from './blocks.js';
import { createPipeline, loadPipeline, savePipeline } from './pipeline.js';
import { loadProject, ProjectConfigError, resolveDataDir, type Project } from './projectConfig.js';
import { writeTriggers } from './triggersYaml.js';
import { writeFileAtomic } from './yamlFiles.js';

export interface InitProjectOptions {
  /** When `dir` already holds a project, load and return it instead of failing. Default false. */
  ifMissing?: boolean;
}

/** Block folders of Mage's repo template; the Python ones get an `__init__.py`. */
const PYTHON_FOLDERS = [
  'callbacks',
  'charts',
  'conditionals',
  'custom',
  'data_exporters',
  'data_loaders',
  'extensions',
  'pipelines',
  'scratchpads',
  'sensors',
  'transformers',
  'utils',
];
const OTHER_FOLDERS = ['dbt', 'markdowns', 'interactions', 'custom_templates'];

const GITIGNORE = `.DS_Store
.file_versions
.gitkeep
.log
.logs/
.mage_temp_profiles
.preferences.yaml
.variables/
__pycache__/
docker-compose.override.yml
logs/
mage-ai.db
mage_data/
secrets/
`;

function projectMetadata(uuid: string): string {
  return `project_type: standalone
project_uuid: ${uuid}

# Where block outputs, logs and the local database live. A relative path is resolved against this folder;
# an absolute one gets /<project name> appended. MAGE_DATA_DIR overrides it.
variables_dir: mage_data
remote_variables_dir:
variables_retention_period: '90d'

# How many pipeline runs execute at the same time.
queue_config:
  concurrency: 20

notification_config:
  alert_on:
  - trigger_failure
  - trigger_passed_sla

help_improve_mage: false
features:
`;
}

const IO_CONFIG = `version: 0.1.1
default:
  # PostgreSQL
  POSTGRES_CONNECT_TIMEOUT: 10
  POSTGRES_DBNAME: "{{ env_var('POSTGRES_DBNAME') }}"
  POSTGRES_SCHEMA: "{{ env_var('POSTGRES_SCHEMA') }}"
  POSTGRES_USER: "{{ env_var('POSTGRES_USER') }}"
  POSTGRES_PASSWORD: "{{ env_var('POSTGRES_PASSWORD') }}"
  POSTGRES_HOST: "{{ env_var('POSTGRES_HOST') }}"
  POSTGRES_PORT: "{{ env_var('POSTGRES_PORT') }}"
  # DuckDB: SQL blocks with \`data_provider: duckdb\` run in an embedded DuckDB and need no connection
  # settings. Set DUCKDB_DATABASE to a file path to keep tables between runs.
`;

const LOAD_NUMBERS = `import pandas as pd

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test


@data_loader
def load_data(*args, **kwargs):
    """
    Ten demo rows: id 1..10 and value = id * 10.
    """
    ids = list(range(1, 11))
    return pd.DataFrame({'id': ids, 'value': [i * 10 for i in ids]})


@test
def test_output(output, *args) -> None:
    assert output is not None, 'The output is undefined'
    assert len(output) == 10, 'Expected 10 rows'
`;

const SUMMARISE = `-- Aggregates the rows of load_numbers ({{ df_1 }}) in DuckDB.
SELECT count(*) AS n, sum(value) AS total FROM {{ df_1 }}
`;

const REPORT = `import type { BlockContext } from 'blockflow';

/** Logs the summary computed by \`summarise\` and returns it. */
export default async function report(ctx: BlockContext, summary: unknown) {
  const rows = toRows(summary);
  const text = JSON.stringify(rows, (_key, value) => (typeof value === 'bigint' ? Number(value) : value));
  console.log(\`demo_pipeline summary: \${text}\`);
  return { reported: true, summary: JSON.parse(text) as unknown };
}

/** A DataFrame arrives as an Apache Arrow table; anything else is passed through. */
function toRows(value: unknown): unknown {
  const table = value as { toArray?: () => unknown[] } | null;
  return table && typeof table.toArray === 'function' ? table.toArray() : value;
}
`;

function writeDemoPipeline(project: Project): void {
  const pipeline = createPipeline(project, {
    name: 'demo_pipeline',
    description: 'Loads numbers in Python, sums them in SQL (DuckDB) and reports them in TypeScript.',
    tags: ['demo'],
  });
  addBlock(project, pipeline, { name: 'load_numbers', type: 'data_loader', language: 'python', content: LOAD_NUMBERS });
  addBlock(project, pipeline, {
    name: 'summarise',
    type: 'transformer',
    language: 'sql',
    content: SUMMARISE,
    upstream_blocks: ['load_numbers'],
    configuration: { data_provider: 'duckdb', data_provider_profile: 'default', export_write_policy: 'replace' },
  });
  addBlock(project, pipeline, {
    name: 'report',
    type: 'data_exporter',
    language: 'typescript',
    content: REPORT,
    upstream_blocks: ['summarise'],
  });
  savePipeline(project, loadPipeline(project, pipeline.uuid));
  writeTriggers(project, pipeline.uuid, [
    {
      name: 'daily_demo',
      pipeline_uuid: pipeline.uuid,
      schedule_type: 'time',
      schedule_interval: '@daily',
      start_time: '2024-01-01 00:00:00',
      status: 'inactive',
      envs: [],
      variables: {},
      settings: {},
      sla: null,
      description: null,
      last_enabled_at: null,
    },
  ]);
}

/**
 * Creates a Mage-style project in `dir`: metadata.yaml (standalone, a fresh project_uuid, variables_dir
 * `mage_data` inside the project), io_config.yaml, requirements.txt, .gitignore, Mage's folder set and the
 * `demo_pipeline` with a triggers.yaml holding one inactive daily trigger. The project is assembled in a
 * temp folder beside `dir` and renamed into place, so a failure leaves nothing behind. Throws
 * ProjectConfigError when `dir` already holds a project (unless `ifMissing`) or is a non-empty folder.
 */
export function initProject(dir: string, options: InitProjectOptions = {}): Project {
  const target = resolve(dir);
  if (existsSync(join(target, 'metadata.yaml'))) {
    if (options.ifMissing) return loadProject(target);
    throw new ProjectConfigError(`A project already exists in ${target}.`);
  }
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new ProjectConfigError(`${target} is not empty and holds no metadata.yaml; choose an empty or new folder.`);
  }
  const parent = dirname(target);
  mkdirSync(parent, { recursive: true });
  const finalRoot = join(realpathSync(parent), basename(target));
  const tmp = join(parent, `.${basename(target)}.init-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  try {
    writeFileAtomic(join(tmp, 'metadata.yaml'), projectMetadata(randomUUID().replace(/-/g, '')));
    writeFileAtomic(join(tmp, 'io_config.yaml'), IO_CONFIG);
    writeFileAtomic(join(tmp, 'requirements.txt'), '');
    writeFileAtomic(join(tmp, '.gitignore'), GITIGNORE);
    writeFileAtomic(join(tmp, '__init__.py'), '');
    for (const folder of PYTHON_FOLDERS) {
      mkdirSync(join(tmp, folder));
      writeFileAtomic(join(tmp, folder, '__init__.py'), '');
    }
    for (const folder of OTHER_FOLDERS) mkdirSync(join(tmp, folder));
    const staged = loadProject(tmp);
    // Pipelines record the data dir of the final location, not of the staging folder.
    writeDemoPipeline({ ...staged, dataDir: resolveDataDir(finalRoot, staged.metadata) });
    if (existsSync(target)) rmdirSync(target);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return loadProject(target);
}
