/**
 * API errors. Mage's body shape, `{"error": {"code", "message", "type", "errors"?}}`, with one deliberate
 * difference from Mage: the HTTP status equals `code` (Mage answers 200 and puts the code in the body).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

export interface ApiErrorBody {
  code: number;
  message: string;
  type: string;
  errors?: unknown;
  error_id?: string;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly type: string,
    message: string,
    readonly errors?: unknown,
  ) {
    super(message);
  }

  toBody(): ApiErrorBody {
    return { code: this.code, message: this.message, type: this.type, ...(this.errors !== undefined ? { errors: this.errors } : {}) };
  }
}

/** Mage's predefined errors (mage_ai/api/errors.py), plus the ones Mage reports as uncaught exceptions. */
export const notFound = (message = 'Record not found.') => new ApiError(404, 'record_not_found', message);
export const badRequest = (message: string, errors?: unknown) => new ApiError(400, 'invalid_request', message, errors);
export const recordInvalid = (message: string, errors?: unknown) => new ApiError(422, 'record_invalid', message, errors);
export const conflict = (message: string) => new ApiError(409, 'conflict', message);
export const forbidden = (message: string) => new ApiError(403, 'unauthorized_access', message);
export const invalidToken = (message = 'Invalid token.') => new ApiError(401, 'invalid_oauth_token', message);
export const expiredToken = () => new ApiError(401, 'expired_oauth_token', 'Token has expired.');
export const unauthenticated = (message = 'Authentication required: send a session token (Authorization: Bearer, OAUTH-TOKEN header or oauth_token cookie).') =>
  new ApiError(401, 'unauthenticated', message);

export function sendError(reply: FastifyReply, err: ApiError): FastifyReply {
  return reply.code(err.code).type('application/json').send({ error: err.toBody() });
}

/** Turns Fastify's validation details into one readable sentence naming each bad field. */
function describeValidation(err: FastifyError): { message: string; errors: unknown } {
  const details = (err.validation ?? []).map((v) => {
    const where = `${err.validationContext ?? 'request'}${v.instancePath ? v.instancePath.replaceAll('/', '.') : ''}`;
    const params = v.params as Record<string, unknown>;
    if (v.keyword === 'additionalProperties') return `${where}.${String(params.additionalProperty)} is not a known field`;
    if (v.keyword === 'required') return `${where}.${String(params.missingProperty)} is required`;
    return `${where} ${v.message ?? 'is invalid'}`;
  });
  return { message: details.join('; ') || err.message, errors: details };
}

/**
 * The one error handler: known errors keep their status; body validation and JSON syntax errors become 400
 * with a message naming the problem; anything else is a 500 with an error id that is also in the server log,
 * never a stack trace.
 */
export function handleError(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof ApiError) return sendError(reply, err);
  const fe = err as FastifyError;
  if (fe.validation) {
    const { message, errors } = describeValidation(fe);
    return sendError(reply, new ApiError(400, 'invalid_request', message, errors));
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (err instanceof SyntaxError && fe.statusCode === 400)) {
    return sendError(reply, new ApiError(400, 'invalid_json', `Request body is not valid JSON: ${err.message}`));
  }
  if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return sendError(reply, new ApiError(400, 'invalid_json', 'Request body is empty but Content-Type is application/json.'));
  }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return sendError(reply, new ApiError(413, 'payload_too_large', `Request body is larger than the limit of ${request.routeOptions.bodyLimit ?? 'the server'} bytes.`));
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return sendError(reply, new ApiError(415, 'unsupported_media_type', `Unsupported Content-Type: ${request.headers['content-type'] ?? '(none)'}; send application/json.`));
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return sendError(reply, new ApiError(fe.statusCode, 'invalid_request', err.message));
  }
  const errorId = randomBytes(6).toString('hex');
  request.log.error({ err, errorId }, 'unexpected error');
  return sendError(reply, new ApiError(500, 'server_error', `Unexpected server error (error id ${errorId}); the server log has the details.`));
}
