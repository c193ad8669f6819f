/**
 * `pipeline_schedules`, Mage's triggers (mage-api.md §3.3): list with Mage's filters, list/create under a
 * pipeline, detail, update (`rotate_token`, `event_matchers`, `tags`), delete; and manual runs,
 * `POST /api/pipeline_schedules/{id}/pipeline_runs` (§3.5).
 *
 * Blockflow additions on a trigger: `timezone` (IANA zone for its interval; null is UTC, as Mage),
 * `catch_up_policy` (`none` | `latest` | `all`, see src/scheduler/catchUp.ts) with `settings.catch_up_max`, and
 * `scheduler_error` (why the scheduler cannot plan it, e.g. its pipeline is gone).
 *
 * Tokens: only the SHA-256 of a trigger's token is stored, so `token` is the raw token in the answer to the
 * create and to an update with `rotate_token: true`, and `null` everywhere else: it cannot be shown again.
 * A client that lost it rotates it.
 */
import { Type, type Static } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { ApiError, badRequest, conflict, notFound, recordInvalid } from '../errors.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import { firstString, orderBy, paging, splitMageQuery, stringList } from '../query.js';
import { mapProjectErrors, toApiError } from '../projectErrors.js';
import { presentRuns } from './pipelineRuns.js';
import { loadPipeline, pipelineExists } from '../../project/pipeline.js';
import { TriggerFileError } from '../../project/triggersYaml.js';
import type { EventMatcherRow } from '../../store/eventMatchers.js';
import { SCHEDULE_ORDER_COLUMNS, type ScheduleOrderColumn, type ScheduleRow, type ScheduleRunStats } from '../../store/schedules.js';
import { DuplicateRunError } from '../../store/errors.js';
import { fromDbTime, toDbTime } from '../../store/time.js';
import { nextExecutionDate } from '../../scheduler/schedule.js';
import type { SchedulerService } from '../../scheduler/service.js';
import { TriggerConfigError, validateTriggerFields } from '../../scheduler/triggerConfig.js';
import { assertTriggerFileWritable, removeTriggerFromFile, saveInCodeEnabled, writeBackTrigger } from '../../scheduler/triggerFiles.js';
import { newTriggerToken, triggerTokenHash } from '../../scheduler/triggerTokens.js';
import { runVariableProblem } from '../../engine/runVariables.js';

export const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,15}$' }) });
const UuidParams = Type.Object({ uuid: Type.String({ minLength: 1, maxLength: 255 }) });

const JsonMap = Type.Record(Type.String(), Type.Unknown());
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Matcher = Type.Object(
  {
    id: Type.Optional(Type.Integer({ minimum: 1 })),
    event_type: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
    name: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
    pattern: Type.Optional(Nullable(JsonMap)),
    repo_path: Type.Optional(Nullable(Type.String())),
  },
  { additionalProperties: true },
);

/** Fields a client may write. Read-only fields Mage's UI sends back unchanged are accepted and ignored. */
const writable = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  description: Type.Optional(Nullable(Type.String({ maxLength: 10_000 }))),
  schedule_type: Type.Optional(Type.Union([Type.Literal('time'), Type.Literal('event'), Type.Literal('api')])),
  schedule_interval: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
  start_time: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('inactive')])),
  variables: Type.Optional(Nullable(JsonMap)),
  sla: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  settings: Type.Optional(Nullable(JsonMap)),
  global_data_product_uuid: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
  timezone: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
  catch_up_policy: Type.Optional(Nullable(Type.Union([Type.Literal('none'), Type.Literal('latest'), Type.Literal('all')]))),
  tags: Type.Optional(Type.Array(Type.String({ maxLength: 255 }), { maxItems: 100 })),
  event_matchers: Type.Optional(Type.Array(Matcher, { maxItems: 100 })),
};
const ignored = Object.fromEntries(
  ['id', 'created_at', 'updated_at', 'pipeline_uuid', 'repo_path', 'token', 'last_enabled_at', 'next_pipeline_run_date', 'pipeline_runs_count', 'pipeline_in_progress_runs_count', 'last_pipeline_run_status', 'scheduler_error'].map((k) => [k, Type.Optional(Type.Unknown())]),
);

