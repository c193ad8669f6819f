/**
 * `pipelines` (mage-api.md §3.1): list with filters and ordering, detail with block content and outputs,
 * create, update (rename, fields, `?update_content=true`, status side effects), delete.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { ApiError, badRequest } from '../errors.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import { firstString, flag, orderBy, pageList, paging, splitMageQuery, stringList } from '../query.js';
import { mapProjectErrors } from '../projectErrors.js';
import { presentPipeline, type PipelineViewOptions } from './pipelinePresenter.js';
import {
  BLOCK_COLLECTIONS,
  allBlocks,
  createPipeline,
  deletePipeline,
  listPipelineUuids,
  loadPipeline,
  pipelineConfigPath,
  pipelineExists,
  PipelineExistsError,
  savePipeline,
  type PipelineConfig,
} from '../../project/pipeline.js';
import { checkNameBytes, cleanName } from '../../project/names.js';
import { PIPELINE_TYPES } from '../../project/blockTypes.js';
import type { Project } from '../../project/projectConfig.js';
import { applyPipelineUpdate, readBlockContent } from '../../project/blocks.js';
import type { BlockConfig } from '../../project/pipeline.js';
import type { Engine } from '../../engine/engine.js';
import type { ScheduleRow } from '../../store/schedules.js';
import type { SchedulerService } from '../../scheduler/service.js';
import { assertTriggerFileWritable, writeBackTrigger } from '../../scheduler/triggerFiles.js';
import { fileError } from './pipelineSchedules.js';

const UuidParams = Type.Object({ uuid: Type.String({ minLength: 1, maxLength: 255 }) });
const ORDERABLE = ['name', 'uuid', 'updated_at', 'created_at', 'blocks', 'triggers', 'status', 'type'];

const PipelineCreate = Type.Object(
  {
    pipeline: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 255 }),
        type: Type.Optional(Type.Union(PIPELINE_TYPES.map((t) => Type.Literal(t)))),
        description: Type.Optional(Type.Union([Type.String({ maxLength: 10_000 }), Type.Null()])),
        tags: Type.Optional(Type.Array(Type.String({ maxLength: 255 }), { maxItems: 100 })),
        clone_pipeline_uuid: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    api_key: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const BlockUpdate = Type.Object({ uuid: Type.String({ minLength: 1 }) }, { additionalProperties: true });
const PipelineUpdate = Type.Object(
  {
    pipeline: Type.Object(
      {
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
        description: Type.Optional(Type.Union([Type.String({ maxLength: 10_000 }), Type.Null()])),
        type: Type.Optional(Type.Union(PIPELINE_TYPES.map((t) => Type.Literal(t)))),
        tags: Type.Optional(Type.Array(Type.String({ maxLength: 255 }), { maxItems: 100 })),
        settings: Type.Optional(Type.Object({}, { additionalProperties: true })),
        cache_block_output_in_memory: Type.Optional(Type.Boolean()),
        concurrency_config: Type.Optional(Type.Object({}, { additionalProperties: true })),
        data_integration: Type.Optional(Type.Unknown()),
        executor_type: Type.Optional(Type.Union([Type.String(), Type.Null()])),
        executor_count: Type.Optional(Type.Integer({ minimum: 1 })),
        retry_config: Type.Optional(Type.Object({}, { additionalProperties: true })),
        run_pipeline_in_one_process: Type.Optional(Type.Boolean()),
        extensions: Type.Optional(Type.Object({}, { additionalProperties: true })),
        blocks: Type.Optional(Type.Array(BlockUpdate)),
        callbacks: Type.Optional(Type.Array(BlockUpdate)),
        conditionals: Type.Optional(Type.Array(BlockUpdate)),
        widgets: Type.Optional(Type.Array(BlockUpdate)),
        status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('inactive'), Type.Literal('cancelled')])),
        pipeline_runs: Type.Optional(Type.Array(Type.Object({ id: Type.Integer() }, { additionalProperties: true }))),
        pipeline_schedule_id: Type.Optional(Type.Integer()),
      },
      { additionalProperties: true },
    ),
    api_key: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/*
 * Save with a version check ("no silent overwrite across tabs"): GET of a pipeline or block answers an `ETag`
 * that hashes its saved content; a PUT with `If-Match` proceeds only while that content is unchanged, else 409
 * and nothing is written. Without If-Match a PUT behaves as before (Mage's clients send none).
 */

/** A block file's text as hashed; a missing or refused file hashes as such, not as empty text. */
function hashedBlockContent(project: Project, block: BlockConfig): string {
  try {
    return readBlockContent(project, block) ?? '\u0000missing';
  } catch {
    return '\u0000refused';
  }
}

