/**
 * `GET /api/pipelines/{uuid}/logs` (mage-api.md §3.9): the block and pipeline log files of the pipeline's
 * runs, filtered by run, block run, block, trigger and time; at most `_limit` (default 20) files of each kind.
 */
import { Type } from 'typebox';
import { readFile, stat } from 'node:fs/promises';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { listEnvelope } from '../envelope.js';
import { firstString, paging, splitMageQuery, stringList } from '../query.js';
import { runPartition } from '../../engine/executeBlock.js';
import { blockLogPath, pipelineLogPath } from '../../engine/logs.js';
import { pipelineExists } from '../../project/pipeline.js';

const MAX_FILE_BYTES = 1024 * 1024;

async function logFile(path: string, name: string) {
  try {
    const info = await stat(path);
    // Only the last MiB of a large log is sent; the file on disk keeps everything.
    const buf = await readFile(path);
    const content = buf.length > MAX_FILE_BYTES ? buf.subarray(buf.length - MAX_FILE_BYTES).toString('utf8') : buf.toString('utf8');
    return { name, path, size: info.size, modified_timestamp: info.mtimeMs / 1000, content };
  } catch {
    return null;
  }
}

function ids(values: string[] | undefined, name: string): number[] | undefined {
  if (!values) return undefined;
  return values.map((v) => {
    if (!/^\d+$/.test(v)) throw badRequest(`${name} must hold integers, got "${v}".`);
    return Number(v);
  });
}

export default async function logRoutes(app: App, ctx: AppContext): Promise<void> {
  app.get(
    '/api/pipelines/:uuid/logs',
    {
      config: { resource: 'logs', action: 'list' },
      schema: { tags: ['logs'], summary: 'Log files of a pipeline\'s runs.', params: Type.Object({ uuid: Type.String() }), querystring: Type.Object({}, { additionalProperties: true }) },
    },
    async (request) => {
      const { uuid } = request.params;
      if (!pipelineExists(ctx.project, uuid)) throw notFound(`Pipeline ${uuid} not found.`);
      const q = splitMageQuery(request.query as Record<string, unknown>);
      const limit = paging(q, 20).limit ?? 20;
      const runIds = ids(stringList(q, 'pipeline_run_id'), 'pipeline_run_id[]');
      const blockRunIds = ids(stringList(q, 'block_run_id'), 'block_run_id[]');
      const scheduleIds = ids(stringList(q, 'pipeline_schedule_id'), 'pipeline_schedule_id[]');
      const blockUuids = stringList(q, 'block_uuid');
      const start = firstString(q, 'start_timestamp');
      const end = firstString(q, 'end_timestamp');
      const { rows: runs } = await ctx.store.pipelineRuns.list({
        pipelineUuids: [uuid],
        ids: runIds,
        pipelineScheduleIds: scheduleIds,
        createdAfter: start ? new Date(Number(start) * 1000) : undefined,
        createdBefore: end ? new Date(Number(end) * 1000) : undefined,
        orderBy: [{ column: 'created_at', direction: 'desc' }],
        limit: 200,
        offset: 0,
      });
      const blockRuns = await ctx.store.blockRuns.listForRuns(runs.map((r) => r.id));
      const blockFiles: unknown[] = [];
      const pipelineFiles: unknown[] = [];
      let totalBlock = 0;
      const partitions = new Map<number, string>();
      for (const run of runs) {
        const partition = runPartition(run);
        let pf: Awaited<ReturnType<typeof logFile>> = null;
        try {
          pf = await logFile(pipelineLogPath(ctx.project.dataDir, uuid, partition), 'pipeline.log');
        } catch {
          // A run whose partition (a database row) would leave the data folder is skipped, not followed.
          continue;
        }
        partitions.set(run.id, partition);
        if (pf && !blockRunIds && !blockUuids) {
          if (pipelineFiles.length < limit) pipelineFiles.push(pf);
        }
      }
      // Mage lists block run logs latest started first, a block uuid also matching its dynamic children.
      const ordered = [...blockRuns].sort((a, b) => (b.started_at ?? '').localeCompare(a.started_at ?? '') || b.id - a.id);
      for (const br of ordered) {
        const partition = partitions.get(br.pipeline_run_id);
        if (partition === undefined) continue;
        if (blockRunIds && !blockRunIds.includes(br.id)) continue;
        if (blockUuids && !blockUuids.some((u) => br.block_uuid === u || br.block_uuid.startsWith(`${u}:`))) continue;
        let path: string;
        try {
          path = blockLogPath(ctx.project.dataDir, uuid, partition, br.block_uuid);
        } catch {
          // A block run row whose uuid or partition would leave the data folder has no log to show.
          continue;
        }
        const f = await logFile(path, `${br.block_uuid}.log`);
        if (!f) continue;
        totalBlock++;
        if (blockFiles.length < limit) blockFiles.push(f);
      }
      return listEnvelope('logs', [
        { block_run_logs: blockFiles, pipeline_run_logs: pipelineFiles, total_block_run_log_count: totalBlock, total_pipeline_run_log_count: pipelineFiles.length },
      ]);
    },
  );
}
