/** Helpers for the SQL runtime's tests: a throwaway project folder and requests against it. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { BlockRunRequest, LogLine } from '../types.js';

export interface TestProject {
  root: string;
  dataDir: string;
  /** `<dataDir>/pipelines/<pipeline>/.variables/<block>` for the test pipeline. */
  variablesDir(blockUuid: string): string;
  /** Writes `transformers/<uuid>.sql` and returns a request for it with the given overrides. */
  sqlBlock(blockUuid: string, sql: string, overrides?: Partial<BlockRunRequest>): Promise<BlockRunRequest>;
  cleanup(): Promise<void>;
}

export const TEST_PIPELINE = 'sql_test_pipeline';

export async function createTestProject(): Promise<TestProject> {
  const root = await mkdtemp(join(tmpdir(), 'blockflow-sql-test-'));
  const dataDir = join(root, 'data');
  await mkdir(join(root, 'transformers'), { recursive: true });
  await writeFile(join(root, 'metadata.yaml'), 'project_uuid: sql_test\n');
  const variablesDir = (blockUuid: string) => join(dataDir, 'pipelines', TEST_PIPELINE, '.variables', blockUuid);
  return {
    root,
    dataDir,
    variablesDir,
    async sqlBlock(blockUuid, sql, overrides = {}) {
      const filePath = join(root, 'transformers', `${blockUuid}.sql`);
      await writeFile(filePath, sql);
      return {
        projectRoot: root,
        dataDir,
        pipelineUuid: TEST_PIPELINE,
        blockUuid,
        blockType: 'transformer',
        language: 'sql',
        filePath,
        mode: 'run',
        configuration: {},
        upstream: [],
        kwargs: {},
        outputDir: variablesDir(blockUuid),
        returnOutputs: true,
        runTests: false,
        ...overrides,
      };
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** Writes a JSON value as an upstream block's output_0 (Mage's JSON layout). */
export async function writeJsonOutput(variablesDir: string, value: unknown): Promise<void> {
  await mkdir(join(variablesDir, 'output_0'), { recursive: true });
  await writeFile(join(variablesDir, 'output_0', 'data.json'), JSON.stringify(value));
}

/** Collects log lines of a run. */
export function logCollector(): { lines: LogLine[]; onLog: (line: LogLine) => void } {
  const lines: LogLine[] = [];
  return { lines, onLog: (line) => lines.push(line) };
}

/**
 * Two upstream outputs for export tests: `<prefix>_orders` (Parquet written by DuckDB: ids 1-3, amount = id * 2.5,
 * at = 2024-01-01 + id hours) and `<prefix>_rates` (JSON: rate 2 for id 1, 10 for id 3). Returns them as a
 * request's `upstream` list, orders first.
 */
export async function writeOrdersAndRates(project: TestProject, prefix: string): Promise<BlockRunRequest['upstream']> {
  const parquetDir = project.variablesDir(`${prefix}_orders`);
  await mkdir(join(parquetDir, 'output_0'), { recursive: true });
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  await conn.run(
    `COPY (SELECT i::BIGINT AS id, i * 2.5 AS amount, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (i) HOUR AS at FROM range(1, 4) t(i))
     TO '${join(parquetDir, 'output_0', 'data.parquet')}' (FORMAT parquet)`,
  );
  conn.closeSync();
  duck.closeSync();
  const jsonDir = project.variablesDir(`${prefix}_rates`);
  await writeJsonOutput(jsonDir, [{ id: 1, rate: 2 }, { id: 3, rate: 10 }]);
  return [
    { blockUuid: `${prefix}_orders`, variablesDir: parquetDir },
    { blockUuid: `${prefix}_rates`, variablesDir: jsonDir },
  ];
}
