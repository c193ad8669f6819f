/** Helpers for the SQL runtime's tests: a throwaway project folder and requests against it. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
