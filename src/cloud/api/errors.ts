/**
 * Errors of the Cloud API. The body is `{"error": {"code", "message", "type"}}` with the HTTP status equal to
 * the code: the spec's client reads `response.json().get('error')` on login and `raise_for_status()` elsewhere.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError } from '../clusterConfig.js';
import { ClusterNotFound, VersionConflict } from '../clusterService.js';

export class CloudApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = 'error',
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const notFound = (what = 'not found') => new CloudApiError(404, what, 'not_found');

export function errorBody(status: number, message: string, type: string, extra: Record<string, unknown> = {}) {
  return { error: { code: status, message, type, ...extra } };
}

export function cloudErrorHandler(err: FastifyError | Error, _req: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof CloudApiError) {
    void reply.status(err.status).send(errorBody(err.status, err.message, err.type, err.extra));
  } else if (err instanceof ConfigError) {
    void reply.status(422).send(errorBody(422, err.message, 'invalid_config', { errors: err.problems }));
  } else if (err instanceof VersionConflict) {
    void reply
      .status(409)
      .send(errorBody(409, err.message, 'version_conflict', { current_version: err.current, given_version: err.given }));
  } else if (err instanceof ClusterNotFound) {
    void reply.status(404).send(errorBody(404, 'cluster not found', 'not_found'));
  } else if ('validation' in err && (err as FastifyError).validation) {
    void reply.status(400).send(errorBody(400, err.message, 'bad_request'));
  } else if ((err as FastifyError).statusCode && (err as FastifyError).statusCode! < 500) {
    const status = (err as FastifyError).statusCode!;
    void reply.status(status).send(errorBody(status, err.message, 'bad_request'));
  } else {
    _req.log.error(err);
    void reply.status(500).send(errorBody(500, 'internal error', 'internal'));
  }
}
