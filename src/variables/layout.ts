/**
 * Where block outputs and logs live on disk, in Mage's layout (mage-api.md §5.5):
 * `<dataDir>/pipelines/<pipeline_uuid>/.variables/[<partition>/]<block_uuid>/output_<N>/` and
 * `<dataDir>/pipelines/<pipeline_uuid>/.logs/[<partition>/]`.
 */
import { join } from 'node:path';
import { joinUnderRoot, type PathPart } from '../project/paths.js';

/*
 * Pipeline and block uuids and partitions come from files and database rows an editor or a cloned repository
 * controls, so every one goes through joinUnderRoot: a `..`, absolute or over-long value is refused with
 * PathRefusedError instead of reaching outside the data folder.
 */
const pipelinePart = (value: string): PathPart => ({ kind: 'pipeline uuid', value });
/** Mage's nested block uuids (`folder/name`, dbt models) make sub-folders, as in Mage. */
const blockPart = (value: string): PathPart => ({ kind: 'block uuid', value, nested: true });
/** A partition is `''` (notebook runs) or `/`-separated plain segments, e.g. `12/20240101T000000_000000`. */
const partitionParts = (partition: string): PathPart[] => (partition === '' ? [] : [{ kind: 'execution partition', value: partition, nested: true }]);

/** `<dataDir>/pipelines/<pipelineUuid>/.variables` */
export function variablesRoot(dataDir: string, pipelineUuid: string): string {
  return joinUnderRoot(dataDir, 'pipelines', pipelinePart(pipelineUuid), '.variables');
}

/** `<dataDir>/pipelines/<pipelineUuid>/.variables/[<partition>/]<blockUuid>`; `partition` `''` for notebook runs. */
export function blockVariablesDir(dataDir: string, pipelineUuid: string, partition: string, blockUuid: string): string {
  return joinUnderRoot(dataDir, 'pipelines', pipelinePart(pipelineUuid), '.variables', ...partitionParts(partition), blockPart(blockUuid));
}

/** `<dataDir>/pipelines/<pipelineUuid>/.variables/<partition>`: a run's folder of outputs. */
export function partitionVariablesDir(dataDir: string, pipelineUuid: string, partition: string): string {
  return joinUnderRoot(dataDir, 'pipelines', pipelinePart(pipelineUuid), '.variables', ...partitionParts(partition));
}

/** `<blockVariablesDir>/output_<index>` */
export function outputVariableDir(blockDir: string, index: number): string {
  if (!Number.isInteger(index) || index < 0) throw new Error(`invalid output index ${index}`);
  return join(blockDir, `output_${index}`);
}

/** `<dataDir>/pipelines/<pipelineUuid>/.logs/[<partition>/]`: the folder holding `<block_uuid>.log` files. */
export function logsDir(dataDir: string, pipelineUuid: string, partition: string): string {
  return joinUnderRoot(dataDir, 'pipelines', pipelinePart(pipelineUuid), '.logs', ...partitionParts(partition));
}

/** `<logsDir>/<blockUuid>.log` */
export function blockLogFile(dataDir: string, pipelineUuid: string, partition: string, blockUuid: string): string {
  return `${joinUnderRoot(dataDir, 'pipelines', pipelinePart(pipelineUuid), '.logs', ...partitionParts(partition), blockPart(blockUuid))}.log`;
}

/** `<logsDir>/pipeline.log` */
export function pipelineLogFile(dataDir: string, pipelineUuid: string, partition: string): string {
  return join(logsDir(dataDir, pipelineUuid, partition), 'pipeline.log'); // path-checked: logsDir checks every part
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/**
 * Mage's `execution_date.strftime('%Y%m%dT%H%M%S_%f')` in UTC. A string keeps its microseconds
 * (`2024-01-01T00:00:00.123456Z`); a Date has millisecond precision. A string without an offset is read as UTC.
 */
export function formatPartitionDate(executionDate: Date | string): string {
  let date: Date;
  let micros: number;
  if (typeof executionDate === 'string') {
    const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/i.exec(executionDate.trim());
    if (!m) throw new Error(`invalid execution date ${JSON.stringify(executionDate)}: expected ISO 8601`);
    const fraction = (m[3] ?? '').padEnd(6, '0').slice(0, 6);
    date = new Date(`${m[1]}T${m[2]}${m[4] ?? 'Z'}`);
    micros = Number(fraction);
  } else {
    date = executionDate;
    micros = date.getUTCMilliseconds() * 1000;
  }
  if (Number.isNaN(date.getTime())) throw new Error(`invalid execution date ${String(executionDate)}`);
  return (
    `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}_${pad(micros, 6)}`
  );
}

/** Mage's `PipelineRun.execution_partition`: `<scheduleId>/<YYYYmmddTHHMMSS_ffffff>`. */
export function executionPartition(scheduleId: number | string | null | undefined, executionDate: Date | string): string {
  return `${scheduleId ?? 'None'}/${formatPartitionDate(executionDate)}`;
}
