/**
 * `block_runs` (mage-api.md §3.6): list (by run, pipeline, status), the outputs of one block run, and a live
 * tail of its log as Server-Sent Events.
 */
import { Type } from 'typebox';
import { open } from 'node:fs/promises';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { badRequest, notFound } from '../errors.js';
import { listEnvelope } from '../envelope.js';
import { firstString, orderBy, paging, splitMageQuery, stringList } from '../query.js';
import { presentBlockRun } from './pipelineRuns.js';
import { blockVariablesDir } from '../../variables/layout.js';
import { readOutputSummaries } from '../../variables/read.js';
import { runPartition, runPipelineUuid } from '../../engine/executeBlock.js';
import { blockLogPath, logBus } from '../../engine/logs.js';
import { BLOCK_RUN_STATUSES, type BlockRunStatus } from '../../engine/statuses.js';

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) });
const ORDERABLE = ['id', 'created_at', 'started_at', 'completed_at', 'block_uuid', 'status'] as const;
const MAGE_DEFAULT_ORDER = (['started_at', 'created_at', 'completed_at'] as const).map((column) => ({ column, direction: 'desc' as const }));

export default async function blockRunRoutes(app: App, ctx: AppContext): Promise<void> {
  const list = async (rawQuery: unknown, pipelineRunId?: number) => {
    const q = splitMageQuery(rawQuery as Record<string, unknown>);
    const p = paging(q);
    const statuses = stringList(q, 'status');
    for (const s of statuses ?? []) {
      if (!(BLOCK_RUN_STATUSES as readonly string[]).includes(s)) throw badRequest(`status must be one of ${BLOCK_RUN_STATUSES.join(', ')}; got "${s}".`);
    }
    const runFilter = pipelineRunId ?? (firstString(q, 'pipeline_run_id') !== undefined ? Number(firstString(q, 'pipeline_run_id')) : undefined);
    if (runFilter !== undefined && !Number.isInteger(runFilter)) throw badRequest('pipeline_run_id must be an integer.');
    const order = orderBy(q).map((entry) => {
      const [column, dir = 'asc'] = entry.split(/\s+/);
      if (!(ORDERABLE as readonly string[]).includes(column)) throw badRequest(`Cannot order block runs by "${column}"; use one of ${ORDERABLE.join(', ')}.`);
      return { column: column as (typeof ORDERABLE)[number], direction: dir.toLowerCase() === 'desc' ? ('desc' as const) : ('asc' as const) };
    });
    // Mage's BlockRunResource: the top-level list without order_by is newest first (started_at, created_at,
    // completed_at, each descending); a run's own block runs keep creation order.
    if (order.length === 0 && pipelineRunId === undefined) order.push(...MAGE_DEFAULT_ORDER);
    const { rows, count } = await ctx.store.blockRuns.list({
      pipelineRunId: runFilter,
      pipelineUuid: firstString(q, 'pipeline_uuid'),
      blockUuids: stringList(q, 'block_uuid'),
      statuses: statuses as BlockRunStatus[] | undefined,
      orderBy: order,
      limit: p.limit,
      offset: p.offset,
    });
    const runs = new Map((await ctx.store.pipelineRuns.getMany([...new Set(rows.map((r) => r.pipeline_run_id))])).map((r) => [r.id, r]));
    const scheduleIds = [...new Set([...runs.values()].map((r) => r.pipeline_schedule_id).filter((x): x is number => x !== null))];
    const schedules = new Map((await ctx.store.schedules.getMany(scheduleIds)).map((s) => [s.id, s]));
    const items = rows.map((row) => {
      const run = runs.get(row.pipeline_run_id);
      return presentBlockRun(row, run?.pipeline_schedule_id != null ? schedules.get(run.pipeline_schedule_id) : null, false);
    });
    return listEnvelope('block_runs', items, { count, next: p.limit !== undefined && p.offset + rows.length < count });
  };

  app.get('/api/block_runs', { config: { resource: 'block_runs', action: 'list' }, schema: { tags: ['block_runs'], summary: 'List block runs.', querystring: Type.Object({}, { additionalProperties: true }) } }, async (request) =>
    list(request.query),
  );

  app.get(
    '/api/pipeline_runs/:id/block_runs',
    { config: { resource: 'block_runs', action: 'list' }, schema: { tags: ['block_runs'], summary: 'Block runs of one pipeline run.', params: IdParams, querystring: Type.Object({}, { additionalProperties: true }) } },
    async (request) => {
      const run = await ctx.store.pipelineRuns.get(Number(request.params.id));
      if (!run) throw notFound(`Pipeline run ${request.params.id} not found.`);
      return list(request.query, run.id);
    },
  );

  const loadBlockRun = async (id: string) => {
    const blockRun = await ctx.store.blockRuns.get(Number(id));
    if (!blockRun) throw notFound(`Block run ${id} not found.`);
    const run = await ctx.store.pipelineRuns.get(blockRun.pipeline_run_id);
    if (!run) throw notFound(`Pipeline run ${blockRun.pipeline_run_id} not found.`);
    return { blockRun, run };
  };

  app.get(
    '/api/block_runs/:id/outputs',
    {
      config: { resource: 'outputs', action: 'list' },
      schema: { tags: ['block_runs'], summary: 'Outputs of a block run (samples).', params: IdParams, querystring: Type.Object({ sample_count: Type.Optional(Type.String({ pattern: '^[0-9]+$' })) }, { additionalProperties: true }) },
    },
    async (request) => {
      const { blockRun, run } = await loadBlockRun(request.params.id);
      const sampleCount = Math.min(Number((request.query as { sample_count?: string }).sample_count ?? 10), 1000);
      const dir = blockVariablesDir(ctx.project.dataDir, runPipelineUuid(run), runPartition(run), blockRun.block_uuid);
      // Mage's OutputPresenter shows all six attributes on every item, null where the kind has none.
      const blank = { outputs: null, sample_data: null, shape: null, text_data: null };
      return listEnvelope('outputs', (await readOutputSummaries(dir, sampleCount)).map((item) => ({ ...blank, ...item })));
    },
  );

  app.get(
    '/api/block_runs/:id/logs/stream',
    { config: { resource: 'logs', action: 'list' }, schema: { tags: ['block_runs'], summary: 'Live tail of a block run log (text/event-stream).', params: IdParams } },
    async (request, reply) => {
      const { blockRun, run } = await loadBlockRun(request.params.id);
      const path = blockLogPath(ctx.project.dataDir, runPipelineUuid(run), runPartition(run), blockRun.block_uuid);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'access-control-allow-origin': '*',
      });
      // `ended` guards every write: the end event and the status check below can both finish the stream, and
      // a client may disconnect at any time; writing to an ended response would raise.
      let ended = false;
      const send = (event: string, data: string) => {
        if (!ended) res.write(`event: ${event}\ndata: ${data.replaceAll('\n', '\ndata: ')}\n\n`);
      };
      const pending: string[] = [];
      let replaying = true;
      const onLine = (line: string) => (replaying ? pending.push(line) : send('log', line));
      const finish = () => {
        send('end', JSON.stringify({ block_run_id: blockRun.id }));
        cleanup();
        if (!ended) res.end();
        ended = true;
      };
      const cleanup = () => {
        logBus.off(`block_run:${blockRun.id}`, onLine);
        logBus.off(`end:${blockRun.id}`, finish);
      };
      res.on('error', () => {
        ended = true;
        cleanup();
      });
      logBus.on(`block_run:${blockRun.id}`, onLine);
      logBus.on(`end:${blockRun.id}`, finish);
      res.on('close', () => {
        ended = true;
        cleanup();
      });
      // Replay what is already in the file, then switch to live lines (buffered meanwhile, de-duplicated).
      let history = '';
      try {
        const handle = await open(path, 'r');
        history = (await handle.readFile()).toString('utf8');
        await handle.close();
      } catch {
        history = '';
      }
      const seen = new Set(history.split('\n').filter(Boolean));
      for (const line of seen) send('log', line);
      replaying = false;
      for (const line of pending) if (!seen.has(line)) send('log', line);
      const current = await ctx.store.blockRuns.get(blockRun.id);
      if (!current || !['initial', 'queued', 'running'].includes(current.status)) finish();
    },
  );
}
