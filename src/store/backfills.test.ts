import assert from 'node:assert/strict';
import { it } from 'node:test';
import { forEachDialect } from '../../test/helpers/pg.js';

forEachDialect('backfills repository', (open) => {
  it('creates, reads, lists, updates and deletes backfills with parsed JSON', async () => {
    const store = await open();
    const bf = await store.backfills.create({
      name: 'jan',
      pipeline_uuid: 'p_bf',
      start_datetime: '2024-01-01T00:00:00Z',
      end_datetime: new Date('2024-01-31T00:00:00Z'),
      interval_type: 'day',
      interval_units: 1,
      variables: { region: 'eu' },
      settings: { parallel: 2 },
    });
    assert.equal(typeof bf.id, 'number');
    assert.equal(bf.status, null);
    assert.equal(bf.start_datetime, '2024-01-01 00:00:00.000000+00:00');
    assert.deepEqual(bf.variables, { region: 'eu' });
    await store.backfills.create({ name: 'other', pipeline_uuid: 'p_bf_other' });

    const list = await store.backfills.list({ pipelineUuid: 'p_bf' });
    assert.equal(list.count, 1);
    assert.equal(typeof list.count, 'number');
    assert.equal(list.rows[0].id, bf.id);

    const u = await store.backfills.update(bf.id, { metrics: { total_run_count: 31 }, interval_units: 2 });
    assert.deepEqual(u?.metrics, { total_run_count: 31 });
    assert.equal(u?.interval_units, 2);
    await assert.rejects(store.backfills.update(bf.id, { interval_type: 'fortnight' }), /interval_type must be one of/);

    assert.equal(await store.backfills.delete(bf.id), true);
    assert.equal(await store.backfills.get(bf.id), undefined);
  });

  it('guards status transitions, with null meaning never started', async () => {
    const a = await open();
    const b = await open();
    const bf = await a.backfills.create({ name: 'race', pipeline_uuid: 'p_bf_race' });
    const results = await Promise.all([
      a.backfills.transition(bf.id, [null, 'cancelled'], 'initial', { started_at: new Date() }),
      b.backfills.transition(bf.id, [null, 'cancelled'], 'initial', { started_at: new Date() }),
    ]);
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(await a.backfills.transition(bf.id, ['running'], 'completed'), false);
    assert.equal(await a.backfills.transition(bf.id, ['initial'], 'running'), true);
    assert.equal((await a.backfills.list({ status: ['running'], pipelineUuid: 'p_bf_race' })).count, 1);
  });
});
