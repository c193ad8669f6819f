import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'kysely';
import { forEachDialect } from '../../test/helpers/pg.js';
import { DuplicateRecordError, DuplicateRunError } from './errors.js';

forEachDialect('pipeline runs repository', (open, dialect) => {
  it('creates a run with its block runs atomically and normalises types', async () => {
    const store = await open();
    const { run, blockRuns } = await store.pipelineRuns.createWithBlockRuns(
      { pipeline_uuid: 'p_create', execution_date: new Date('2024-05-01T10:00:00Z'), variables: { execution_partition: 'x/1' }, event_variables: { e: [1, 2] } },
      ['load', 'transform', 'export'],
    );
    assert.equal(typeof run.id, 'number');
    assert.equal(run.status, 'initial');
    assert.equal(run.passed_sla, false);
    assert.equal(run.executor_type, 'local_python');
    assert.equal(run.execution_date, '2024-05-01 10:00:00.000000+00:00');
    assert.deepEqual(run.variables, { execution_partition: 'x/1' });
    assert.deepEqual(run.event_variables, { e: [1, 2] });
    assert.deepEqual(blockRuns.map((b) => [b.block_uuid, b.status, b.attempts, b.pipeline_run_id]), [
      ['load', 'initial', 0, run.id],
      ['transform', 'initial', 0, run.id],
      ['export', 'initial', 0, run.id],
    ]);
    const withSla = await store.pipelineRuns.update(run.id, { passed_sla: true, metrics: { previous_runtimes: [1.5] } });
    assert.equal(withSla?.passed_sla, true);
    assert.deepEqual(withSla?.metrics, { previous_runtimes: [1.5] });
    assert.equal(withSla?.status, 'initial');
  });

  it('rejects a second run for the same schedule and execution date with DuplicateRunError, not runs without a schedule', async () => {
    const store = await open();
    const sched = await store.schedules.create({ name: 'dup', pipeline_uuid: 'p_dup' });
    await store.pipelineRuns.create({ pipeline_uuid: 'p_dup', pipeline_schedule_id: sched.id, execution_date: '2024-01-01T00:00:00Z' });
    // The same instant written another way is the same stored text, so it collides too.
    await assert.rejects(
      store.pipelineRuns.create({ pipeline_uuid: 'p_dup', pipeline_schedule_id: sched.id, execution_date: new Date('2024-01-01T00:00:00Z') }),
      (e) => e instanceof DuplicateRunError && e instanceof DuplicateRecordError && e.pipelineScheduleId === sched.id,
    );
    // The block runs of a rejected createWithBlockRuns are rolled back with it.
    const blocksBefore = await store.db.selectFrom('block_run').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    await assert.rejects(
      store.pipelineRuns.createWithBlockRuns({ pipeline_uuid: 'p_dup', pipeline_schedule_id: sched.id, execution_date: '2024-01-01 00:00:00' }, ['a']),
      DuplicateRunError,
    );
    const blocksAfter = await store.db.selectFrom('block_run').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(blocksAfter.n, blocksBefore.n);

    await store.pipelineRuns.create({ pipeline_uuid: 'p_dup', pipeline_schedule_id: sched.id, execution_date: '2024-01-02T00:00:00Z' });
    await store.pipelineRuns.create({ pipeline_uuid: 'p_dup', execution_date: '2024-01-01T00:00:00Z' });
    await store.pipelineRuns.create({ pipeline_uuid: 'p_dup', execution_date: '2024-01-01T00:00:00Z' });
    assert.equal((await store.pipelineRuns.list({ pipelineUuids: ['p_dup'] })).count, 4);
  });

  it('lists with filters, Mage default order, paging and numeric counts', async () => {
    const store = await open();
    const p = 'p_list';
    const r1 = await store.pipelineRuns.create({ pipeline_uuid: p, execution_date: '2024-01-01', status: 'completed', backfill_id: 7 });
    const r2 = await store.pipelineRuns.create({ pipeline_uuid: p, execution_date: '2024-01-03', status: 'failed' });
    const r3 = await store.pipelineRuns.create({ pipeline_uuid: p, execution_date: '2024-01-02', status: 'running', pipeline_schedule_id: 4242 });
    const r4 = await store.pipelineRuns.create({ pipeline_uuid: p, execution_date: null });
    await store.pipelineRuns.create({ pipeline_uuid: 'p_list_other', execution_date: '2024-01-01' });

    const all = await store.pipelineRuns.list({ pipelineUuids: [p] });
    assert.equal(typeof all.count, 'number');
    assert.equal(all.count, 4);
    // execution_date desc with NULLs last on both dialects.
    assert.deepEqual(all.rows.map((r) => r.id), [r2.id, r3.id, r1.id, r4.id]);
    assert.deepEqual((await store.pipelineRuns.list({ pipelineUuids: [p], statuses: ['failed', 'completed'] })).rows.map((r) => r.id), [r2.id, r1.id]);
    assert.deepEqual((await store.pipelineRuns.list({ pipelineScheduleId: 4242 })).rows.map((r) => r.id), [r3.id]);
    assert.deepEqual((await store.pipelineRuns.list({ backfillId: 7 })).rows.map((r) => r.id), [r1.id]);
    assert.deepEqual((await store.pipelineRuns.list({ ids: [r1.id, r4.id] })).rows.map((r) => r.id), [r1.id, r4.id]);
    assert.equal((await store.pipelineRuns.list({ ids: [] })).count, 0);
    assert.equal((await store.pipelineRuns.list({ pipelineUuids: [p], createdAfter: r1.created_at })).count, 4);
    assert.equal((await store.pipelineRuns.list({ pipelineUuids: [p], createdBefore: '2000-01-01' })).count, 0);

    const page = await store.pipelineRuns.list({ pipelineUuids: [p], orderBy: [{ column: 'id', direction: 'asc' }], limit: 2, offset: 1 });
    assert.deepEqual(page.rows.map((r) => r.id), [r2.id, r3.id]);
    assert.equal(page.count, 4);
    await assert.rejects(store.pipelineRuns.list({ orderBy: [{ column: 'variables' as never }] }), /cannot order pipeline runs/);

    assert.equal(await store.pipelineRuns.countByStatus(['running']), (await store.pipelineRuns.list({ statuses: ['running'] })).count);
    assert.ok((await store.pipelineRuns.distinctPipelineUuids()).includes(p));
    assert.deepEqual((await store.pipelineRuns.getMany([r2.id])).map((r) => r.id), [r2.id]);
  });

  it('guards transitions: a status not in `from` loses, and the patch lands only with the win', async () => {
    const store = await open();
    const run = await store.pipelineRuns.create({ pipeline_uuid: 'p_tr' });
    assert.equal(await store.pipelineRuns.transition(run.id, ['running'], 'completed'), false);
    assert.equal(await store.pipelineRuns.transition(run.id, ['initial'], 'running', { started_at: new Date(), owner_id: 'srv-1' }), true);
    const running = await store.pipelineRuns.get(run.id);
    assert.equal(running?.status, 'running');
    assert.equal(running?.owner_id, 'srv-1');
    assert.equal(await store.pipelineRuns.transition(run.id, ['initial'], 'running', { owner_id: 'srv-2' }), false);
    assert.equal((await store.pipelineRuns.get(run.id))?.owner_id, 'srv-1');
    await assert.rejects(store.pipelineRuns.transition(run.id, ['running'], 'bogus' as never), /unknown pipeline run status/);
  });

  it('lets exactly one of two stores win the same transition', async () => {
    const a = await open();
    const b = await open();
    for (let i = 0; i < 10; i++) {
      const run = await a.pipelineRuns.create({ pipeline_uuid: 'p_race' });
      const results = await Promise.all([
        a.pipelineRuns.transition(run.id, ['initial'], 'running', { owner_id: 'a' }),
        b.pipelineRuns.transition(run.id, ['initial'], 'running', { owner_id: 'b' }),
      ]);
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await a.pipelineRuns.get(run.id))?.owner_id, results[0] ? 'a' : 'b');
    }
  });

  if (dialect === 'postgres') {
    it('a transition waiting on a row lock loses once the holder commits its own transition', async () => {
      const a = await open();
      const b = await open();
      const watcher = await open();
      const run = await a.pipelineRuns.create({ pipeline_uuid: 'p_lock' });
      let bResult: Promise<boolean> | undefined;
      await a.transaction(async (tx) => {
        assert.equal(await tx.pipelineRuns.transition(run.id, ['initial'], 'running', { owner_id: 'a' }), true);
        bResult = b.pipelineRuns.transition(run.id, ['initial'], 'running', { owner_id: 'b' });
        // Commit only once b's UPDATE is really blocked on the row lock a holds.
        for (;;) {
          const waiting = await sql<{ n: number }>`select count(*) as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and query like 'update "pipeline_run"%'`.execute(watcher.db);
          if (waiting.rows[0].n > 0) break;
          await new Promise((r) => setTimeout(r, 10));
        }
      });
      assert.equal(await bResult, false);
      assert.equal((await a.pipelineRuns.get(run.id))?.owner_id, 'a');
    });
  }

  it('adopts stale running runs once and keeps fresh ones with their owner', async () => {
    const a = await open();
    const b = await open();
    const stale = await a.pipelineRuns.create({ pipeline_uuid: 'p_orphan' });
    const fresh = await a.pipelineRuns.create({ pipeline_uuid: 'p_orphan' });
    await a.pipelineRuns.transition(stale.id, ['initial'], 'running', { owner_id: 'dead', heartbeat_at: '2000-01-01' });
    await a.pipelineRuns.transition(fresh.id, ['initial'], 'running', { owner_id: 'alive' });
    assert.equal(await a.pipelineRuns.heartbeat('alive'), 1);
    const [x, y] = await Promise.all([a.pipelineRuns.adoptOrphans('a', 60), b.pipelineRuns.adoptOrphans('b', 60)]);
    const adopted = [...x, ...y].filter((id) => id === stale.id || id === fresh.id);
    assert.deepEqual(adopted, [stale.id]);
    assert.equal((await a.pipelineRuns.get(fresh.id))?.owner_id, 'alive');
  });

  it('deletes a run with its block runs (cascade)', async () => {
    const store = await open();
    const { run, blockRuns } = await store.pipelineRuns.createWithBlockRuns({ pipeline_uuid: 'p_del' }, ['a', 'b']);
    assert.equal(await store.pipelineRuns.delete(run.id), true);
    assert.equal(await store.pipelineRuns.get(run.id), undefined);
    for (const b of blockRuns) assert.equal(await store.blockRuns.get(b.id), undefined);
    assert.equal(await store.pipelineRuns.delete(run.id), false);
  });
});

