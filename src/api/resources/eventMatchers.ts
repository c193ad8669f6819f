/**
 * Mage's legacy event matcher routes (mage-api.md §1.2 row 3, `mage_ai/server/api/events.py`):
 * `GET/POST /api/event_matchers` and `GET/PUT/DELETE /api/event_matchers/{id}`. Bodies are
 * `{"event_matcher": {name, event_type, pattern, pipeline_schedule_ids}}`; answers `{"event_matcher": {...}}` and
 * `{"event_matchers": [...]}` (no metadata, as Mage's legacy handlers). `pipeline_schedule_ids` replaces the
 * triggers the matcher is linked to; detail with `?include_pipeline_schedules=true` adds them.
 *
 * Unlike Mage, these routes need a session (Mage's legacy handlers check none), unknown trigger ids are a 404
 * naming them rather than being dropped, and an unknown matcher is a 404 rather than a 500.
 */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { notFound } from '../errors.js';
import { flag, splitMageQuery } from '../query.js';
import { presentMatcher, presentSchedules } from './pipelineSchedules.js';
import type { EventMatcherRow } from '../../store/eventMatchers.js';

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,15}$' }) });
const JsonMap = Type.Record(Type.String(), Type.Unknown());
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const MatcherFields = Type.Object(
  {
    name: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
    event_type: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
    pattern: Type.Optional(Nullable(JsonMap)),
    pipeline_schedule_ids: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { maxItems: 1000 })),
    // Read-only fields a client may send back unchanged.
    id: Type.Optional(Type.Unknown()),
    created_at: Type.Optional(Type.Unknown()),
    updated_at: Type.Optional(Type.Unknown()),
    repo_path: Type.Optional(Type.Unknown()),
    pipeline_schedules: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
const Body = Type.Object({ event_matcher: MatcherFields }, { additionalProperties: false });

export default async function eventMatcherRoutes(app: App, ctx: AppContext): Promise<void> {
  const { store } = ctx;

  const load = async (id: string): Promise<EventMatcherRow> => {
    const row = await store.eventMatchers.get(Number(id));
    if (!row) throw notFound(`Event matcher ${id} not found.`);
    return row;
  };

  const checkSchedules = async (ids: readonly number[] | undefined): Promise<void> => {
    if (!ids?.length) return;
    const found = new Set((await store.schedules.getMany([...new Set(ids)])).map((s) => s.id));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length) throw notFound(`Trigger(s) ${[...new Set(missing)].join(', ')} not found (pipeline_schedule_ids).`);
  };

  const present = async (row: EventMatcherRow, withSchedules: boolean) => {
    if (!withSchedules) return presentMatcher(row);
    const ids = (await store.eventMatchers.scheduleIdsFor([row.id])).get(row.id) ?? [];
    const schedules = await store.schedules.getMany(ids);
    return { ...presentMatcher(row), pipeline_schedules: await presentSchedules(ctx, schedules.sort((a, b) => a.id - b.id)) };
  };

  app.get(
    '/api/event_matchers',
    { config: { resource: 'event_matchers', action: 'list' }, schema: { tags: ['event_matchers'], summary: 'Every event matcher (legacy Mage route).' } },
    async () => ({ event_matchers: (await store.eventMatchers.list()).map(presentMatcher) }),
  );

  app.post(
    '/api/event_matchers',
    { config: { resource: 'event_matchers', action: 'create' }, schema: { tags: ['event_matchers'], summary: 'Create an event matcher, optionally linked to triggers.', body: Body } },
    async (request) => {
      const { name, event_type, pattern, pipeline_schedule_ids: scheduleIds } = request.body.event_matcher;
      await checkSchedules(scheduleIds);
      const row = await store.transaction(async (tx) => {
        const created = await tx.eventMatchers.create({ name, event_type, pattern: pattern as EventMatcherRow['pattern'], repo_path: ctx.project.root });
        if (scheduleIds) await tx.eventMatchers.setSchedules(created.id, scheduleIds);
        return created;
      });
      return { event_matcher: presentMatcher(row) };
    },
  );

  app.get(
    '/api/event_matchers/:id',
    { config: { resource: 'event_matchers', action: 'detail' }, schema: { tags: ['event_matchers'], summary: 'One event matcher; `include_pipeline_schedules=true` adds its triggers.', params: IdParams } },
    async (request) => {
      const q = splitMageQuery(request.query as Record<string, unknown>);
      return { event_matcher: await present(await load(request.params.id), flag(q, 'include_pipeline_schedules', false)) };
    },
  );

  app.put(
    '/api/event_matchers/:id',
    { config: { resource: 'event_matchers', action: 'update' }, schema: { tags: ['event_matchers'], summary: 'Update an event matcher; `pipeline_schedule_ids` replaces its triggers.', params: IdParams, body: Body } },
    async (request) => {
      const current = await load(request.params.id);
      const { name, event_type, pattern, pipeline_schedule_ids: scheduleIds } = request.body.event_matcher;
      await checkSchedules(scheduleIds);
      const row = await store.transaction(async (tx) => {
        const updated = await tx.eventMatchers.update(current.id, { name, event_type, pattern: pattern as EventMatcherRow['pattern'] });
        if (scheduleIds) await tx.eventMatchers.setSchedules(current.id, scheduleIds);
        return updated;
      });
      if (!row) throw notFound(`Event matcher ${request.params.id} not found.`);
      return { event_matcher: presentMatcher(row) };
    },
  );

  app.delete(
    '/api/event_matchers/:id',
    { config: { resource: 'event_matchers', action: 'delete' }, schema: { tags: ['event_matchers'], summary: 'Delete an event matcher and its links to triggers.', params: IdParams } },
    async (request) => {
      const current = await load(request.params.id);
      await store.eventMatchers.delete(current.id);
      return { event_matcher: presentMatcher(current) };
    },
  );
}
