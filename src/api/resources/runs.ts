/**
 * The synchronous block run of Mage Pro's cluster API (mage-api.md §4, with the contract of issue #4):
 * `POST /api/runs/{token}` or `POST /api/runs` with `Authorization: Bearer <token>` runs one block of a pipeline
 * on the warm runtimes and answers its output in the same response, `{"run": {"output": [...]}}`.
 *
 * - Authentication is the token of an API trigger of the pipeline named in the body (not a user session):
 *   missing or malformed (see TOKEN_PATTERN) is 401 before any lookup; a token that is no API trigger of that
 *   pipeline is 404, as are an unknown project, pipeline or block.
 * - A block that raises answers 500 `block_execution_failed` with the exception's class, message, the block's
 *   own traceback lines and the block run id (null without `record`).
 * - The request's time limit (BLOCKFLOW_RUNS_TIMEOUT_SECONDS, default 60, at most 600; a block's own `timeout`
 *   when shorter) answers 504 `timeout` and stops the block; a client that disconnects cancels it.
 * - A body nested deeper than BLOCKFLOW_JSON_MAX_DEPTH (default 64) or holding more than BLOCKFLOW_JSON_MAX_VALUES
 *   values is a 400 naming the limit, from the server's JSON parser (src/api/jsonLimits.ts), before this route runs.
 * - Request bodies above BLOCKFLOW_RUNS_REQUEST_LIMIT (default 1 MiB) are 413; a response above
 *   BLOCKFLOW_RUNS_RESPONSE_LIMIT (default 10 MiB) is a 500 `output_too_large`, never a truncated output.
 */
import { randomBytes } from 'node:crypto';
import { sep } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { ApiError, invalidToken, notFound, unauthenticated } from '../errors.js';
import { toApiError } from '../projectErrors.js';
import type { RuntimeRegistry } from '../../runtimes/registry.js';
import type { Project } from '../../project/projectConfig.js';
import { isWellFormedToken, RunBodySchema, runOptions, runsSettingsFromEnv, type RunBody } from '../../runs/contract.js';
import { PipelineCache, RunTargetNotFound } from '../../runs/pipelineCache.js';
import { ExecutionClock, recordRun, type RecordedRun } from '../../runs/record.js';
import { executeSyncRun, type SyncRunResult } from '../../runs/execute.js';
import { blockFailureBody, runResponse } from '../../runs/output.js';
import { TriggerLookup, type RunTrigger } from '../../runs/trigger.js';

const TokenParams = Type.Object({ token: Type.String() });

/** The token from the URL, else from `Authorization: Bearer`. */
function presentedRunToken(request: FastifyRequest): string | undefined {
  const fromPath = (request.params as { token?: string } | undefined)?.token;
  if (fromPath) return fromPath;
  const header = request.headers.authorization;
  if (typeof header !== 'string' || header === '') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : header.trim();
}

/**
 * Whether a trigger may run pipelines of `project`. A sub-project's triggers carry its folder as repo_path;
 * requests for the main project refuse those, and accept every other trigger (rows imported from Mage carry
 * the repo path of the machine they came from).
 */
function triggerOfProject(schedule: RunTrigger, project: Project, main: Project): boolean {
  const repo = schedule.repo_path;
  if (project !== main) return repo === project.root;
  return !(repo && repo.startsWith(main.root + sep));
}

