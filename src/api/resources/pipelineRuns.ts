/**
 * `pipeline_runs` (mage-api.md §3.5): list with Mage's filters and paging, detail, cancel and retry through
 * update, delete; and manual runs under a trigger.
 */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import { firstString, flag, orderBy, pageList, paging, splitMageQuery, stringList } from '../query.js';
import type { Engine } from '../../engine/engine.js';
import { RUN_STATUSES, type RunStatus } from '../../engine/statuses.js';
import { RUN_ORDER_COLUMNS, type PipelineRunRow, type RunOrderColumn } from '../../store/pipelineRuns.js';
import type { BlockRunRow } from '../../store/blockRuns.js';
import type { ScheduleRow } from '../../store/schedules.js';
import { PipelineNotFoundError } from '../../project/pipeline.js';

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) });
const RUN_COLUMNS = RUN_ORDER_COLUMNS as readonly string[];

export function presentBlockRun(row: BlockRunRow, schedule: ScheduleRow | null | undefined, withMetrics: boolean) {
  return {
    id: row.id,
    block_uuid: row.block_uuid,
    status: row.status,
    started_at: row.started_at,
    completed_at: row.completed_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
    pipeline_run_id: row.pipeline_run_id,
    pipeline_schedule_id: schedule?.id ?? null,
    pipeline_schedule_name: schedule?.name ?? null,
    ...(withMetrics ? { metrics: row.metrics ?? null } : {}),
  };
}

export function presentRun(ctx: AppContext, run: PipelineRunRow, blockRuns: BlockRunRow[], schedule: ScheduleRow | null | undefined) {
  const sorted = [...blockRuns].sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id - b.id));
  return {
    id: run.id,
    created_at: run.created_at,
    updated_at: run.updated_at,
    pipeline_schedule_id: run.pipeline_schedule_id,
    pipeline_uuid: run.pipeline_uuid,
    execution_date: run.execution_date,
    status: run.status,
    started_at: run.started_at,
    completed_at: run.completed_at,
    variables: run.variables ?? {},
    passed_sla: Boolean(run.passed_sla),
    event_variables: run.event_variables ?? {},
    metrics: run.metrics ?? null,
    backfill_id: run.backfill_id,
    executor_type: run.executor_type ?? 'local_python',
    block_runs: sorted.map((b) => presentBlockRun(b, schedule, true)),
    block_runs_count: blockRuns.length,
    completed_block_runs_count: blockRuns.filter((b) => b.status === 'completed').length,
    pipeline_schedule_name: schedule?.name ?? null,
    // Trigger tokens are stored hashed; the raw token is shown once, when the trigger is created or rotated.
    pipeline_schedule_token: null,
    pipeline_schedule_type: schedule?.schedule_type ?? null,
    repo_path: ctx.project.root,
  };
}

export async function presentRuns(ctx: AppContext, runs: PipelineRunRow[]) {
  const blockRuns = await ctx.store.blockRuns.listForRuns(runs.map((r) => r.id));
  const scheduleIds = [...new Set(runs.map((r) => r.pipeline_schedule_id).filter((x): x is number => x !== null))];
  const schedules = new Map((await ctx.store.schedules.getMany(scheduleIds)).map((s) => [s.id, s]));
  return runs.map((r) =>
    presentRun(
      ctx,
      r,
      blockRuns.filter((b) => b.pipeline_run_id === r.id),
      r.pipeline_schedule_id !== null ? schedules.get(r.pipeline_schedule_id) : null,
    ),
  );
}

function parseOrder(q: ReturnType<typeof splitMageQuery>) {
  return orderBy(q).map((entry) => {
    const [column, dir = 'asc'] = entry.trim().split(/\s+/);
    const desc = column.startsWith('-');
    const name = desc ? column.slice(1) : column;
    if (!RUN_COLUMNS.includes(name)) throw badRequest(`Cannot order pipeline runs by "${name}"; use one of ${RUN_COLUMNS.join(', ')}.`);
    const direction = desc || dir.toLowerCase() === 'desc' ? ('desc' as const) : ('asc' as const);
    return { column: name as RunOrderColumn, direction };
  });
}

