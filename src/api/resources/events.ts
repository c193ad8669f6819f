/**
 * Event triggers: `POST /api/events` with `{"event": {...}}` starts a run of every active `event` trigger one of
 * whose `event_matchers` matches the event (src/scheduler/eventMatch.ts). The event becomes the run's
 * `event_variables`. Answer: `{"event": {...}, "pipeline_runs": [...]}`. Unlike Mage's legacy handler this
 * route needs a session (role editor), since it starts code.
 */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { presentRuns } from './pipelineRuns.js';
import { schedulerOf } from './pipelineSchedules.js';
import { pipelineExists } from '../../project/pipeline.js';
import { eventMatches } from '../../scheduler/eventMatch.js';
import type { PipelineRunRow } from '../../store/pipelineRuns.js';

const EventBody = Type.Object(
  { event: Type.Record(Type.String(), Type.Unknown()), api_key: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

export default async function eventRoutes(app: App, ctx: AppContext): Promise<void> {
  app.post(
    '/api/events',
    { config: { resource: 'events', action: 'create' }, schema: { tags: ['events'], summary: 'Send an event: runs the event triggers it matches.', body: EventBody } },
    async (request) => {
      const event = request.body.event;
      const { rows } = await ctx.store.schedules.list({ status: ['active'], scheduleType: ['event'] });
      const matchers = await ctx.store.eventMatchers.forSchedules(rows.map((r) => r.id));
      const runs: PipelineRunRow[] = [];
      for (const schedule of rows.sort((a, b) => a.id - b.id)) {
        if (!schedule.pipeline_uuid || !pipelineExists(ctx.project, schedule.pipeline_uuid)) continue;
        if (!(matchers.get(schedule.id) ?? []).some((m) => eventMatches(m.pattern, event))) continue;
        runs.push(await schedulerOf(ctx).triggerRun(schedule, { eventVariables: event }));
      }
      return { event, pipeline_runs: await presentRuns(ctx, runs) };
    },
  );
}
