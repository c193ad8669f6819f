/**
 * Mage's legacy /api/event_matchers routes over real HTTP, on SQLite and PostgreSQL: create with linked triggers,
 * list, detail with and without the triggers, update replacing the links, delete, the refusals, and a matcher
 * created here firing its event trigger through POST /api/events.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIALECTS, startTestServer, type TestServer } from '../helpers/server.js';
import { buildProject } from '../engine/projectBuilder.js';
import { assertError, makeUser } from './support.js';

const TS_BLOCK = `export default async function load(ctx: any) {\n  return { ok: true };\n}\n`;

for (const dialect of DIALECTS) {
  describe(`event matchers, legacy routes (${dialect})`, () => {
    let t: TestServer;
    before(async () => {
      process.env.BLOCKFLOW_WARM_RUNTIMES = '0';
      t = await startTestServer({ dialect, fixture: buildProject({ ev: { blocks: [{ uuid: 'load', type: 'data_loader', language: 'typescript', code: TS_BLOCK }] } }) });
    });
    after(async () => {
      await t?.close();
    });
    const call = (method: string, path: string, body?: unknown, token = t.ownerToken) => t.call(method, path, body, token);
    const trigger = async (name: string) => {
      const res = await call('POST', '/api/pipelines/ev/pipeline_schedules', { pipeline_schedule: { name, schedule_type: 'event', status: 'active' } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.pipeline_schedule.id as number;
    };

    test('create with pipeline_schedule_ids, list, detail with include_pipeline_schedules, update replaces links, delete', async () => {
      const a = await trigger('on upload a');
      const b = await trigger('on upload b');
      const created = await call('POST', '/api/event_matchers', {
        event_matcher: { name: 'uploads', event_type: 'aws_event', pattern: { source: ['aws.s3'] }, pipeline_schedule_ids: [a] },
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const m = created.body.event_matcher;
      assert.deepEqual(Object.keys(m).sort(), ['created_at', 'event_type', 'id', 'name', 'pattern', 'repo_path', 'updated_at']);
      assert.deepEqual([m.name, m.event_type, m.pattern], ['uploads', 'aws_event', { source: ['aws.s3'] }]);

      const list = await call('GET', '/api/event_matchers');
      assert.equal(list.status, 200);
      assert.ok(list.body.event_matchers.some((x: any) => x.id === m.id));

      const plain = await call('GET', `/api/event_matchers/${m.id}`);
      assert.equal(plain.body.event_matcher.pipeline_schedules, undefined);
      const withTriggers = await call('GET', `/api/event_matchers/${m.id}?include_pipeline_schedules=true`);
      assert.deepEqual(withTriggers.body.event_matcher.pipeline_schedules.map((s: any) => s.id), [a]);
      // The trigger shows the matcher too.
      const detailA = await call('GET', `/api/pipeline_schedules/${a}`);
      assert.deepEqual(detailA.body.pipeline_schedule.event_matchers.map((x: any) => x.id), [m.id]);

      const updated = await call('PUT', `/api/event_matchers/${m.id}`, { event_matcher: { pattern: { source: ['aws.sqs'] }, pipeline_schedule_ids: [b] } });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      assert.deepEqual(updated.body.event_matcher.pattern, { source: ['aws.sqs'] });
      assert.equal(updated.body.event_matcher.name, 'uploads', 'fields not sent are kept');
      const after = await call('GET', `/api/event_matchers/${m.id}?include_pipeline_schedules=1`);
      assert.deepEqual(after.body.event_matcher.pipeline_schedules.map((s: any) => s.id), [b]);

      const deleted = await call('DELETE', `/api/event_matchers/${m.id}`);
      assert.equal(deleted.status, 200);
      assert.equal(deleted.body.event_matcher.id, m.id);
      assertError(await call('GET', `/api/event_matchers/${m.id}`), 404, /Event matcher \d+ not found/);
      const detailB = await call('GET', `/api/pipeline_schedules/${b}`);
      assert.deepEqual(detailB.body.pipeline_schedule.event_matchers, [], 'the link went with the matcher');
    });

    test('refusals: unknown trigger ids 404 naming them and nothing created, unknown fields 400, unknown matcher 404, no session 401, viewer 403', async () => {
      const before = (await call('GET', '/api/event_matchers')).body.event_matchers.length;
      assertError(await call('POST', '/api/event_matchers', { event_matcher: { name: 'x', pipeline_schedule_ids: [987654] } }), 404, /Trigger\(s\) 987654 not found/);
      assert.equal((await call('GET', '/api/event_matchers')).body.event_matchers.length, before);
      assertError(await call('POST', '/api/event_matchers', { event_matcher: { name: 'x', colour: 'red' } }), 400, /colour/);
      assertError(await call('POST', '/api/event_matchers', { event_matcher: { pattern: 'not an object' } }), 400, /pattern/);
      assertError(await call('PUT', '/api/event_matchers/987654', { event_matcher: { name: 'y' } }), 404, /Event matcher 987654 not found/);
      assertError(await call('DELETE', '/api/event_matchers/987654'), 404, /Event matcher 987654 not found/);
      assert.equal((await t.call('GET', '/api/event_matchers')).status, 401);
      const viewer = await makeUser(t, 'viewer', `viewer_${dialect}`);
      assert.equal((await call('GET', '/api/event_matchers', undefined, viewer.token)).status, 200);
      assert.equal((await call('POST', '/api/event_matchers', { event_matcher: { name: 'v' } }, viewer.token)).status, 403);
    });

    test('a matcher linked here fires its event trigger through POST /api/events', async () => {
      const id = await trigger('on order');
      const created = await call('POST', '/api/event_matchers', { event_matcher: { name: 'orders', event_type: 'custom', pattern: { kind: ['order'] }, pipeline_schedule_ids: [id] } });
      assert.equal(created.status, 200);
      const miss = await call('POST', '/api/events', { event: { kind: 'refund' } });
      assert.equal(miss.status, 200);
      assert.equal(miss.body.pipeline_runs.filter((r: any) => r.pipeline_schedule_id === id).length, 0);
      const hit = await call('POST', '/api/events', { event: { kind: 'order', n: 1 } });
      assert.equal(hit.status, 200);
      assert.equal(hit.body.pipeline_runs.filter((r: any) => r.pipeline_schedule_id === id).length, 1);
    });
  });
}
