/**
 * `backfills` (mage-api.md §3.13): create under a pipeline, list, detail, update (`status: "initial"` starts
 * it, `status: "cancelled"` cancels it; other fields only before it starts), delete. Every backfill shows
 * its progress: `total_run_count`, `run_status_counts`, `completed_run_count`, `failed_run_count`,
 * `cancelled_run_count` and `progress` (0..1). Detail takes `include_preview_runs=true` (the dates and
 * variables of the runs it creates, at most 1000) and `include_run_count=true` (Mage's flag; counts are
 * always included here).
 */
import { Type, type Static } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { ApiError, conflict, notFound, recordInvalid } from '../errors.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import { firstString, flag, paging, splitMageQuery, stringList } from '../query.js';
import { mapProjectErrors } from '../projectErrors.js';
import { checkRunVariables, schedulerOf } from './pipelineSchedules.js';
import { loadPipeline } from '../../project/pipeline.js';
import { BACKFILL_STATUSES, type BackfillRow, type BackfillStatus } from '../../store/backfills.js';
import { fromDbTime, toDbTime } from '../../store/time.js';
import { BackfillError, backfillPlan } from '../../scheduler/backfillRunner.js';

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,15}$' }) });
const UuidParams = Type.Object({ uuid: Type.String({ minLength: 1, maxLength: 255 }) });
const JsonMap = Type.Record(Type.String(), Type.Unknown());
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const IntervalType = Type.Union(['second', 'minute', 'hour', 'day', 'week', 'month', 'year', 'custom'].map((t) => Type.Literal(t)));