export default async function runRoutes(app: App, ctx: AppContext): Promise<void> {
  const settings = runsSettingsFromEnv();
  const pipelines = new PipelineCache(ctx.project);
  const clock = new ExecutionClock();
  const triggers = new TriggerLookup(ctx.store);
  const secrets = ctx.services.secrets as { get(name: string): Promise<string | undefined> } | undefined;
  const getSecret = secrets ? (name: string) => secrets.get(name) : undefined;

  const checkToken = async (request: FastifyRequest): Promise<void> => {
    const token = presentedRunToken(request);
    if (token === undefined) throw unauthenticated('Authentication required: put the API trigger token in the URL (/api/runs/{token}) or send Authorization: Bearer <token>.');
    if (!isWellFormedToken(token)) throw invalidToken('Invalid token: a trigger token is 16 to 256 characters of A-Z, a-z, 0-9, - and _.');
  };

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = presentedRunToken(request) as string;
    const options = runOptions(request.body as RunBody);
    const schedule = await triggers.find(token);
    if (!schedule || schedule.pipeline_uuid !== options.pipelineUuid) {
      throw notFound(`No API trigger of pipeline ${options.pipelineUuid} has this token.`);
    }
    let target;
    try {
      const project = pipelines.project(options.project);
      if (!triggerOfProject(schedule, project, ctx.project)) {
        throw notFound(`No API trigger of pipeline ${options.pipelineUuid} in project ${options.project ?? '(main)'} has this token.`);
      }
      target = pipelines.pipeline(project, options.pipelineUuid);
    } catch (err) {
      if (err instanceof RunTargetNotFound) throw notFound(err.message);
      // An unreadable metadata.yaml is a 422 naming the problem, as in the pipelines API.
      throw toApiError(err);
    }
    const block = target.byUuid.get(options.blockUuid);
    if (!block) throw notFound(`Block ${options.blockUuid} not found in pipeline ${options.pipelineUuid}.`);
    const runtimes = ctx.services.runtimes as RuntimeRegistry;
    const isMarkdown = block.language === 'markdown' || block.type === 'markdown';
    if (!isMarkdown && !runtimes.has(block.language)) {
      throw new ApiError(422, 'record_invalid', `Block ${block.uuid} is written in ${block.language}, which this server cannot run.`);
    }

    const executionDate = clock.next();
    const partition = `${schedule.id}/${executionDate.partitionDate}/${randomBytes(4).toString('hex')}`;
    const controller = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) controller.abort();
    };
    reply.raw.once('close', onClose);
    const startedAt = new Date();
    let result: SyncRunResult;
    try {
      result = await executeSyncRun({
        target,
        block,
        options,
        schedule,
        runtimes,
        getSecret,
        signal: controller.signal,
        timeoutMs: settings.timeoutMs,
        executionDate,
        partition,
      });
    } finally {
      reply.raw.removeListener('close', onClose);
    }

    let recorded: RecordedRun | null = null;
    if (options.record) {
      recorded = await recordRun(
        ctx.store,
        {
          pipelineUuid: target.pipeline.uuid,
          pipelineScheduleId: schedule.id,
          executionDate,
          status: result.status === 'completed' ? 'completed' : result.status === 'cancelled' ? 'cancelled' : 'failed',
          startedAt,
          completedAt: new Date(),
          variables: { ...options.variables, execution_partition: partition },
          blocks: result.blocks.map((b) => ({
            blockUuid: b.blockUuid,
            status: b.status,
            startedAt: b.startedAt,
            completedAt: b.completedAt,
            metrics: b.error
              ? { error: { error: `${b.error.exception}: ${b.error.message}`, errors: b.error.traceback, message: b.error.message, type: b.error.type } }
              : null,
          })),
        },
        clock,
      );
    }

    reply.header('content-type', 'application/json; charset=utf-8');
    if (result.status === 'completed') {
      const body = runResponse(result.outputs ?? [], settings.responseLimitBytes);
      if (!body.ok) return reply.code(500).send({ error: body.error });
      return reply.code(200).send(body.payload);
    }
    const failed = result.failedBlock as string;
    const ids = {
      pipeline_run_id: recorded?.pipelineRunId ?? null,
      block_run_id: recorded?.blockRunIds.get(failed) ?? null,
    };
    if (result.status === 'timeout') {
      return reply.code(504).send({
        error: { code: 504, type: 'timeout', message: `Block ${failed} did not finish within the time limit and was stopped: ${result.error?.message ?? ''}`.trim(), block_uuid: failed, ...ids },
      });
    }
    if (result.status === 'cancelled') {
      return reply.code(499).send({ error: { code: 499, type: 'cancelled', message: 'The client disconnected; the block was cancelled.', block_uuid: failed, ...ids } });
    }
    return reply.code(500).send({ error: blockFailureBody(failed, result.error!, ids) });
  };

  const routeOptions = {
    config: { public: true },
    bodyLimit: settings.requestLimitBytes,
    onRequest: checkToken,
    schema: {
      tags: ['runs'],
      summary: 'Run one block synchronously and return its output (Mage Pro /api/runs).',
      security: [],
      body: RunBodySchema,
    },
  };
  app.post('/api/runs/:token', { ...routeOptions, schema: { ...routeOptions.schema, params: TokenParams } }, handler);
  app.post('/api/runs', routeOptions, handler);
}
