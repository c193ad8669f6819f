/**
 * The API trigger (mage-api.md §3.4): `POST /api/pipeline_schedules/{id}/pipeline_runs/{token}` and
 * `POST /api/pipeline_schedules/{id}/api_trigger` with `Authorization: Bearer <token>`. No session is needed:
 * the trigger's token is the credential. The run is created and started in this request (subject to the run
 * limits), so its first block starts without waiting for a scheduler tick.
 *
 * Body, either form: `{"pipeline_run": {"variables": {...}, "execution_date"?: "ISO"}}`, or plain top-level
 * keys. Every top-level key other than `pipeline_run` goes into the run's `event_variables` (Mage). Answer:
 * `{"pipeline_run": {...}}`, without `metadata` (Mage).
 *
 * Refusals, in this order: unknown trigger 404; missing or wrong token 401 (compared in constant time with
 * the stored hash); a trigger that is not of type `api` 400; an inactive trigger 409 `trigger_inactive`
 * (Mage activates it silently, mage-ai issue #5607: an operator who switched a trigger off means it); an
 * `execution_partition` variable that is not plain folder names 400 naming it (engine/runVariables.ts); a bad
 * `execution_date` 400; an explicit `execution_date` that already has a run 409. When the trigger's own stored
 * variables carry such a partition (written to the database or triggers.yaml by other means), the run is
 * created and failed at once, and answered with `status: failed` and the reason in `metrics.error`.
 */
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { ApiError, badRequest, conflict, notFound } from '../errors.js';
import { toApiError } from '../projectErrors.js';
import { presentRuns } from './pipelineRuns.js';
import { checkRunVariables, schedulerOf } from './pipelineSchedules.js';
import { pipelineExists } from '../../project/pipeline.js';
import { DuplicateRunError } from '../../store/errors.js';
import { fromDbTime } from '../../store/time.js';
import { triggerTokenMatches } from '../../scheduler/triggerTokens.js';

const Params = Type.Object({ id: Type.String({ maxLength: 20 }) });
const TokenParams = Type.Object({ id: Type.String({ maxLength: 20 }), token: Type.String({ maxLength: 200 }) });
const Body = Type.Optional(Type.Record(Type.String(), Type.Unknown()));

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bearer(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h.trim());
  return m ? m[1] : undefined;
}

export default async function apiTriggerRoutes(app: App, ctx: AppContext): Promise<void> {
  const handle = async (id: string, token: string | undefined, body: Record<string, unknown> | undefined) => {
    if (!/^[0-9]{1,15}$/.test(id)) throw notFound(`Trigger ${id} not found.`);
    const schedule = await ctx.store.schedules.get(Number(id));
    if (!schedule) throw notFound(`Trigger ${id} not found.`);
    if (!token) throw new ApiError(401, 'unauthenticated', 'Send the trigger token in the URL or as Authorization: Bearer <token>.');
    if (!triggerTokenMatches(token, schedule.token_hash)) throw new ApiError(401, 'invalid_trigger_token', `The token does not match trigger ${id}.`);
    if (schedule.schedule_type !== 'api') {
      throw badRequest(`Trigger ${id} is a ${schedule.schedule_type ?? 'time'} trigger; only api triggers start runs through this endpoint.`);
    }
    if (schedule.status !== 'active') {
      throw new ApiError(409, 'trigger_inactive', `Trigger ${id} is inactive; activate it (status: active) before calling it.`);
    }
    if (!schedule.pipeline_uuid || !pipelineExists(ctx.project, schedule.pipeline_uuid)) {
      throw notFound(`Pipeline ${schedule.pipeline_uuid} of trigger ${id} not found.`);
    }
    const payload = body ?? {};
    const runPart = isRecord(payload.pipeline_run) ? payload.pipeline_run : undefined;
    const source = runPart ?? payload;
    const variables = source.variables;
    if (variables !== undefined && variables !== null && !isRecord(variables)) throw badRequest('variables must be an object.');
    checkRunVariables(variables as Record<string, unknown> | null | undefined, runPart ? 'pipeline_run.variables' : 'variables');
    let executionDate: Date | undefined;
    if (source.execution_date !== undefined && source.execution_date !== null) {
      try {
        executionDate = fromDbTime(String(source.execution_date));
      } catch {
        throw badRequest(`execution_date must be an ISO 8601 date; got ${JSON.stringify(source.execution_date)}.`);
      }
    }
    const eventVariables = Object.fromEntries(Object.entries(payload).filter(([k]) => k !== 'pipeline_run'));
    try {
      const run = await schedulerOf(ctx).triggerRun(schedule, {
        executionDate,
        variables: (variables as Record<string, unknown> | null | undefined) ?? undefined,
        eventVariables,
      });
      return { pipeline_run: (await presentRuns(ctx, [run]))[0] };
    } catch (err) {
      if (err instanceof DuplicateRunError) throw conflict(`Trigger ${id} already has a run at ${String(source.execution_date)}.`);
      // A pipeline that no longer loads is a 422 naming the problem; no run was created.
      throw toApiError(err);
    }
  };

  app.post(
    '/api/pipeline_schedules/:id/pipeline_runs/:token',
    {
      config: { public: true },
      schema: { tags: ['pipeline_schedules'], summary: 'API trigger: start a run with the token in the URL.', params: TokenParams, body: Body },
    },
    async (request) => handle(request.params.id, request.params.token, request.body),
  );

  app.post(
    '/api/pipeline_schedules/:id/api_trigger',
    {
      config: { public: true },
      schema: { tags: ['pipeline_schedules'], summary: 'API trigger: start a run with Authorization: Bearer <token>.', params: Params, body: Body },
    },
    async (request) => handle(request.params.id, bearer(request), request.body),
  );
}
