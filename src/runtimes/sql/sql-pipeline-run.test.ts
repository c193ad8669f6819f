/**
 * A Jinja SQL block in a real pipeline run: the engine on a SQLite store runs a Python loader, then a SQL
 * transformer whose query is built with a macro, a loop over a pipeline variable and execution_date; and a
 * SQL block with a template error fails its run with a message naming the block and the line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadProject, type Project } from '../../project/projectConfig.js';
import { openStore, type Store } from '../../store/db.js';
import { createEngineStack, type EngineStack } from '../../engine/stack.js';
import { runPartition } from '../../engine/executeBlock.js';
import { blockLogPath } from '../../engine/logs.js';
import { blockVariablesDir } from '../../variables/layout.js';
import { buildProject, py, usePreparedPython } from '../../../test/engine/projectBuilder.js';

usePreparedPython();

const LOADER = py(
  'data_loader',
  `import pandas as pd\n\n@data_loader\ndef l(*args, **kwargs):\n    return pd.DataFrame({'country': ['NL', 'BE', 'NL', 'DE', 'NL', 'BE'], 'amount': [1, 2, 3, 4, 5, 6]})`,
);

const PIVOT_SQL = `{% macro total_for(country) -%}
SUM(CASE WHEN country = '{{ country }}' THEN amount ELSE 0 END)
{%- endmacro %}
SELECT
  '{{ execution_date.strftime('%Y-%m-%d') }}' AS day,
{% for c in variables('countries') %}
  {{ total_for(c) }} AS total_{{ c | lower }}{{ ',' if not loop.last }}
{% endfor %}
FROM {{ df_1 }}
{% if variables('min_amount') is not none %}WHERE amount >= {{ variables('min_amount') }}{% endif %}
`;

describe('Jinja SQL blocks in a pipeline run', () => {
  let root: string;
  let project: Project;
  let store: Store;
  let stack: EngineStack;

  before(async () => {
    root = buildProject({
      pivot: {
        variables: { countries: ['NL', 'BE', 'DE'], min_amount: 2 },
        blocks: [
          { uuid: 'sales', type: 'data_loader', code: LOADER },
          { uuid: 'by_country', type: 'transformer', language: 'sql', upstream: ['sales'], code: PIVOT_SQL },
        ],
      },
      broken: {
        blocks: [
          { uuid: 'sales', type: 'data_loader', code: LOADER },
          { uuid: 'bad_sql', type: 'transformer', language: 'sql', upstream: ['sales'], code: 'SELECT *\nFROM {{ df_1 }}\nWHERE {{ undefined_helper() }}' },
        ],
      },
    });
    project = loadProject(root);
    store = await openStore({ url: `sqlite://${join(project.dataDir, 'sql-run-test.db')}` });
    stack = await createEngineStack({ project, store, instanceId: 'sql-run-test', env: {} });
  });

  after(async () => {
    await stack?.close();
    await store?.close();
    if (root) rmSync(dirname(root), { recursive: true, force: true });
  });

  const run = async (pipelineUuid: string, variables: Record<string, unknown> = {}) => {
    const created = await stack.engine.createRun({ pipelineUuid, variables });
    const status = await stack.engine.waitForRun(created.id);
    const row = (await store.pipelineRuns.get(created.id))!;
    return { id: created.id, status, row, blocks: await store.blockRuns.listForRun(created.id) };
  };

  test('a loop over a pipeline variable builds the query, and run variables change it', async () => {
    const r = await run('pivot');
    assert.equal(r.status, 'completed');
    const parquet = join(blockVariablesDir(project.dataDir, 'pivot', runPartition(r.row), 'by_country'), 'output_0', 'data.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      const rows = (await conn.runAndReadAll(`SELECT day, total_nl::INTEGER AS nl, total_be::INTEGER AS be, total_de::INTEGER AS de FROM read_parquet('${parquet}')`)).getRowObjects();
      assert.deepEqual(rows, [{ day: String(r.row.execution_date).slice(0, 10), nl: 8, be: 8, de: 4 }]);

      const again = await run('pivot', { countries: ['DE'], min_amount: null });
      assert.equal(again.status, 'completed');
      const second = join(blockVariablesDir(project.dataDir, 'pivot', runPartition(again.row), 'by_country'), 'output_0', 'data.parquet');
      const cols = (await conn.runAndReadAll(`SELECT * EXCLUDE (day) FROM read_parquet('${second}')`)).columnNames();
      assert.deepEqual(cols, ['total_de']);
    } finally {
      conn.closeSync();
      db.closeSync();
    }
  });

  test('a template error fails the block with its name and line, in the block run log too', async () => {
    const r = await run('broken');
    assert.equal(r.status, 'failed');
    const statuses = Object.fromEntries(r.blocks.map((b) => [b.block_uuid, b.status]));
    assert.deepEqual(statuses, { sales: 'completed', bad_sql: 'failed' });
    const log = readFileSync(blockLogPath(project.dataDir, 'broken', runPartition(r.row), 'bad_sql'), 'utf8');
    assert.match(log, /Template error in SQL block 'bad_sql': Unknown function 'undefined_helper'.* at line 3/);
  });
});