forEachDialect('block runs repository', (open) => {
  it('lists per run and per pipeline with counts, and reports totals per run in one query', async () => {
    const store = await open();
    const { run } = await store.pipelineRuns.createWithBlockRuns({ pipeline_uuid: 'p_br' }, ['a', 'b', 'c']);
    const { run: other } = await store.pipelineRuns.createWithBlockRuns({ pipeline_uuid: 'p_br_other' }, ['z']);
    const [a, b] = await store.blockRuns.listForRun(run.id);
    await store.blockRuns.transition(a.id, ['initial'], 'completed', { completed_at: new Date(), metrics: { rows: 3 } });
    await store.blockRuns.transition(b.id, ['initial'], 'failed', { metrics: { error: { message: 'x' } } });

    const byPipeline = await store.blockRuns.list({ pipelineUuid: 'p_br' });
    assert.equal(byPipeline.count, 3);
    assert.equal(typeof byPipeline.count, 'number');
    assert.deepEqual((await store.blockRuns.list({ pipelineRunId: run.id, statuses: ['failed'] })).rows.map((r) => r.block_uuid), ['b']);
    assert.deepEqual((await store.blockRuns.list({ pipelineRunIds: [run.id, other.id], blockUuids: ['c', 'z'] })).rows.map((r) => r.block_uuid), ['c', 'z']);
    assert.equal((await store.blockRuns.listForRuns([run.id, other.id])).length, 4);
    assert.equal(await store.blockRuns.countForRun(run.id), 3);
    assert.deepEqual((await store.blockRuns.get(a.id))?.metrics, { rows: 3 });

    const counts = await store.blockRuns.countsByRun([run.id, other.id, 999_999]);
    assert.deepEqual(counts.get(run.id), { block_runs_count: 3, completed_block_runs_count: 1 });
    assert.deepEqual(counts.get(other.id), { block_runs_count: 1, completed_block_runs_count: 0 });
    assert.equal(counts.has(999_999), false);
  });

  it('guards transitions per block run and for a whole run, and resets for retries', async () => {
    const store = await open();
    const { run, blockRuns } = await store.pipelineRuns.createWithBlockRuns({ pipeline_uuid: 'p_br_tr' }, ['a', 'b', 'c']);
    const [a, b, c] = blockRuns;
    assert.equal(await store.blockRuns.transition(a.id, ['initial'], 'queued'), true);
    assert.equal(await store.blockRuns.transition(a.id, ['initial'], 'queued'), false);
    assert.equal(await store.blockRuns.transition(a.id, ['queued'], 'running', { started_at: new Date(), owner_id: 'w1' }), true);
    assert.equal(await store.blockRuns.recordAttempt(a.id, 2), true);
    assert.equal((await store.blockRuns.get(a.id))?.attempts, 2);
    await store.blockRuns.transition(c.id, ['initial'], 'completed');

    assert.equal(await store.blockRuns.resetUnfinished(run.id), 1);
    const reset = await store.blockRuns.get(a.id);
    assert.equal(reset?.status, 'initial');
    assert.equal(reset?.owner_id, null);

    assert.equal(await store.blockRuns.transitionAll(run.id, ['initial', 'queued', 'running'], 'cancelled', { completed_at: new Date() }), 2);
    assert.deepEqual((await store.blockRuns.listForRun(run.id)).map((r) => r.status), ['cancelled', 'cancelled', 'completed']);
    assert.equal(await store.blockRuns.resetToInitial([b.id, c.id]), 2);
    assert.deepEqual((await store.blockRuns.listForRun(run.id)).map((r) => r.status), ['cancelled', 'initial', 'initial']);
  });

  it('lets exactly one of two stores win the same block transition', async () => {
    const a = await open();
    const b = await open();
    const { blockRuns } = await a.pipelineRuns.createWithBlockRuns({ pipeline_uuid: 'p_br_race' }, ['x', 'y', 'z']);
    for (const br of blockRuns) {
      const results = await Promise.all([
        a.blockRuns.transition(br.id, ['initial'], 'running', { owner_id: 'a' }),
        b.blockRuns.transition(br.id, ['initial'], 'running', { owner_id: 'b' }),
      ]);
      assert.equal(results.filter(Boolean).length, 1);
    }
  });
});
