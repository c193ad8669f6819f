/**
 * `pipeline_triggers` under a pipeline (mage-api.md §3.12): `GET` lists the entries of its triggers.yaml;
 * `POST` with `{"pipeline_trigger": {"pipeline_schedule_id": N}}` saves that trigger into the file (whatever the
 * save-in-code setting). Tokens are never in the file (only their hashes are stored). A file that cannot be
 * read is answered 422 with the parser's message.
 */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { ApiError, badRequest, notFound } from '../errors.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import { mapProjectErrors } from '../projectErrors.js';
import { schedulerOf } from './pipelineSchedules.js';
import { loadPipeline } from '../../project/pipeline.js';
import { readTriggers, TriggerFileError, writeTriggers } from '../../project/triggersYaml.js';
import { entryFromSchedule } from '../../scheduler/triggerFiles.js';

const UuidParams = Type.Object({ uuid: Type.String({ minLength: 1, maxLength: 255 }) });

function readOrFail(ctx: AppContext, uuid: string) {
  try {
    return readTriggers(ctx.project, uuid);
  } catch (err) {
    if (err instanceof TriggerFileError) throw new ApiError(422, 'trigger_file_invalid', err.message);
    throw err;
  }
}

export default async function pipelineTriggerRoutes(app: App, ctx: AppContext): Promise<void> {
  app.get(
    '/api/pipelines/:uuid/pipeline_triggers',
    { config: { resource: 'pipeline_schedules', action: 'list' }, schema: { tags: ['pipeline_schedules'], summary: "The pipeline's triggers.yaml entries.", params: UuidParams } },
    async (request) => {
      await mapProjectErrors(() => loadPipeline(ctx.project, request.params.uuid));
      const entries = readOrFail(ctx, request.params.uuid).map((t) => ({ ...t, token: null }));
      const problems = (ctx.services.scheduler ? schedulerOf(ctx).files.errors.get(request.params.uuid) : undefined) ?? [];
      return listEnvelope('pipeline_triggers', entries, { count: entries.length, next: false, errors: problems });
    },
  );

  app.post(
    '/api/pipelines/:uuid/pipeline_triggers',
    {
      config: { resource: 'pipeline_schedules', action: 'update' },
      schema: {
        tags: ['pipeline_schedules'],
        summary: 'Save a trigger into triggers.yaml.',
        params: UuidParams,
        body: Type.Object(
          {
            pipeline_trigger: Type.Object({ pipeline_schedule_id: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
            api_key: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const uuid = request.params.uuid;
      await mapProjectErrors(() => loadPipeline(ctx.project, uuid));
      const schedule = await ctx.store.schedules.get(request.body.pipeline_trigger.pipeline_schedule_id);
      if (!schedule) throw notFound(`Trigger ${request.body.pipeline_trigger.pipeline_schedule_id} not found.`);
      if (schedule.pipeline_uuid !== uuid) throw badRequest(`Trigger ${schedule.id} belongs to pipeline ${schedule.pipeline_uuid}, not ${uuid}.`);
      const triggers = readOrFail(ctx, uuid);
      const index = triggers.findIndex((t) => t.name === schedule.name);
      const entry = entryFromSchedule(schedule, index >= 0 ? triggers[index] : undefined);
      if (index >= 0) triggers[index] = entry;
      else triggers.push(entry);
      writeTriggers(ctx.project, uuid, triggers);
      return itemEnvelope('pipeline_trigger', entry);
    },
  );
}
