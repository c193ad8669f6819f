/**
 * What every route shares, over real HTTP on SQLite and PostgreSQL: Mage's success envelopes, the one error
 * envelope (HTTP status = error.code, a type, a message naming the problem) for each kind of failure, the
 * status and sessions resources, and the OpenAPI document listing every registered route with its schemas.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { DIALECTS, OWNER, type TestServer } from '../helpers/server.js';
import { resourceModules } from '../../src/api/resources/index.js';
import type { App } from '../../src/api/app.js';
import { assertError, rawCall, startApiServer } from './support.js';

/** The status item keys Mage's statuses test expects (mage-api.md §3.12). */
const STATUS_KEYS = [
  'is_instance_manager', 'repo_path', 'repo_path_relative', 'repo_path_relative_root', 'repo_path_root',
  'server_process_id', 'scheduler_process_id', 'scheduler_status', 'instance_type', 'disable_pipeline_edit_access',
  'max_print_output_lines', 'require_user_authentication', 'require_user_permissions', 'project_type', 'project_uuid',
];

/** POST/PUT routes that take no payload, so declare no body schema. */
const BODYLESS_WRITES = new Set(['POST /api/status', 'POST /api/statuses']);

interface RegisteredRoute {
  method: string;
  url: string;
  schema?: { body?: any; params?: any; querystring?: any; hide?: boolean };
}

/** Every route the resource modules register, collected by registering them into a bare instance. */
async function registeredRoutes(t: TestServer): Promise<RegisteredRoute[]> {
  const routes: RegisteredRoute[] = [];
  const bare = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>();
  bare.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD' && method !== 'OPTIONS') routes.push({ method, url: route.url, schema: route.schema as RegisteredRoute['schema'] });
    }
  });
  for (const register of resourceModules) await register(bare as unknown as App, t.server.ctx);
  await bare.close();
  return routes;
}