const fields = {
  name: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
  start_datetime: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  end_datetime: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  interval_type: Type.Optional(Nullable(IntervalType)),
  interval_units: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  variables: Type.Optional(Nullable(JsonMap)),
  settings: Type.Optional(Nullable(JsonMap)),
  block_uuid: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
};
const BackfillCreate = Type.Object(
  { backfill: Type.Object(fields, { additionalProperties: false }), api_key: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
const BackfillUpdate = Type.Object(
  {
    backfill: Type.Object(
      {
        ...fields,
        status: Type.Optional(Type.Union([Type.Literal('initial'), Type.Literal('cancelled')])),
        id: Type.Optional(Type.Unknown()),
        pipeline_uuid: Type.Optional(Type.Unknown()),
      },
      { additionalProperties: false },
    ),
    api_key: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

function time(value: string | null | undefined, field: string): Date | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === '') return null;
  try {
    return fromDbTime(value);
  } catch {
    throw recordInvalid(`${field} must be a date such as 2024-01-01 00:00:00; got ${JSON.stringify(value)}.`, [field]);
  }
}

function toApi(err: unknown): never {
  if (err instanceof BackfillError) {
    const type = { 400: 'invalid_request', 404: 'record_not_found', 409: 'conflict', 422: 'record_invalid' }[err.code];
    throw new ApiError(err.code, type, err.message);
  }
  throw err;
}

function fieldPatch(input: Partial<Static<typeof BackfillCreate>['backfill']>) {
  checkRunVariables(input.variables, 'backfill.variables');
  return {
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.start_datetime !== undefined ? { start_datetime: time(input.start_datetime, 'start_datetime') } : {}),
    ...(input.end_datetime !== undefined ? { end_datetime: time(input.end_datetime, 'end_datetime') } : {}),
    ...(input.interval_type !== undefined ? { interval_type: input.interval_type } : {}),
    ...(input.interval_units !== undefined ? { interval_units: input.interval_units } : {}),
    ...(input.variables !== undefined ? { variables: input.variables } : {}),
    ...(input.settings !== undefined ? { settings: input.settings } : {}),
    ...(input.block_uuid !== undefined ? { block_uuid: input.block_uuid } : {}),
  };
}

/** A range that cannot produce runs is refused at once, not when the backfill starts. */
function checkPlan(row: BackfillRow): void {
  if (!row.start_datetime || !row.end_datetime) return;
  try {
    backfillPlan(row);
  } catch (err) {
    toApi(err);
  }
}

export default async function backfillRoutes(app: App, ctx: AppContext): Promise<void> {
  const present = async (row: BackfillRow, preview = false) => {
    const progress = await schedulerOf(ctx).backfills.progress(row);
    const item: Record<string, unknown> = { ...row, variables: row.variables ?? {}, settings: row.settings ?? {}, ...progress };
    if (preview) {
      try {
        item.preview_runs = backfillPlan(row)
          .slice(0, 1000)
          .map((p) => ({ execution_date: toDbTime(p.executionDate), variables: p.variables }));
      } catch {
        item.preview_runs = [];
      }
    }
    return item;
  };

  const load = async (id: string) => {
    const row = await ctx.store.backfills.get(Number(id));
    if (!row) throw notFound(`Backfill ${id} not found.`);
    return row;
  };

  const list = async (rawQuery: unknown, pipelineUuid?: string) => {
    const q = splitMageQuery(rawQuery as Record<string, unknown>);
    const p = paging(q, 40);
    const statuses = stringList(q, 'status');
    for (const s of statuses ?? []) {
      if (!(BACKFILL_STATUSES as readonly string[]).includes(s)) throw recordInvalid(`status must be one of ${BACKFILL_STATUSES.join(', ')}; got "${s}".`);
    }
    const { rows, count } = await ctx.store.backfills.list({
      pipelineUuid: pipelineUuid ?? firstString(q, 'pipeline_uuid'),
      status: statuses as BackfillStatus[] | undefined,
      limit: p.limit,
      offset: p.offset,
    });
    const items = [];
    for (const r of rows) items.push(await present(r));
    return listEnvelope('backfills', items, { count, next: p.limit !== undefined && p.offset + rows.length < count });
  };

  app.get('/api/backfills', { config: { resource: 'backfills', action: 'list' }, schema: { tags: ['backfills'], summary: 'List backfills.', querystring: Type.Object({}, { additionalProperties: true }) } }, async (request) =>
    list(request.query),
  );

  app.get(
    '/api/pipelines/:uuid/backfills',
    { config: { resource: 'backfills', action: 'list' }, schema: { tags: ['backfills'], summary: "A pipeline's backfills.", params: UuidParams, querystring: Type.Object({}, { additionalProperties: true }) } },
    async (request) => {
      await mapProjectErrors(() => loadPipeline(ctx.project, request.params.uuid));
      return list(request.query, request.params.uuid);
    },
  );

  app.post(
    '/api/pipelines/:uuid/backfills',
    { config: { resource: 'backfills', action: 'create' }, schema: { tags: ['backfills'], summary: 'Create a backfill (not started).', params: UuidParams, body: BackfillCreate } },
    async (request) => {
      const pipeline = await mapProjectErrors(() => loadPipeline(ctx.project, request.params.uuid));
      const input = request.body.backfill;
      const draft = {
        interval_type: 'day',
        interval_units: 1,
        variables: {},
        settings: {},
        ...fieldPatch(input),
        name: input.name ?? `Backfill ${new Date().toISOString()}`,
        pipeline_uuid: pipeline.uuid,
      };
      const row = await ctx.store.backfills.create(draft);
      try {
        checkPlan(row);
      } catch (err) {
        await ctx.store.backfills.delete(row.id);
        throw err;
      }
      return itemEnvelope('backfill', await present(row));
    },
  );

  app.get(
    '/api/backfills/:id',
    { config: { resource: 'backfills', action: 'detail' }, schema: { tags: ['backfills'], summary: 'One backfill with its progress.', params: IdParams, querystring: Type.Object({}, { additionalProperties: true }) } },
    async (request) => {
      const q = splitMageQuery(request.query as Record<string, unknown>);
      flag(q, 'include_run_count', false);
      return itemEnvelope('backfill', await present(await load(request.params.id), flag(q, 'include_preview_runs', false)));
    },
  );

  app.put(
    '/api/backfills/:id',
    { config: { resource: 'backfills', action: 'update' }, schema: { tags: ['backfills'], summary: 'Start (status: initial), cancel (status: cancelled) or edit a backfill.', params: IdParams, body: BackfillUpdate } },
    async (request) => {
      let row = await load(request.params.id);
      const { status, id: _id, pipeline_uuid: _p, ...rest } = request.body.backfill;
      const patch = fieldPatch(rest);
      if (Object.keys(patch).length) {
        if (row.status !== null) throw conflict(`Backfill ${row.id} is ${row.status}; its range and settings can only change before it starts.`);
        const before = row;
        row = (await ctx.store.backfills.update(row.id, patch))!;
        try {
          checkPlan(row);
        } catch (err) {
          await ctx.store.backfills.update(row.id, {
            start_datetime: before.start_datetime,
            end_datetime: before.end_datetime,
            interval_type: before.interval_type,
            interval_units: before.interval_units,
          });
          throw err;
        }
      }
      const runner = schedulerOf(ctx).backfills;
      try {
        if (status === 'initial') row = await runner.start(row.id);
        else if (status === 'cancelled') row = await runner.cancel(row.id);
      } catch (err) {
        toApi(err);
      }
      return itemEnvelope('backfill', await present(row));
    },
  );

  app.delete(
    '/api/backfills/:id',
    { config: { resource: 'backfills', action: 'delete' }, schema: { tags: ['backfills'], summary: 'Delete a backfill (a running one is cancelled first; its runs are kept).', params: IdParams } },
    async (request) => {
      const row = await load(request.params.id);
      const presented = await present(row);
      if (row.status === null || row.status === 'initial' || row.status === 'running') await schedulerOf(ctx).backfills.cancel(row.id).catch(() => undefined);
      await ctx.store.backfills.delete(row.id);
      return itemEnvelope('backfill', presented);
    },
  );
}
