/**
 * Builds the Fastify application: Mage's headers and errors, authentication, the OpenAPI document generated
 * from the same route schemas that validate requests, and one module per resource.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppContext } from './context.js';
import { ApiError, handleError, sendError } from './errors.js';
import { registerAuth } from './auth.js';
import { toApiError } from './projectErrors.js';
import { applyJsonLimits } from './jsonLimits.js';
import { resourceModules } from './resources/index.js';
import { registerWebApp } from '../server/webApp.js';

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface BuildAppOptions {
  logger?: FastifyServerOptions['logger'];
}

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': '*',
  'access-control-allow-methods': 'DELETE, GET, PATCH, POST, PUT, OPTIONS',
};

/**
 * Mage refuses any request whose path or query holds `../` or `..\` before routing (BaseApiHandler.prepare);
 * a NUL byte is refused the same way. Gives what was found, or null.
 */
function refusedInUrl(url: string): string | null {
  let decoded = url;
  for (let i = 0; i < 3; i++) {
    try {
      const next = decodeURIComponent(decoded);
      if (next === decoded) break;
      decoded = next;
    } catch {
      break;
    }
  }
  if (decoded.includes('\0')) return 'a NUL byte';
  return /(^|[\\/=&?])\.\.([\\/]|$)/.test(decoded) ? 'a path traversal (..)' : null;
}

export async function buildApp(ctx: AppContext, options: BuildAppOptions = {}): Promise<App> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: ctx.settings.bodyLimit,
    routerOptions: { maxParamLength: 1000, ignoreTrailingSlash: true },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
    // A path Fastify cannot decode (a malformed percent sequence) fails before routing and hooks; it still
    // gets the error envelope and the CORS headers.
    frameworkErrors: (error, _request, reply) => {
      reply.headers(CORS_HEADERS);
      const message = error.code === 'FST_ERR_BAD_URL' ? `Invalid path: the request path is not valid percent-encoding (${error.message}).` : error.message;
      return sendError(reply, new ApiError(400, error.code === 'FST_ERR_BAD_URL' ? 'invalid_url' : 'invalid_request', message));
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Every JSON body of every route passes the depth and size bounds (BLOCKFLOW_JSON_MAX_DEPTH/_VALUES) here.
  applyJsonLimits(app, ctx.settings.jsonLimits);
  // Project errors (a refused path, a broken pipeline file) thrown outside mapProjectErrors still get their 4xx.
  app.setErrorHandler((err, request, reply) => handleError(toApiError(err) as Error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new ApiError(404, 'route_not_found', `No route ${request.method} ${request.url.split('?')[0]}.`)),
  );

  // A callback hook rather than an async one: it runs on every request, and it has nothing to wait for.
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(CORS_HEADERS);
    const refused = refusedInUrl(request.url);
    done(refused ? new ApiError(400, 'path_traversal', `Invalid path: the request path or query contains ${refused}.`) : undefined);
  });
  app.options('*', { config: { public: true } }, async (_request, reply) => reply.code(204).send());

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Blockflow API', version: '0.1.0', description: 'Mage-compatible pipeline API.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          oauthToken: { type: 'apiKey', in: 'header', name: 'OAUTH-TOKEN' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'oauth_token' },
        },
      },
      security: [{ bearer: [] }, { oauthToken: [] }, { cookie: [] }],
    },
  });

  registerAuth(app, ctx);
  for (const register of resourceModules) await register(app, ctx);
  // The web UI at `/` (ui/dist); unmatched /api paths still get the JSON 404 above.
  await registerWebApp(app);

  app.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