function epochOrIso(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = /^\d+(\.\d+)?$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
  if (Number.isNaN(d.getTime())) throw badRequest(`${name} must be epoch seconds or an ISO 8601 date, got "${value}".`);
  return d;
}

export default async function pipelineRunRoutes(app: App, ctx: AppContext): Promise<void> {
  const engine = () => ctx.services.engine as Engine;
  const listQuery = Type.Object({}, { additionalProperties: true });

  const list = async (rawQuery: unknown, scheduleId?: number) => {
    const q = splitMageQuery(rawQuery as Record<string, unknown>);
    const p = paging(q, 40);
    const statuses = stringList(q, 'status');
    let lastRunFailed = false;
    if (statuses) {
      for (const s of statuses) {
        if (s === 'last_run_failed') lastRunFailed = true;
        else if (!(RUN_STATUSES as readonly string[]).includes(s)) throw badRequest(`status must be one of ${RUN_STATUSES.join(', ')}, last_run_failed; got "${s}".`);
      }
    }
    const backfill = firstString(q, 'backfill_id');
    const scheduleFilter = scheduleId ?? (firstString(q, 'pipeline_schedule_id') !== undefined ? Number(firstString(q, 'pipeline_schedule_id')) : undefined);
    const filter = {
      pipelineUuids: stringList(q, 'pipeline_uuid'),
      statuses: statuses?.filter((s) => s !== 'last_run_failed') as RunStatus[] | undefined,
      pipelineScheduleId: Number.isNaN(scheduleFilter) ? undefined : scheduleFilter,
      backfillId: backfill !== undefined ? Number(backfill) : undefined,
      createdAfter: epochOrIso(firstString(q, 'start_timestamp'), 'start_timestamp'),
      createdBefore: epochOrIso(firstString(q, 'end_timestamp'), 'end_timestamp'),
      orderBy: parseOrder(q),
    };
    let rows: PipelineRunRow[];
    let count: number;
    if (lastRunFailed) {
      // Mage's `last_run_failed`: the latest run of each trigger, kept when it failed.
      const all = await ctx.store.pipelineRuns.list({ ...filter, statuses: undefined, orderBy: [{ column: 'execution_date', direction: 'desc' }] });
      const latest = new Map<string, PipelineRunRow>();
      for (const r of all.rows) {
        const key = `${r.pipeline_uuid}|${r.pipeline_schedule_id}`;
        if (!latest.has(key)) latest.set(key, r);
      }
      const failed = [...latest.values()].filter((r) => r.status === 'failed');
      count = failed.length;
      rows = pageList(failed, p).page;
    } else {
      ({ rows, count } = await ctx.store.pipelineRuns.list({ ...filter, limit: p.limit, offset: p.offset }));
    }
    const metadata: Record<string, unknown> = { count, next: p.limit !== undefined && p.offset + rows.length < count };
    if (flag(q, 'include_pipeline_uuids', false)) metadata.pipeline_uuids = await ctx.store.pipelineRuns.distinctPipelineUuids();
    // Mage's list format always has pipeline_type and pipeline_tags, null unless asked for with
    // include_pipeline_type / include_pipeline_tags.
    const withType = flag(q, 'include_pipeline_type', false);
    const withTags = flag(q, 'include_pipeline_tags', false);
    const pipelineOf = (uuid: string) => {
      try {
        return engine().pipelines.get(uuid);
      } catch (error) {
        if (error instanceof PipelineNotFoundError) return undefined;
        throw error;
      }
    };
    const presented = (await presentRuns(ctx, rows)).map((run) => {
      const pipeline = (withType || withTags) && run.pipeline_uuid ? pipelineOf(run.pipeline_uuid) : undefined;
      return { ...run, pipeline_type: withType ? (pipeline?.type ?? null) : null, pipeline_tags: withTags ? (pipeline?.tags ?? []) : null };
    });
    return listEnvelope('pipeline_runs', presented, metadata);
  };

  app.get('/api/pipeline_runs', { config: { resource: 'pipeline_runs', action: 'list' }, schema: { tags: ['pipeline_runs'], summary: 'List pipeline runs.', querystring: listQuery } }, async (request) =>
    list(request.query),
  );

  app.get(
    '/api/pipeline_schedules/:id/pipeline_runs',
    { config: { resource: 'pipeline_runs', action: 'list' }, schema: { tags: ['pipeline_runs'], summary: 'List the runs of one trigger.', params: IdParams, querystring: listQuery } },
    async (request) => {
      const schedule = await ctx.store.schedules.get(Number(request.params.id));
      if (!schedule) throw notFound(`Trigger ${request.params.id} not found.`);
      return list(request.query, schedule.id);
    },
  );

  const loadRun = async (id: string) => {
    const run = await ctx.store.pipelineRuns.get(Number(id));
    if (!run) throw notFound(`Pipeline run ${id} not found.`);
    return run;
  };

  app.get('/api/pipeline_runs/:id', { config: { resource: 'pipeline_runs', action: 'detail' }, schema: { tags: ['pipeline_runs'], summary: 'One pipeline run with its block runs.', params: IdParams } }, async (request) => {
    const run = await loadRun(request.params.id);
    return itemEnvelope('pipeline_run', (await presentRuns(ctx, [run]))[0]);
  });

  app.put(
    '/api/pipeline_runs/:id',
    {
      config: { resource: 'pipeline_runs', action: 'update' },
      schema: {
        tags: ['pipeline_runs'],
        summary: 'Cancel a run (status: cancelled) or retry its blocks (pipeline_run_action: retry_blocks).',
        params: IdParams,
        body: Type.Object(
          {
            pipeline_run: Type.Object(
              {
                status: Type.Optional(Type.Literal('cancelled')),
                pipeline_run_action: Type.Optional(Type.Literal('retry_blocks')),
                from_block_uuid: Type.Optional(Type.String({ minLength: 1 })),
              },
              { additionalProperties: false },
            ),
            api_key: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const run = await loadRun(request.params.id);
      const body = request.body.pipeline_run;
      if (body.status && body.pipeline_run_action) throw badRequest('Send either status: cancelled or pipeline_run_action: retry_blocks, not both.');
      if (body.status === 'cancelled') {
        if (!['initial', 'running'].includes(run.status)) throw conflict(`Pipeline run ${run.id} is ${run.status}; only initial or running runs can be cancelled.`);
        await engine().cancelRun(run.id);
      } else if (body.pipeline_run_action === 'retry_blocks') {
        if (['initial', 'running'].includes(run.status) && !body.from_block_uuid) {
          throw conflict(`Pipeline run ${run.id} is ${run.status}; wait for it to finish or cancel it before retrying its blocks.`);
        }
        if (body.from_block_uuid) {
          const blockRuns = await ctx.store.blockRuns.listForRun(run.id);
          // A block under a dynamic block has its runs as `<block>:<item>` (Mage's dynamic children).
          const from = body.from_block_uuid;
          if (!blockRuns.some((b) => b.block_uuid === from || b.block_uuid.startsWith(`${from}:`))) throw notFound(`Block ${body.from_block_uuid} has no block run in pipeline run ${run.id}.`);
        }
        try {
          await engine().retryBlocks(run.id, body.from_block_uuid);
        } catch (err) {
          if (err instanceof PipelineNotFoundError) throw notFound(err.message);
          throw err;
        }
      } else {
        throw badRequest('Nothing to do: send pipeline_run.status = "cancelled" or pipeline_run.pipeline_run_action = "retry_blocks".');
      }
      return itemEnvelope('pipeline_run', (await presentRuns(ctx, [(await ctx.store.pipelineRuns.get(run.id))!]))[0]);
    },
  );

  app.delete('/api/pipeline_runs/:id', { config: { resource: 'pipeline_runs', action: 'delete' }, schema: { tags: ['pipeline_runs'], summary: 'Delete a run and its block runs.', params: IdParams } }, async (request) => {
    const run = await loadRun(request.params.id);
    const presented = (await presentRuns(ctx, [run]))[0];
    if (['initial', 'running'].includes(run.status)) await engine().cancelRun(run.id);
    await ctx.store.pipelineRuns.delete(run.id);
    return itemEnvelope('pipeline_run', presented);
  });
}
