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

type ValidationDetail = NonNullable<FastifyError['validation']>[number];

/**
 * One sentence for the alternatives of a failed `anyOf` at one field: Ajv reports each branch separately
 * ("must be equal to constant" once per allowed value, then "must match a schema in anyOf"), which names
 * neither the allowed values nor the allowed types. Literal branches become "must be one of a, b, c";
 * type branches "must be string or null"; other branches keep Ajv's words.
 */
function describeAlternatives(where: string, branches: ValidationDetail[]): string {
  const allowed: string[] = [];
  const other: string[] = [];
  for (const b of branches) {
    const params = b.params as Record<string, unknown>;
    if (b.keyword === 'const') allowed.push(JSON.stringify(params.allowedValue));
    else if (b.keyword === 'enum' && Array.isArray(params.allowedValues)) allowed.push(...params.allowedValues.map((v) => JSON.stringify(v)));
    else if (b.keyword === 'type') other.push(`${String(params.type)}`);
    else if (b.message) other.push(b.message.replace(/^must (be )?/, ''));
  }
  const parts: string[] = [];
  if (allowed.length) parts.push(`one of ${[...new Set(allowed)].join(', ')}`);
  parts.push(...new Set(other));
  return `${where} must be ${parts.join(' or ') || 'valid'}`;
}

/**
 * Turns Fastify's validation details into one readable sentence naming each bad field: unknown and missing
 * fields by name, and for a field that may take several forms the forms it may take.
 */
function describeValidation(err: FastifyError): { message: string; errors: unknown } {
  const context = err.validationContext ?? 'request';
  const whereOf = (v: ValidationDetail) => `${context}${v.instancePath ? v.instancePath.replaceAll('/', '.') : ''}`;
  const all = err.validation ?? [];
  // A failed anyOf is followed by one error per branch, under its schemaPath (`#/.../anyOf/<i>/...`). When a
  // branch failed deeper inside the value, the value was meant for that branch: its inner errors say what is
  // wrong. Otherwise the branches are summed up as the forms the field may take.
  const consumed = new Set<ValidationDetail>();
  const summary = new Map<ValidationDetail, string>();
  for (const a of all) {
    if (a.keyword !== 'anyOf') continue;
    const branches = all.filter((b) => b !== a && b.schemaPath.startsWith(`${a.schemaPath}/`));
    const here = branches.filter((b) => b.instancePath === a.instancePath);
    for (const b of here) consumed.add(b);
    if (branches.length > here.length) consumed.add(a);
    else summary.set(a, describeAlternatives(whereOf(a), here));
  }
  const details: string[] = [];
  for (const v of all) {
    if (consumed.has(v)) continue;
    const where = whereOf(v);
    const params = v.params as Record<string, unknown>;
    if (summary.has(v)) details.push(summary.get(v) as string);
    else if (v.keyword === 'additionalProperties') details.push(`${where}.${String(params.additionalProperty)} is not a known field`);
    else if (v.keyword === 'required') details.push(`${where}.${String(params.missingProperty)} is required`);
    else details.push(`${where} ${v.message ?? 'is invalid'}`);
  }
  const unique = [...new Set(details)];
  return { message: unique.join('; ') || err.message, errors: unique };
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
