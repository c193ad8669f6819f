/** The Cloud API's Fastify app: routes, error envelope, and a health endpoint. */
import Fastify, { type FastifyInstance } from 'fastify';
import { registerClusterRoutes } from './clusterRoutes.js';
import type { CloudApiContext } from './context.js';
import { cloudErrorHandler, errorBody } from './errors.js';
import { registerSessionRoutes } from './sessionRoutes.js';
import { registerTeamRoutes } from './teamRoutes.js';
import { jsonLimitError, jsonLimitsFromEnv } from '../../api/jsonLimits.js';
import { exceedsJsonShape } from '../../runtimes/jsonShape.js';

export function buildCloudApp(ctx: CloudApiContext, options: { logger?: boolean } = {}): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false });
  const limits = jsonLimitsFromEnv();
  app.setErrorHandler(cloudErrorHandler);
  // Clients such as requests.Session send `Content-Type: application/json` on every call, bodiless POSTs too.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400 }), undefined);
    }
    // The same depth and size bounds as the cluster server's (src/api/jsonLimits.ts): a deep body stored
    // as a cluster's config would break every later JSON.stringify of it.
    const excess = exceedsJsonShape(value, limits);
    if (excess) return done(Object.assign(new Error(jsonLimitError(excess, limits).message), { statusCode: 400 }), undefined);
    done(null, value);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(errorBody(404, `no route ${req.method} ${req.url}`, 'not_found'));
  });
  app.get('/api/status', async () => ({ status: { service: 'blockflow-cloud', ok: true } }));
  registerSessionRoutes(app, ctx);
  registerTeamRoutes(app, ctx);
  registerClusterRoutes(app, ctx);
  return app;
}
