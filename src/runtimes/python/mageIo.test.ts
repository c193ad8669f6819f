import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { BlockRunRequest, BlockRunResult } from '../types.js';
import { PythonRuntime } from './pool.js';
import { testPython } from './testPython.js';

const database = `bf_pyio_${randomBytes(6).toString('hex')}`;
const admin = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };
let projectRoot: string;
let runtime: PythonRuntime;

function block(name: string, body: string): BlockRunRequest {
  const filePath = join(projectRoot, 'data_loaders', `${name}.py`);
  writeFileSync(filePath, body);
  return {
    projectRoot,
    dataDir: join(projectRoot, 'mage_data'),
    pipelineUuid: 'io',
    blockUuid: name,
    blockType: 'data_loader',
    language: 'python',
    filePath,
    mode: 'run',
    configuration: {},
    upstream: [],
    kwargs: {},
    outputDir: join(projectRoot, 'mage_data', 'pipelines', 'io', '.variables', name),
    returnOutputs: true,
    runTests: true,
  };
}

function outputs(result: BlockRunResult): unknown[] | undefined {
  if (!result.ok) assert.fail(JSON.stringify(result.error, null, 2));
  return result.outputs;
}

before(async () => {
  const client = new pg.Client(admin);
  await client.connect();
  await client.query(`CREATE DATABASE ${database}`);
  await client.end();
  projectRoot = mkdtempSync(join(tmpdir(), 'blockflow-pyio-'));
  mkdirSync(join(projectRoot, 'data_loaders'));
  writeFileSync(
    join(projectRoot, 'io_config.yaml'),
    `version: 0.1.1
default:
  POSTGRES_CONNECT_TIMEOUT: 10
  POSTGRES_DBNAME: {{ env_var('BF_PG_DB') }}
  POSTGRES_SCHEMA: public
  POSTGRES_USER: postgres
  POSTGRES_PASSWORD: ""
  POSTGRES_HOST: 127.0.0.1
  POSTGRES_PORT: 5432
`,
  );
  runtime = new PythonRuntime({ python: await testPython(), size: 1, env: { ...process.env, BF_PG_DB: database } });
  await runtime.warm();
});

after(async () => {
  await runtime?.close();
  if (projectRoot) rmSync(projectRoot, { recursive: true, force: true });
  const client = new pg.Client(admin);
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await client.end();
});

test('Mage’s Postgres template exports a DataFrame and loads it back, honouring if_exists', async () => {
  const exported = await runtime.run(
    block(
      'pg_export',
      `from mage_ai.settings.repo import get_repo_path
from mage_ai.io.config import ConfigFileLoader
from mage_ai.io.postgres import Postgres
from mage_ai.data_preparation.decorators import data_loader
from os import path
import pandas as pd

@data_loader
def load(*args, **kwargs):
    config_path = path.join(get_repo_path(), 'io_config.yaml')
    df = pd.DataFrame({'id': [1, 2], 'name': ['a', None], 'score': [1.5, float('nan')],
                       'at': pd.to_datetime(['2024-01-01', '2024-02-01']), 'meta': [{'k': 1}, None]})
    with Postgres.with_config(ConfigFileLoader(config_path, 'default')) as loader:
        loader.export(df, 'analytics', 'patients', index=False, if_exists='replace')
        loader.export(df.head(1), 'analytics', 'patients', index=False, if_exists='append')
        try:
            loader.export(df, 'analytics', 'patients', if_exists='fail')
            failed = False
        except ValueError:
            failed = True
        back = loader.load('SELECT id, name, score, at, meta FROM analytics.patients ORDER BY id, name')
    return {'rows': back.to_dict('records'), 'fail_policy_raised': failed}
`,
    ),
  );
  const [value] = outputs(exported) as [{ rows: Record<string, unknown>[]; fail_policy_raised: boolean }];
  assert.equal(value.fail_policy_raised, true);
  assert.deepEqual(value.rows, [
    { id: 1, name: 'a', score: 1.5, at: '2024-01-01T00:00:00', meta: { k: 1 } },
    { id: 1, name: 'a', score: 1.5, at: '2024-01-01T00:00:00', meta: { k: 1 } },
    { id: 2, name: null, score: null, at: '2024-02-01T00:00:00', meta: null },
  ]);
});