const etagOf = (hash: ReturnType<typeof createHash>) => `"${hash.digest('base64url').slice(0, 32)}"`;

/** The pipeline's version: metadata.yaml and every block file (blocks, callbacks, conditionals, widgets). */
export function pipelineEtag(project: Project, pipeline: PipelineConfig): string {
  const hash = createHash('sha256').update(readFileSync(pipelineConfigPath(project, pipeline.uuid)));
  for (const block of allBlocks(pipeline)) hash.update(`\u0000${block.uuid}\u0000`).update(hashedBlockContent(project, block));
  return etagOf(hash);
}

/** A block's version: its file. */
export function blockEtag(project: Project, block: BlockConfig): string {
  return etagOf(createHash('sha256').update(hashedBlockContent(project, block)));
}

/** Sends `etag`, readable by cross-origin clients too. */
export function sendEtag(reply: FastifyReply, etag: string): void {
  reply.header('etag', etag);
  reply.header('access-control-expose-headers', 'ETag');
}

/**
 * 409 unless the request has no If-Match, `If-Match: *`, or one of its tags is `current` (a `W/` prefix, which
 * proxies add when they compress, is ignored).
 */
export function checkIfMatch(request: FastifyRequest, current: string, what: string): void {
  const header = request.headers['if-match'];
  if (header === undefined) return;
  const tags = (Array.isArray(header) ? header.join(',') : header).split(',').map((t) => t.trim().replace(/^W\//, '')).filter(Boolean);
  if (tags.includes('*') || tags.includes(current)) return;
  throw new ApiError(
    409,
    'version_conflict',
    `${what} was changed since it was loaded (If-Match ${tags.join(', ') || '(empty)'}, current version ${current}); nothing was written. Reload it and apply your changes again.`,
  );
}

function scheduleStatus(schedules: ScheduleRow[]): 'active' | 'inactive' | 'no_schedules' {
  if (!schedules.length) return 'no_schedules';
  return schedules.some((s) => s.status === 'active') ? 'active' : 'inactive';
}

export default async function pipelineRoutes(app: App, ctx: AppContext): Promise<void> {
  const { project } = ctx;
  const engine = () => ctx.services.engine as Engine | undefined;

  const schedulesByPipeline = async (): Promise<Map<string, ScheduleRow[]>> => {
    const all = await ctx.store.schedules.list({});
    const map = new Map<string, ScheduleRow[]>();
    for (const s of all.rows) if (s.pipeline_uuid) map.set(s.pipeline_uuid, [...(map.get(s.pipeline_uuid) ?? []), s]);
    return map;
  };

  /**
   * Mage's pipeline `status: active|inactive`: every trigger of the pipeline gets that status. The triggers are
   * written back to triggers.yaml as a trigger update through the API would be, and the scheduler is told.
   */
  const setTriggerStatuses = async (pipelineUuid: string, status: 'active' | 'inactive'): Promise<void> => {
    const changed: ScheduleRow[] = [];
    for (const s of await ctx.store.schedules.listForPipeline(pipelineUuid)) {
      if (s.status === status) continue;
      const row = await ctx.store.schedules.update(s.id, { status, ...(status === 'active' ? { last_enabled_at: new Date() } : {}) });
      if (row) changed.push(row);
    }
    if (changed.length === 0) return;
    try {
      for (const row of changed) writeBackTrigger(project, row);
    } catch (err) {
      fileError(err);
    }
    const scheduler = ctx.services.scheduler as SchedulerService | undefined;
    scheduler?.wake('triggers');
    if (status === 'active') await scheduler?.admission.admit(pipelineUuid);
  };

  app.get(
    '/api/pipelines',
    { config: { resource: 'pipelines', action: 'list' }, schema: { tags: ['pipelines'], summary: 'List pipelines.', querystring: Type.Object({}, { additionalProperties: true }) } },
    async (request) => {
      const q = splitMageQuery(request.query as Record<string, unknown>);
      const p = paging(q);
      const search = firstString(q, 'search')?.toLowerCase();
      const tags = stringList(q, 'tag');
      const types = stringList(q, 'type');
      const statuses = stringList(q, 'status');
      const includeSchedules = flag(q, 'include_schedules', false);
      const order = orderBy(q);
      for (const o of order) {
        const col = o.replace(/^-/, '').split(/\s+/)[0];
        if (!ORDERABLE.includes(col)) throw badRequest(`Cannot order pipelines by "${col}"; use one of ${ORDERABLE.join(', ')}.`);
      }
      const schedules = statuses || includeSchedules || order.some((o) => /triggers|status/.test(o)) ? await schedulesByPipeline() : new Map<string, ScheduleRow[]>();
      type Entry = { item: Record<string, unknown>; pipeline?: PipelineConfig };
      const entries: Entry[] = [];
      for (const uuid of listPipelineUuids(project)) {
        let pipeline: PipelineConfig;
        try {
          pipeline = loadPipeline(project, uuid);
        } catch (err) {
          // Mage lists a pipeline whose config fails to load as type "invalid".
          entries.push({ item: { uuid, name: uuid, type: 'invalid', blocks: [], tags: [], error: (err as Error).message, updated_at: null } });
          continue;
        }
        if (search && ![pipeline.uuid, pipeline.name, pipeline.description ?? ''].some((s) => String(s).toLowerCase().includes(search))) continue;
        if (tags && !tags.some((t) => (pipeline.tags ?? []).includes(t))) continue;
        if (types && !types.includes(pipeline.type)) continue;
        const own = schedules.get(uuid) ?? [];
        if (statuses && !statuses.includes(scheduleStatus(own))) continue;
        const view: PipelineViewOptions = { content: false, outputs: false, extensions: false, schedules: includeSchedules ? own : undefined };
        entries.push({ item: await presentPipeline(project, pipeline, view), pipeline });
      }
      const key = (e: Entry, col: string): string | number => {
        if (col === 'blocks') return (e.item.blocks as unknown[]).length;
        if (col === 'triggers') return (schedules.get(String(e.item.uuid)) ?? []).length;
        if (col === 'status') return scheduleStatus(schedules.get(String(e.item.uuid)) ?? []);
        return String(e.item[col] ?? '');
      };
      entries.sort((a, b) => {
        for (const o of order.length ? order : ['uuid']) {
          const [raw, dir] = o.split(/\s+/);
          const desc = raw.startsWith('-') || dir?.toLowerCase() === 'desc';
          const col = raw.replace(/^-/, '');
          const x = key(a, col);
          const y = key(b, col);
          if (x < y) return desc ? 1 : -1;
          if (x > y) return desc ? -1 : 1;
        }
        return 0;
      });
      const { page, count, next } = pageList(entries, p);
      // Mage's PipelineResource computes `next` as `limit and ...`: null when no _limit was asked for.
      return listEnvelope('pipelines', page.map((e) => e.item), { count, results: page.length, next: p.limit === undefined ? null : next });
    },
  );

  app.get(
    '/api/pipelines/:uuid',
    {
      config: { resource: 'pipelines', action: 'detail' },
      schema: { tags: ['pipelines'], summary: 'One pipeline with block content and outputs.', params: UuidParams, querystring: Type.Object({}, { additionalProperties: true }) },
    },
    async (request, reply) => {
      const q = splitMageQuery(request.query as Record<string, unknown>);
      const pipeline = await mapProjectErrors(() => loadPipeline(project, request.params.uuid));
      sendEtag(reply, await mapProjectErrors(() => pipelineEtag(project, pipeline)));
      const maxRows = firstString(q, 'max_results_for_block_outputs');
      if (maxRows !== undefined && !/^\d+$/.test(maxRows)) throw badRequest('max_results_for_block_outputs must be a non-negative integer.');
      const view: PipelineViewOptions = {
        content: flag(q, 'includes_content', true),
        outputs: flag(q, 'includes_outputs', true),
        extensions: flag(q, 'includes_extensions', true),
        maxOutputRows: maxRows !== undefined ? Math.min(Number(maxRows), 1000) : 10,
        schedules: flag(q, 'include_schedules', false) ? (await schedulesByPipeline()).get(pipeline.uuid) ?? [] : undefined,
      };
      return itemEnvelope('pipeline', await presentPipeline(project, pipeline, view));
    },
  );

  app.post(
    '/api/pipelines',
    { config: { resource: 'pipelines', action: 'create' }, schema: { tags: ['pipelines'], summary: 'Create a pipeline.', body: PipelineCreate } },
    async (request) => {
      const input = request.body.pipeline;
      const pipeline = await mapProjectErrors(() => {
        const source = input.clone_pipeline_uuid ? loadPipeline(project, input.clone_pipeline_uuid) : undefined;
        const created = createPipeline(project, { name: input.name, type: input.type ?? source?.type, description: input.description ?? source?.description ?? null, tags: input.tags ?? source?.tags ?? [] });
        return source ? clonePipelineInto(project, source, created) : created;
      });
      return itemEnvelope('pipeline', await presentPipeline(project, pipeline, { content: false, outputs: false, extensions: false }));
    },
  );

  app.put(
    '/api/pipelines/:uuid',
    {
      config: { resource: 'pipelines', action: 'update' },
      schema: { tags: ['pipelines'], summary: 'Update, rename, reorder or edit block content (?update_content=true).', params: UuidParams, body: PipelineUpdate, querystring: Type.Object({}, { additionalProperties: true }) },
    },
    async (request, reply) => {
      const q = splitMageQuery(request.query as Record<string, unknown>);
      const payload = request.body.pipeline as Record<string, unknown>;
      const updateContent = flag(q, 'update_content', false);
      const { status, pipeline_runs: runs, pipeline_schedule_id: scheduleId, name, ...fields } = payload;
      const before = await mapProjectErrors(() => loadPipeline(project, request.params.uuid));
      if (status === 'active' || status === 'inactive') {
        // Refused before anything changes, rather than after the database has the new statuses.
        try {
          assertTriggerFileWritable(project, before.uuid);
        } catch (err) {
          fileError(err);
        }
      }
      // applyPipelineUpdate commits into the object it is given, so the old uuid is kept aside for the rename.
      const oldUuid = before.uuid;
      // The rename goes last, so a refused field or block edit leaves the folder where the database expects it;
      // the new name is checked first, so a refused rename leaves the other fields unsaved.
      const updated = await mapProjectErrors(() => {
        // In the same synchronous step as the writes below, so no other request of this process writes between.
        checkIfMatch(request, pipelineEtag(project, before), `Pipeline ${oldUuid}`);
        if (typeof name === 'string' && name !== before.name) {
          const newUuid = checkNameBytes('Pipeline', cleanName(name));
          if (newUuid !== oldUuid && pipelineExists(project, newUuid)) {
            throw new PipelineExistsError(newUuid, `Pipeline ${newUuid} already exists. Choose a different name.`);
          }
        }
        const edited = applyPipelineUpdate(project, before, fields, { updateContent });
        return name === undefined ? edited : applyPipelineUpdate(project, edited, { name });
      });
      if (updated.uuid !== oldUuid) await ctx.store.renamePipeline(oldUuid, updated.uuid);
      if (status === 'active' || status === 'inactive') {
        await setTriggerStatuses(updated.uuid, status);
      } else if (status === 'cancelled') {
        const eng = engine();
        let ids: number[];
        if (Array.isArray(runs) && runs.length) ids = (runs as Array<{ id: number }>).map((r) => r.id);
        else {
          const { rows } = await ctx.store.pipelineRuns.list({
            pipelineUuids: [updated.uuid],
            statuses: ['initial', 'running'],
            pipelineScheduleId: typeof scheduleId === 'number' ? scheduleId : undefined,
          });
          ids = rows.map((r) => r.id);
        }
        for (const id of ids) {
          const run = await ctx.store.pipelineRuns.get(id);
          if (run && run.pipeline_uuid === updated.uuid) await eng?.cancelRun(id);
        }
      }
      sendEtag(reply, await mapProjectErrors(() => pipelineEtag(project, updated)));
      return itemEnvelope('pipeline', await presentPipeline(project, updated, { content: false, outputs: false, extensions: true }));
    },
  );

  app.delete(
    '/api/pipelines/:uuid',
    { config: { resource: 'pipelines', action: 'delete' }, schema: { tags: ['pipelines'], summary: 'Delete a pipeline folder (block files are kept).', params: UuidParams } },
    async (request) => {
      const pipeline = await mapProjectErrors(() => loadPipeline(project, request.params.uuid));
      const presented = await presentPipeline(project, pipeline, { content: false, outputs: false, extensions: true });
      await mapProjectErrors(() => deletePipeline(project, pipeline.uuid));
      // Mage presents the pipeline after removing its folder: updated_at (its metadata.yaml's mtime) is null.
      return itemEnvelope('pipeline', { ...presented, updated_at: null });
    },
  );

}

/**
 * Mage's clone: the new pipeline gets the source's blocks and settings (the block files are shared, as in
 * Mage, since block files live at the project level).
 */
function clonePipelineInto(project: Project, source: PipelineConfig, created: PipelineConfig): PipelineConfig {
  const copy: PipelineConfig = structuredClone({ ...source, uuid: created.uuid, name: created.name, created_at: created.created_at, description: created.description, tags: created.tags });
  for (const c of BLOCK_COLLECTIONS) copy[c] = structuredClone(source[c] ?? []);
  savePipeline(project, copy);
  return loadPipeline(project, created.uuid);
}
