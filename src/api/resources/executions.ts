/**
 * Interactive executions, the server side of the notebook (docs/architecture.md, "Interactive executions"):
 * - `POST /api/pipelines/{uuid}/executions` starts one (editor role or above): a block, with its upstream,
 *   incomplete upstream or downstream blocks, or the whole pipeline; `code` runs unsaved editor text;
 * - `GET /api/executions/{id}/events` streams its events (Server-Sent Events, replay with Last-Event-ID);
 * - `GET /api/executions/{id}` is its snapshot, `GET /api/pipelines/{uuid}/executions?status=running` the
 *   re-attach list, `DELETE /api/executions/{id}` interrupts it.
 * An execution belongs to the user who started it: for anyone else, whatever their role, it does not exist
 * (404). Without authentication (REQUIRE_USER_AUTHENTICATION=0) every request shares one anonymous scope.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { ApiError, badRequest, notFound, unauthenticated } from '../errors.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import { splitMageQuery, stringList } from '../query.js';
import { mapProjectErrors } from '../projectErrors.js';
import { loadPipeline, pipelineExists } from '../../project/pipeline.js';
import type { ExecutionService } from '../../executions/service.js';
import { EXECUTION_STATUSES, type ExecutionStatus } from '../../executions/execution.js';
import { ExecutionRequestError } from '../../executions/plan.js';
import { parseLastEventId, serveEventStream } from '../../executions/sse.js';

const PipelineParams = Type.Object({ uuid: Type.String({ minLength: 1, maxLength: 255 }) });
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

const ExecutionCreate = Type.Object(
  {
    execution: Type.Object(
      {
        block_uuid: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
        mode: Type.Optional(Type.Union([Type.Literal('block'), Type.Literal('pipeline')])),
        code: Type.Optional(Type.String({ maxLength: 5 * 1024 * 1024 })),
        run_upstream: Type.Optional(Type.Boolean()),
        run_incomplete_upstream: Type.Optional(Type.Boolean()),
        run_downstream: Type.Optional(Type.Boolean()),
        run_tests: Type.Optional(Type.Boolean()),
        variables: Type.Optional(Type.Object({}, { additionalProperties: true })),
      },
      { additionalProperties: false },
    ),
    api_key: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const ERROR_TYPES: Record<ExecutionRequestError['status'], string> = {
  400: 'invalid_request',
  404: 'record_not_found',
  409: 'execution_running',
  422: 'record_invalid',
  429: 'too_many_executions',
};

export default async function executionRoutes(app: App, ctx: AppContext): Promise<void> {
  const service = (): ExecutionService => {
    const s = ctx.services.executions as ExecutionService | undefined;
    if (!s) throw new ApiError(503, 'service_unavailable', 'Interactive executions are not available on this server: it runs no block runtimes.');
    return s;
  };
  /** The user's scope; every request shares one without authentication. */
  const scopeOf = (request: FastifyRequest): string => {
    if (!ctx.settings.requireAuth) return 'anonymous';
    const user = request.auth?.user;
    if (!user) throw unauthenticated();
    return `user-${user.id}`;
  };
  const ownExecution = (request: FastifyRequest, id: string) => {
    const execution = service().get(scopeOf(request), id);
    if (!execution) throw notFound(`Execution ${id} not found.`);
    return execution;
  };

  // Open event streams would keep the HTTP server from closing: end them first.
  app.addHook('preClose', (done) => {
    (ctx.services.executions as ExecutionService | undefined)?.closeStreams();
    done();
  });

  app.post(
    '/api/pipelines/:uuid/executions',
    {
      config: { resource: 'pipelines', action: 'update' },
      schema: { tags: ['executions'], summary: 'Start an interactive execution of a block, its upstream/downstream blocks, or the pipeline.', params: PipelineParams, body: ExecutionCreate },
    },
    async (request, reply) => {
      const input = request.body.execution;
      const scope = scopeOf(request);
      const pipeline = await mapProjectErrors(() => loadPipeline(ctx.project, request.params.uuid));
      const execution = await mapProjectErrors(() => {
        try {
          return service().start(scope, pipeline, {
            mode: input.mode ?? 'block',
            blockUuid: input.block_uuid ?? null,
            code: input.code ?? null,
            runUpstream: input.run_upstream ?? false,
            runIncompleteUpstream: input.run_incomplete_upstream ?? false,
            runDownstream: input.run_downstream ?? false,
            runTests: input.run_tests ?? false,
            variables: (input.variables ?? {}) as Record<string, unknown>,
          });
        } catch (err) {
          if (err instanceof ExecutionRequestError) throw new ApiError(err.status, ERROR_TYPES[err.status], err.message);
          throw err;
        }
      });
      reply.code(201);
      return itemEnvelope('execution', execution.summary());
    },
  );

  app.get(
    '/api/pipelines/:uuid/executions',
    {
      config: { resource: 'pipelines', action: 'detail' },
      schema: {
        tags: ['executions'],
        summary: 'Your executions of a pipeline, newest first (?status=running for the ones to re-attach to: queued or running).',
        params: PipelineParams,
        querystring: Type.Object({}, { additionalProperties: true }),
      },
    },
    async (request) => {
      const { uuid } = request.params;
      if (!pipelineExists(ctx.project, uuid)) throw notFound(`Pipeline ${uuid} not found.`);
      const wanted = stringList(splitMageQuery(request.query as Record<string, unknown>), 'status');
      let statuses: Set<ExecutionStatus> | undefined;
      if (wanted) {
        statuses = new Set();
        for (const s of wanted) {
          if (s === 'running') statuses.add('queued').add('running');
          else if ((EXECUTION_STATUSES as readonly string[]).includes(s)) statuses.add(s as ExecutionStatus);
          else throw badRequest(`status must be one of ${EXECUTION_STATUSES.join(', ')}; got ${JSON.stringify(s)}.`);
        }
      }
      const items = service().list(scopeOf(request), uuid, statuses).map((e) => e.summary());
      return listEnvelope('executions', items, { count: items.length });
    },
  );

  app.get(
    '/api/executions/:id',
    { config: { resource: 'pipelines', action: 'detail' }, schema: { tags: ['executions'], summary: 'An execution: its status and each block with its status and last outputs.', params: IdParams } },
    async (request) => itemEnvelope('execution', ownExecution(request, request.params.id).snapshot()),
  );

  app.get(
    '/api/executions/:id/events',
    {
      config: { resource: 'pipelines', action: 'detail' },
      schema: {
        tags: ['executions'],
        summary: 'The events of an execution (text/event-stream); Last-Event-ID (or ?last_event_id=) replays from the next one.',
        params: IdParams,
        querystring: Type.Object({}, { additionalProperties: true }),
      },
    },
    async (request, reply) => {
      const execution = ownExecution(request, request.params.id);
      const s = service();
      const lastEventId = parseLastEventId(request.headers['last-event-id']) ?? parseLastEventId((request.query as Record<string, unknown>).last_event_id);
      reply.hijack();
      const end = serveEventStream(execution, reply.raw, {
        heartbeatMs: s.settings.heartbeatMs,
        lastEventId,
        maxBacklogBytes: s.settings.maxStreamBacklogBytes,
        headers: { 'access-control-allow-origin': '*' },
      });
      if (reply.raw.writableEnded || reply.raw.destroyed) return;
      const untrack = s.trackStream(end);
      reply.raw.once('close', untrack);
    },
  );

  app.delete(
    '/api/executions/:id',
    { config: { resource: 'pipelines', action: 'update' }, schema: { tags: ['executions'], summary: 'Interrupt an execution: its running block is stopped.', params: IdParams } },
    async (request) => {
      const execution = ownExecution(request, request.params.id);
      await service().cancel(execution.scope, execution.id);
      return itemEnvelope('execution', execution.snapshot());
    },
  );
}
