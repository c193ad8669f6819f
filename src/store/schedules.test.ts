import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { it } from 'node:test';
import { forEachDialect } from '../../test/helpers/pg.js';

forEachDialect('schedules repository', (open) => {
  it('creates with defaults, parses JSON, updates and deletes', async () => {
    const store = await open();
    const s = await store.schedules.create({
      name: 'daily',
      pipeline_uuid: 'p_crud',
      schedule_type: 'time',
      schedule_interval: '@daily',
      start_time: '2024-01-01T00:00:00Z',
      variables: { a: 1 },
      settings: { skip_if_previous_running: true },
    });
    assert.equal(typeof s.id, 'number');
    assert.equal(s.status, 'inactive');
    assert.equal(s.start_time, '2024-01-01 00:00:00.000000+00:00');
    assert.deepEqual(s.variables, { a: 1 });
    assert.deepEqual(s.settings, { skip_if_previous_running: true });
    assert.equal(s.token, null);

    const u = await store.schedules.update(s.id, { status: 'active', last_enabled_at: new Date(), sla: 40, settings: null });
    assert.equal(u?.status, 'active');
    assert.equal(u?.sla, 40);
    assert.equal(u?.settings, null);
    assert.deepEqual(u?.variables, { a: 1 });
    assert.equal(await store.schedules.update(999_999, { sla: 1 }), undefined);

    await assert.rejects(store.schedules.create({ name: '  ' }), /name must not be empty/);
    await assert.rejects(store.schedules.update(s.id, { name: '' }), /name must not be empty/);

    assert.equal(await store.schedules.delete(s.id), true);
    assert.equal(await store.schedules.get(s.id), undefined);
  });

  it('lists with type, interval, status, tag and pipeline filters, ordering, paging and a numeric count', async () => {
    const store = await open();
    const p = 'p_list';
    const a = await store.schedules.create({ name: 'a', pipeline_uuid: p, schedule_type: 'time', schedule_interval: '@daily', status: 'active' });
    const b = await store.schedules.create({ name: 'b', pipeline_uuid: p, schedule_type: 'event' });
    const c = await store.schedules.create({ name: 'c', pipeline_uuid: p, schedule_type: 'api' });
    await store.schedules.create({ name: 'elsewhere', pipeline_uuid: 'p_other', schedule_type: 'time' });

    const all = await store.schedules.list({ pipelineUuid: p });
    assert.equal(all.count, 3);
    assert.equal(typeof all.count, 'number');
    assert.deepEqual(all.rows.map((r) => r.id), [c.id, b.id, a.id]);

    assert.deepEqual((await store.schedules.list({ pipelineUuid: p, scheduleType: ['event', 'time'] })).rows.map((r) => r.name).sort(), ['a', 'b']);
    assert.deepEqual((await store.schedules.list({ pipelineUuid: p, status: ['active'] })).rows.map((r) => r.name), ['a']);
    assert.deepEqual((await store.schedules.list({ pipelineUuid: p, scheduleInterval: ['@daily'] })).rows.map((r) => r.name), ['a']);

    await store.schedules.setTags(a.id, ['nightly', 'etl', 'etl', ' ']);
    await store.schedules.setTags(b.id, ['etl']);
    assert.deepEqual(await store.schedules.getTags(a.id), ['etl', 'nightly']);
    const tagged = await store.schedules.list({ pipelineUuid: p, tag: ['etl', 'nightly'] });
    assert.equal(tagged.count, 2, 'a schedule with two matching tags is counted once');
    assert.deepEqual(await store.schedules.setTags(a.id, ['weekly']), ['weekly']);
    assert.deepEqual(Object.fromEntries(await store.schedules.tagsFor([a.id, b.id, c.id])), { [a.id]: ['weekly'], [b.id]: ['etl'] });

    const byName = await store.schedules.list({ pipelineUuid: p, orderBy: [{ column: 'name', direction: 'desc' }], limit: 2, offset: 1 });
    assert.deepEqual(byName.rows.map((r) => r.name), ['b', 'a']);
    assert.equal(byName.count, 3);
    await assert.rejects(store.schedules.list({ orderBy: [{ column: 'token' as never }] }), /cannot order schedules by "token"/);

    assert.deepEqual((await store.schedules.getMany([a.id, c.id, 424242])).map((r) => r.id).sort((x, y) => x - y), [a.id, c.id]);
  });

  it('finds an api schedule by token hash only', async () => {
    const store = await open();
    const h = createHash('sha256').update('secret-token').digest('hex');
    const api = await store.schedules.create({ name: 'api', pipeline_uuid: 'p_api', schedule_type: 'api', token_hash: h });
    assert.equal((await store.schedules.findApiScheduleByTokenHash(h))?.id, api.id);
    await store.schedules.update(api.id, { schedule_type: 'time' });
    assert.equal(await store.schedules.findApiScheduleByTokenHash(h), undefined);
  });

  it('upserts event matchers, links them and unlinks the rest', async () => {
    const store = await open();
    const s = await store.schedules.create({ name: 'ev', pipeline_uuid: 'p_ev', schedule_type: 'event' });
    const first = await store.schedules.replaceEventMatchers(s.id, [
      { event_type: 'aws_event', name: 'm1', pattern: { source: ['aws.s3'] } },
      { event_type: 'aws_event', name: 'm2', pattern: { detail: { bucket: 'x' } } },
    ]);
    assert.equal(first.length, 2);
    assert.deepEqual(first[0].pattern, { source: ['aws.s3'] });
    const [m1, m2] = first;
    const second = await store.schedules.replaceEventMatchers(s.id, [{ id: m1.id, name: 'm1-renamed' }, { event_type: 'aws_event', name: 'm3', pattern: {} }]);
    assert.deepEqual(second.map((m) => m.name), ['m1-renamed', 'm3']);
    assert.deepEqual(second[0].pattern, { source: ['aws.s3'] }, 'fields not sent are kept');
    assert.ok(await store.eventMatchers.get(m2.id), 'an unlinked matcher is kept');
    assert.deepEqual(Object.fromEntries(await store.eventMatchers.scheduleIdsFor([m1.id, m2.id])), { [m1.id]: [s.id] });
    await assert.rejects(store.schedules.replaceEventMatchers(s.id, [{ id: 987654, name: 'x' }]), /event matcher 987654 does not exist/);
    assert.equal((await store.eventMatchers.forSchedules([s.id])).get(s.id)?.length, 2, 'a failed replace changes nothing');

    await store.schedules.delete(s.id);
    assert.equal((await store.eventMatchers.forSchedules([s.id])).size, 0);
    assert.ok(await store.eventMatchers.get(m1.id));
  });

  it('reports run counts, running counts and the last run status per schedule in one call', async () => {
    const store = await open();
    const s1 = await store.schedules.create({ name: 's1', pipeline_uuid: 'p_stats' });
    const s2 = await store.schedules.create({ name: 's2', pipeline_uuid: 'p_stats' });
    const s3 = await store.schedules.create({ name: 's3', pipeline_uuid: 'p_stats' });
    await store.pipelineRuns.create({ pipeline_uuid: 'p_stats', pipeline_schedule_id: s1.id, execution_date: '2024-01-01', status: 'completed' });
    await store.pipelineRuns.create({ pipeline_uuid: 'p_stats', pipeline_schedule_id: s1.id, execution_date: '2024-01-02', status: 'running' });
    await store.pipelineRuns.create({ pipeline_uuid: 'p_stats', pipeline_schedule_id: s1.id, execution_date: '2024-01-03', status: 'failed' });
    await store.pipelineRuns.create({ pipeline_uuid: 'p_stats', pipeline_schedule_id: s2.id, execution_date: '2024-01-01', status: 'running' });
    const stats = await store.schedules.runStats([s1.id, s2.id, s3.id]);
    assert.deepEqual(stats.get(s1.id), { pipeline_runs_count: 3, pipeline_in_progress_runs_count: 1, last_pipeline_run_status: 'failed' });
    assert.deepEqual(stats.get(s2.id), { pipeline_runs_count: 1, pipeline_in_progress_runs_count: 1, last_pipeline_run_status: 'running' });
    assert.equal(stats.has(s3.id), false);

    await store.schedules.delete(s1.id);
    assert.equal((await store.pipelineRuns.list({ pipelineScheduleId: s1.id })).count, 3, 'runs outlive their schedule');
  });
});
