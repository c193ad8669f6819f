/** The Cloud API's Fastify app: routes, error envelope, and a health endpoint. */
import Fastify, { type FastifyInstance } from 'fastify';
import { registerClusterRoutes } from './clusterRoutes.js';
import type { CloudApiContext } from './context.js';
import { cloudErrorHandler, errorBody } from './errors.js';
import { registerSessionRoutes } from './sessionRoutes.js';
import { registerTeamRoutes } from './teamRoutes.js';

export function buildCloudApp(ctx: CloudApiContext, options: { logger?: boolean } = {}): FastifyInstance {
  const app = Fastify({ logger: options.logger ?? false });
  app.setErrorHandler(cloudErrorHandler);
  // Clients such as requests.Session send `Content-Type: application/json` on every call, bodiless POSTs too.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400 }), undefined);
    }
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
