/**
 * `schedulers` (mage-api.md §3.12): `GET /api/schedulers` reports this server's scheduler; `POST` with
 * `{"scheduler": {"action_type": "start"|"stop"}}` starts or stops it. Blockflow adds `is_leader` (whether this
 * process runs the time-trigger loop now), `last_activity`, and the problems it found: `trigger_errors`
 * (triggers it cannot plan) and `trigger_file_errors` (per pipeline, from triggers.yaml).
 */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import { schedulerOf } from './pipelineSchedules.js';

export default async function schedulerRoutes(app: App, ctx: AppContext): Promise<void> {
  const present = () => {
    const s = schedulerOf(ctx);
    return {
      status: s.status(),
      is_leader: s.isLeader(),
      last_activity: s.lastActivity()?.toISOString() ?? null,
      last_error: s.lastError,
      trigger_errors: Object.fromEntries(s.errors),
      trigger_file_errors: Object.fromEntries(s.files.errors),
    };
  };

  app.get('/api/schedulers', { config: { resource: 'schedulers', action: 'list' }, schema: { tags: ['schedulers'], summary: "This server's scheduler." } }, async () =>
    listEnvelope('schedulers', [present()], { count: 1, next: false }),
  );

  app.post(
    '/api/schedulers',
    {
      config: { resource: 'schedulers', action: 'create' },
      schema: {
        tags: ['schedulers'],
        summary: 'Start or stop the scheduler of this server.',
        body: Type.Object(
          {
            scheduler: Type.Object({ action_type: Type.Union([Type.Literal('start'), Type.Literal('stop')]) }, { additionalProperties: false }),
            api_key: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const s = schedulerOf(ctx);
      if (request.body.scheduler.action_type === 'start') await s.start();
      else await s.stop();
      return itemEnvelope('scheduler', present());
    },
  );
}