/** Fastify's `/a/:id/*` as OpenAPI's `/a/{id}/{*}`. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{*}');

for (const dialect of DIALECTS) {
  describe(`envelopes, errors, status, sessions and OpenAPI (${dialect})`, () => {
    let t: TestServer;
    const call = (method: string, path: string, body?: unknown, token?: string | null, headers?: Record<string, string>) =>
      t.call(method, path, body, token === undefined ? t.ownerToken : token, headers);

    before(async () => {
      t = await startApiServer(dialect, { env: { BLOCKFLOW_BODY_LIMIT: String(64 * 1024) } });
    });
    after(async () => {
      await t?.close();
    });

    test('status needs no token and lists one item with Mage\'s keys; /api/statuses and POST answer the same', async () => {
      const res = await call('GET', '/api/status', undefined, null);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.metadata, {});
      assert.equal(res.body.statuses.length, 1);
      for (const key of STATUS_KEYS) assert.ok(key in res.body.statuses[0], `missing ${key}`);
      assert.equal(res.body.statuses[0].repo_path, t.server.ctx.project.root);
      assert.equal(res.body.statuses[0].require_user_authentication, true);
      assert.equal(res.body.statuses[0].active_pipeline_run_count, undefined);
      assert.deepEqual(Object.keys((await call('GET', '/api/statuses', undefined, null)).body.statuses[0]).sort(), Object.keys(res.body.statuses[0]).sort());
      assert.equal((await call('POST', '/api/status', undefined, null)).body.statuses.length, 1);
    });

    test('status with _format=with_activity_details adds the activity fields', async () => {
      const res = await call('GET', '/api/status?_format=with_activity_details', undefined, null);
      assert.equal(res.status, 200);
      const item = res.body.statuses[0];
      for (const key of ['active_pipeline_run_count', 'last_scheduler_activity', 'last_user_request']) assert.ok(key in item, `missing ${key}`);
    });

    test('detail answers carry metadata null, lists carry a metadata object', async () => {
      const list = await call('GET', '/api/pipelines');
      assert.equal(list.status, 200);
      assert.ok(Array.isArray(list.body.pipelines));
      assert.equal(typeof list.body.metadata, 'object');
      assert.notEqual(list.body.metadata, null);
      const created = await call('POST', '/api/pipelines', { pipeline: { name: `Envelope ${dialect}` } });
      assert.deepEqual(Object.keys(created.body).sort(), ['metadata', 'pipeline']);
      assert.equal(created.body.metadata, null);
      assert.match(created.headers.get('content-type') ?? '', /^application\/json/);
    });

    test('login: bad credentials 401, missing or mistyped fields 400 naming them, an unknown field 400', async () => {
      assertError(await call('POST', '/api/sessions', { session: { email: OWNER.email, password: 'nope' } }, null), 401, /Email\/username and\/or password invalid/, 'invalid_credentials');
      assertError(await call('POST', '/api/sessions', { session: { password: 'x' } }, null), 400, /session\.email or session\.username is required/);
      assertError(await call('POST', '/api/sessions', { session: { email: OWNER.email, password: 12345 } }, null), 400, /body\.session\.password must be string/);
      assertError(await call('POST', '/api/sessions', { session: { email: OWNER.email, password: '' } }, null), 400, /body\.session\.password must NOT have fewer than 1 characters/);
      assertError(await call('POST', '/api/sessions', { email: OWNER.email, password: OWNER.password }, null), 400, /body\.email is not a known field/);
      assertError(await call('POST', '/api/sessions', '{"session": ', null), 400, /not valid JSON/);
    });

    test('logout works with Mage\'s {"session": {}} body and with no body at all', async () => {
      const a = await t.login(OWNER.email, OWNER.password);
      assert.equal((await call('PUT', '/api/sessions/1', { session: {} }, a)).status, 200);
      assertError(await call('GET', '/api/pipelines', undefined, a), 401, /Token has expired/, 'expired_oauth_token');
      const b = await t.login(OWNER.email, OWNER.password);
      const bare = await call('PUT', '/api/sessions/1', undefined, b);
      assert.equal(bare.status, 200, JSON.stringify(bare.body));
      assert.equal(bare.body.session.token, null);
      assert.match(bare.headers.get('set-cookie') ?? '', /oauth_token=;.*Max-Age=0/);
      assertError(await call('GET', '/api/pipelines', undefined, b), 401, /expired/);
      assertError(await call('PUT', '/api/sessions/1', undefined, null), 401, /Authentication required/);
    });

    test('every failure kind answers the error envelope with HTTP status = code and CORS headers', async () => {
      const cases: Array<[Promise<{ status: number; body: any; headers: Headers }>, number, RegExp, string]> = [
        [call('GET', '/api/pipelines', undefined, null), 401, /Authentication required/, 'unauthenticated'],
        [call('GET', '/api/pipelines', undefined, 'x.y.z'), 401, /Invalid token/, 'invalid_oauth_token'],
        [call('GET', '/api/pipelines/missing_one'), 404, /Pipeline missing_one does not exist/, 'record_not_found'],
        [call('GET', '/api/no_such_resource'), 404, /No route GET \/api\/no_such_resource/, 'route_not_found'],
        [call('PATCH', '/api/pipelines'), 404, /No route PATCH \/api\/pipelines/, 'route_not_found'],
        [call('POST', '/api/pipelines', { pipeline: { name: 7 } }), 400, /body\.pipeline\.name must be string/, 'invalid_request'],
        [call('POST', '/api/pipelines', '{"pipeline": {'), 400, /Request body is not valid JSON/, 'invalid_json'],
        [call('POST', '/api/pipelines', '', undefined, { 'content-type': 'application/json' }), 400, /Request body is empty but Content-Type is application\/json/, 'invalid_json'],
        [call('POST', '/api/pipelines', '<pipeline/>', undefined, { 'content-type': 'application/xml' }), 415, /Unsupported Content-Type: application\/xml; send application\/json/, 'unsupported_media_type'],
        [call('POST', '/api/pipelines', { pipeline: { name: 'big', description: 'x'.repeat(70 * 1024) } }), 413, /larger than the limit of 65536 bytes/, 'payload_too_large'],
        [call('GET', '/api/pipelines?x=../../etc'), 400, /path traversal \(\.\.\)/, 'path_traversal'],
      ];
      for (const [pending, status, message, type] of cases) {
        const res = await pending;
        assertError(res, status, message, type);
        assert.equal(res.headers.get('access-control-allow-origin'), '*', `no CORS header on ${status}`);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        assert.equal(JSON.stringify(res.body).includes('    at '), false, 'a stack trace leaked');
      }
    });

    test('a NUL byte or a malformed percent sequence in the path is 400 naming it', async () => {
      assertError(await rawCall(t, 'GET', '/api/pipelines/etl%00demo', undefined, t.ownerToken), 400, /contains a NUL byte/, 'path_traversal');
      assertError(await rawCall(t, 'GET', '/api/pipelines/%E0%A4%A', undefined, t.ownerToken), 400, /not valid percent-encoding/, 'invalid_url');
    });

    test('OpenAPI lists every registered route with its params, query and request body schemas', async () => {
      const doc = (await call('GET', '/api/openapi.json', undefined, null)).body;
      assert.equal(doc.openapi, '3.0.3');
      const routes = (await registeredRoutes(t)).filter((r) => !r.schema?.hide);
      assert.ok(routes.length >= 20, `only ${routes.length} routes found`);
      const problems: string[] = [];
      for (const route of routes) {
        const id = `${route.method} ${route.url}`;
        const op = doc.paths?.[openApiPath(route.url)]?.[route.method.toLowerCase()];
        if (!op) {
          problems.push(`${id}: not in /api/openapi.json`);
          continue;
        }
        const pathParams = [...route.url.matchAll(/:([A-Za-z0-9_]+)|(\*)$/g)].map((m) => m[1] ?? '*');
        if (pathParams.length && !route.schema?.params) problems.push(`${id}: no params schema`);
        const documented = new Set((op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name));
        for (const name of pathParams) if (!documented.has(name)) problems.push(`${id}: path parameter ${name} not documented`);
        const queryProps = Object.keys(route.schema?.querystring?.properties ?? {});
        const documentedQuery = new Set((op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name));
        for (const name of queryProps) if (!documentedQuery.has(name)) problems.push(`${id}: query parameter ${name} not documented`);
        const takesBody = ['POST', 'PUT', 'PATCH'].includes(route.method) && !BODYLESS_WRITES.has(id);
        if (takesBody && !route.schema?.body) problems.push(`${id}: no request body schema`);
        if (route.schema?.body) {
          const schema = op.requestBody?.content?.['application/json']?.schema;
          if (!schema) problems.push(`${id}: request body schema missing from the document`);
          else {
            const expected = Object.keys(route.schema.body.properties ?? {}).sort();
            const actual = Object.keys(schema.properties ?? {}).sort();
            if (expected.join() !== actual.join()) problems.push(`${id}: documented body fields ${actual} differ from ${expected}`);
          }
        }
      }
      assert.deepEqual(problems, []);
      for (const path of Object.keys(doc.paths)) assert.ok(path.startsWith('/api/'), path);
      assert.equal(doc.paths['/api/openapi.json'], undefined, 'the document lists itself');
    });
  });
}