const ScheduleCreate = Type.Object(
  {
    pipeline_schedule: Type.Object({ ...writable, ...ignored, name: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false }),
    api_key: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const ScheduleUpdate = Type.Object(
  {
    pipeline_schedule: Type.Object({ ...writable, ...ignored, rotate_token: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    api_key: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
type Writable = Partial<Static<typeof ScheduleUpdate>['pipeline_schedule']>;

const RunCreate = Type.Object(
  {
    pipeline_run: Type.Optional(
      Type.Object(
        {
          execution_date: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
          variables: Type.Optional(Nullable(JsonMap)),
          event_variables: Type.Optional(Nullable(JsonMap)),
        },
        { additionalProperties: true },
      ),
    ),
    api_key: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export function schedulerOf(ctx: AppContext): SchedulerService {
  const s = ctx.services.scheduler as SchedulerService | undefined;
  if (!s) throw new ApiError(503, 'scheduler_unavailable', 'The scheduler service is not running in this server.');
  return s;
}

/** Mage's next_pipeline_run_date: the interval's next execution date (null for api/event, @once, @always_on). */
export function nextRunDate(s: ScheduleRow, now = new Date()): string | null {
  if ((s.schedule_type ?? 'time') !== 'time' || !s.schedule_interval) return null;
  try {
    const landing = s.settings?.landing_time_enabled && s.start_time ? { landingStartTime: fromDbTime(s.start_time) } : {};
    const next = nextExecutionDate(s.schedule_interval, now, s.timezone ?? 'UTC', landing);
    return next ? toDbTime(next) : null;
  } catch {
    return null;
  }
}

/** A matcher as Mage's `EventMatcher.to_dict()`. */
/** null for an absent or empty mapping, the mapping otherwise. */
export function presentMatcher(m: EventMatcherRow) {
  return { id: m.id, created_at: m.created_at, updated_at: m.updated_at, event_type: m.event_type, name: m.name, pattern: m.pattern ?? {}, repo_path: m.repo_path };
}

export interface PresentOptions {
  /** The raw token, in the answers to create and rotate only. */
  token?: string | null;
  stats?: ScheduleRunStats | null;
  withStats?: boolean;
}

export async function presentSchedules(ctx: AppContext, rows: ScheduleRow[], options: { withStats?: boolean } = {}) {
  const ids = rows.map((r) => r.id);
  const [tags, matchers, stats] = await Promise.all([
    ctx.store.schedules.tagsFor(ids),
    ctx.store.eventMatchers.forSchedules(ids),
    options.withStats ? ctx.store.schedules.runStats(ids) : Promise.resolve(new Map<number, ScheduleRunStats>()),
  ]);
  const scheduler = ctx.services.scheduler as SchedulerService | undefined;
  const now = new Date();
  return rows.map((s) => ({
    id: s.id,
    created_at: s.created_at,
    updated_at: s.updated_at,
    name: s.name,
    description: s.description,
    pipeline_uuid: s.pipeline_uuid,
    schedule_type: s.schedule_type,
    start_time: s.start_time,
    schedule_interval: s.schedule_interval,
    status: s.status,
    last_enabled_at: s.last_enabled_at,
    // As stored, as Mage: null for a trigger created through the API without them, {} from triggers.yaml.
    variables: s.variables,
    sla: s.sla,
    token: null as string | null,
    repo_path: s.repo_path,
    settings: s.settings,
    global_data_product_uuid: s.global_data_product_uuid,
    timezone: s.timezone,
    catch_up_policy: s.catch_up_policy ?? 'none',
    event_matchers: (matchers.get(s.id) ?? []).map(presentMatcher),
    tags: tags.get(s.id) ?? [],
    next_pipeline_run_date: nextRunDate(s, now),
    scheduler_error: scheduler?.errors.get(s.id) ?? null,
    ...(options.withStats
      ? {
          pipeline_runs_count: stats.get(s.id)?.pipeline_runs_count ?? null,
          pipeline_in_progress_runs_count: stats.get(s.id)?.pipeline_in_progress_runs_count ?? null,
          last_pipeline_run_status: stats.get(s.id)?.last_pipeline_run_status ?? null,
        }
      : {}),
  }));
}

async function presentOne(ctx: AppContext, row: ScheduleRow, token: string | null = null) {
  const [item] = await presentSchedules(ctx, [row], { withStats: true });
  return { ...item, token };
}

function parseTime(value: string | null | undefined, field: string): Date | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === '') return null;
  try {
    return fromDbTime(value);
  } catch {
    throw recordInvalid(`${field} must be a date such as 2024-01-01 00:00:00 or 2024-01-01T00:00:00Z; got ${JSON.stringify(value)}.`);
  }
}

function checkFields(merged: Parameters<typeof validateTriggerFields>[0]): { timezone: string | null } {
  try {
    return validateTriggerFields(merged);
  } catch (err) {
    if (err instanceof TriggerConfigError) throw recordInvalid(err.message, [err.field]);
    throw err;
  }
}

/**
 * Refuses run variables the engine would use as paths (`execution_partition` that is not plain folder names,
 * engine/runVariables.ts) with a 400 naming the variable. `field` is where the request carried them.
 */
export function checkRunVariables(variables: Record<string, unknown> | null | undefined, field = 'variables'): void {
  const refused = runVariableProblem(variables);
  if (refused) throw badRequest(refused.message, [`${field}.${refused.variable}`]);
}

/** A trigger file that cannot be rewritten, as the 422 that tells the user to fix it. */
export function fileError(err: unknown): never {
  if (err instanceof TriggerFileError) throw new ApiError(422, 'trigger_file_invalid', `${err.message} Fix the file before changing this trigger.`);
  throw err;
}


export default async function pipelineScheduleRoutes(app: App, ctx: AppContext): Promise<void> {
  const { store, project } = ctx;

  const list = async (rawQuery: unknown, pipelineUuid?: string) => {
    const q = splitMageQuery(rawQuery as Record<string, unknown>);
    const p = paging(q, 40);
    const order = orderBy(q).map((entry) => {
      const [column, dir = 'asc'] = entry.trim().split(/\s+/);
      const desc = column.startsWith('-');
      const name = desc ? column.slice(1) : column;
      if (!(SCHEDULE_ORDER_COLUMNS as readonly string[]).includes(name)) {
        throw badRequest(`Cannot order triggers by "${name}"; use one of ${SCHEDULE_ORDER_COLUMNS.join(', ')}.`);
      }
      return { column: name as ScheduleOrderColumn, direction: desc || dir.toLowerCase() === 'desc' ? ('desc' as const) : ('asc' as const) };
    });
    const { rows, count } = await store.schedules.list({
      pipelineUuid: pipelineUuid ?? firstString(q, 'pipeline_uuid'),
      scheduleType: stringList(q, 'schedule_type'),
      scheduleInterval: stringList(q, 'schedule_interval'),
      status: stringList(q, 'status'),
      tag: stringList(q, 'tag'),
      globalDataProductUuid: firstString(q, 'global_data_product_uuid'),
      orderBy: order,
      // Mage orders a pipeline's triggers newest first; the global list has no order, which reads as id order.
      idDirection: pipelineUuid === undefined ? 'asc' : 'desc',
      limit: p.limit,
      offset: p.offset,
    });
    return listEnvelope('pipeline_schedules', await presentSchedules(ctx, rows, { withStats: true }), {
      count,
      next: p.limit !== undefined && p.offset + rows.length < count,
    });
  };

  const load = async (id: string) => {
    const row = await store.schedules.get(Number(id));
    if (!row) throw notFound(`Trigger ${id} not found.`);
    return row;
  };

  const nameTaken = async (pipelineUuid: string, name: string, exceptId?: number) =>
    (await store.schedules.listForPipeline(pipelineUuid)).some((s) => s.name === name && s.id !== exceptId);

  app.get(
    '/api/pipeline_schedules',
    { config: { resource: 'pipeline_schedules', action: 'list' }, schema: { tags: ['pipeline_schedules'], summary: 'List triggers.', querystring: JsonMap } },
    async (request) => list(request.query),
  );

  app.get(
    '/api/pipelines/:uuid/pipeline_schedules',
    {
      config: { resource: 'pipeline_schedules', action: 'list' },
      schema: { tags: ['pipeline_schedules'], summary: "List one pipeline's triggers.", params: UuidParams, querystring: JsonMap },
    },
    async (request) => {
      await mapProjectErrors(() => loadPipeline(project, request.params.uuid));
      return list(request.query, request.params.uuid);
    },
  );

  app.post(
    '/api/pipelines/:uuid/pipeline_schedules',
    { config: { resource: 'pipeline_schedules', action: 'create' }, schema: { tags: ['pipeline_schedules'], summary: 'Create a trigger.', params: UuidParams, body: ScheduleCreate } },
    async (request) => {
      const pipeline = await mapProjectErrors(() => loadPipeline(project, request.params.uuid));
      const input = request.body.pipeline_schedule;
      const name = input.name.trim();
      if (!name) throw recordInvalid('name must not be empty.', ['name']);
      const { timezone } = checkFields({ ...input, settings: input.settings ?? null });
      checkRunVariables(input.variables);
      const startTime = parseTime(input.start_time, 'start_time');
      if (await nameTaken(pipeline.uuid, name)) throw conflict(`Pipeline ${pipeline.uuid} already has a trigger named ${JSON.stringify(name)}; trigger names key triggers.yaml.`);
      if (saveInCodeEnabled(project, pipeline.uuid)) {
        try {
          assertTriggerFileWritable(project, pipeline.uuid);
        } catch (err) {
          fileError(err);
        }
      }
      const token = newTriggerToken();
      const status = input.status ?? 'inactive';
      const row = await store.transaction(async (tx) => {
        const created = await tx.schedules.create({
          name,
          description: input.description ?? null,
          pipeline_uuid: pipeline.uuid,
          schedule_type: input.schedule_type ?? 'time',
          schedule_interval: input.schedule_interval ?? null,
          start_time: startTime ?? null,
          status,
          last_enabled_at: status === 'active' ? new Date() : null,
          variables: input.variables ?? null,
          sla: input.sla ?? null,
          settings: input.settings ?? null,
          global_data_product_uuid: input.global_data_product_uuid ?? null,
          timezone,
          catch_up_policy: input.catch_up_policy ?? null,
          token_hash: triggerTokenHash(token),
          repo_path: project.root,
        });
        if (input.tags) await tx.schedules.setTags(created.id, input.tags);
        if (input.event_matchers) await tx.eventMatchers.replaceForSchedule(created.id, input.event_matchers.map(matcherInput));
        return created;
      });
      try {
        writeBackTrigger(project, row);
      } catch (err) {
        fileError(err);
      }
      schedulerOf(ctx).wake('triggers');
      return itemEnvelope('pipeline_schedule', await presentOne(ctx, row, token));
    },
  );

  app.get(
    '/api/pipeline_schedules/:id',
    { config: { resource: 'pipeline_schedules', action: 'detail' }, schema: { tags: ['pipeline_schedules'], summary: 'One trigger.', params: IdParams } },
    async (request) => itemEnvelope('pipeline_schedule', await presentOne(ctx, await load(request.params.id))),
  );

  app.put(
    '/api/pipeline_schedules/:id',
    {
      config: { resource: 'pipeline_schedules', action: 'update' },
      schema: { tags: ['pipeline_schedules'], summary: 'Update a trigger (fields, tags, event_matchers, rotate_token).', params: IdParams, body: ScheduleUpdate },
    },
    async (request) => {
      const current = await load(request.params.id);
      const input: Writable = request.body.pipeline_schedule;
      const name = input.name !== undefined ? input.name.trim() : current.name;
      if (!name) throw recordInvalid('name must not be empty.', ['name']);
      const merged = {
        schedule_type: input.schedule_type ?? current.schedule_type,
        schedule_interval: input.schedule_interval !== undefined ? input.schedule_interval : current.schedule_interval,
        status: input.status ?? current.status,
        timezone: input.timezone !== undefined ? input.timezone : current.timezone,
        catch_up_policy: input.catch_up_policy !== undefined ? input.catch_up_policy : current.catch_up_policy,
        sla: input.sla !== undefined ? input.sla : current.sla,
        settings: input.settings !== undefined ? input.settings ?? {} : current.settings,
      };
      const { timezone } = checkFields(merged);
      checkRunVariables(input.variables);
      const startTime = parseTime(input.start_time, 'start_time');
      if (name !== current.name && current.pipeline_uuid && (await nameTaken(current.pipeline_uuid, name, current.id))) {
        throw conflict(`Pipeline ${current.pipeline_uuid} already has a trigger named ${JSON.stringify(name)}.`);
      }
      if (current.pipeline_uuid && saveInCodeEnabled(project, current.pipeline_uuid)) {
        try {
          assertTriggerFileWritable(project, current.pipeline_uuid);
        } catch (err) {
          fileError(err);
        }
      }
      const token = input.rotate_token ? newTriggerToken() : null;
      const enabling = merged.status === 'active' && current.status !== 'active';
      const row = await store.transaction(async (tx) => {
        const updated = await tx.schedules.update(current.id, {
          name,
          ...(input.description !== undefined ? { description: input.description } : {}),
          schedule_type: merged.schedule_type,
          schedule_interval: merged.schedule_interval,
          ...(startTime !== undefined ? { start_time: startTime } : {}),
          status: merged.status,
          ...(enabling ? { last_enabled_at: new Date() } : {}),
          ...(input.variables !== undefined ? { variables: input.variables ?? {} } : {}),
          sla: merged.sla,
          settings: merged.settings,
          ...(input.global_data_product_uuid !== undefined ? { global_data_product_uuid: input.global_data_product_uuid } : {}),
          timezone: input.timezone !== undefined ? timezone : current.timezone,
          catch_up_policy: merged.catch_up_policy,
          ...(token ? { token_hash: triggerTokenHash(token) } : {}),
        });
        if (input.tags) await tx.schedules.setTags(current.id, input.tags);
        if (input.event_matchers) await tx.eventMatchers.replaceForSchedule(current.id, input.event_matchers.map(matcherInput));
        return updated!;
      }).catch((err) => {
        if (err instanceof Error && /event matcher \d+ does not exist/.test(err.message)) throw notFound(err.message.replace(/^e/, 'E') + '.');
        throw err;
      });
      try {
        writeBackTrigger(project, row, current.name);
      } catch (err) {
        fileError(err);
      }
      const scheduler = schedulerOf(ctx);
      scheduler.wake('triggers');
      if (enabling && row.pipeline_uuid) await scheduler.admission.admit(row.pipeline_uuid);
      return itemEnvelope('pipeline_schedule', await presentOne(ctx, row, token));
    },
  );

  app.delete(
    '/api/pipeline_schedules/:id',
    { config: { resource: 'pipeline_schedules', action: 'delete' }, schema: { tags: ['pipeline_schedules'], summary: 'Delete a trigger (its runs are kept).', params: IdParams } },
    async (request) => {
      const current = await load(request.params.id);
      const presented = await presentOne(ctx, current);
      try {
        removeTriggerFromFile(project, current);
      } catch (err) {
        fileError(err);
      }
      await store.schedules.delete(current.id);
      schedulerOf(ctx).wake('triggers');
      return itemEnvelope('pipeline_schedule', presented);
    },
  );

  app.post(
    '/api/pipeline_schedules/:id/pipeline_runs',
    {
      config: { resource: 'pipeline_runs', action: 'create' },
      schema: { tags: ['pipeline_runs'], summary: 'Run a trigger now (a manual run).', params: IdParams, body: Type.Optional(RunCreate) },
    },
    async (request) => {
      let schedule = await load(request.params.id);
      if (!schedule.pipeline_uuid || !pipelineExists(project, schedule.pipeline_uuid)) throw notFound(`Pipeline ${schedule.pipeline_uuid} of trigger ${schedule.id} not found.`);
      const body = request.body?.pipeline_run ?? {};
      checkRunVariables(body.variables, 'pipeline_run.variables');
      const executionDate = parseTime(body.execution_date ?? undefined, 'execution_date') ?? undefined;
      // Mage activates an inactive `@once` time trigger when it is run by hand; other inactive triggers keep
      // the run waiting until they are activated.
      if (schedule.status !== 'active' && (schedule.schedule_type ?? 'time') === 'time' && schedule.schedule_interval === '@once') {
        schedule = (await store.schedules.update(schedule.id, { status: 'active', last_enabled_at: new Date() }))!;
      }
      try {
        const run = await schedulerOf(ctx).triggerRun(schedule, {
          executionDate,
          variables: body.variables ?? undefined,
          eventVariables: body.event_variables ?? undefined,
        });
        return itemEnvelope('pipeline_run', (await presentRuns(ctx, [run]))[0]);
      } catch (err) {
        if (err instanceof DuplicateRunError) throw conflict(`Trigger ${schedule.id} already has a run at ${executionDate?.toISOString()}.`);
        // A pipeline that no longer loads is a 422 naming the problem; no run was created.
        throw toApiError(err);
      }
    },
  );
}

export function matcherInput(m: Static<typeof Matcher>) {
  return {
    ...(m.id !== undefined ? { id: m.id } : {}),
    ...(m.event_type !== undefined ? { event_type: m.event_type } : {}),
    ...(m.name !== undefined ? { name: m.name } : {}),
    ...(m.pattern !== undefined ? { pattern: m.pattern } : {}),
    ...(m.repo_path !== undefined ? { repo_path: m.repo_path } : {}),
  };
}
