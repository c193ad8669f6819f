/**
 * What both change feeds (PostgreSQL LISTEN/NOTIFY, SQLite data_version) must achieve, written once: a leader
 * whose sweep is far away hears of changes another server made on the same database. Each test file sets up the
 * two processes for its dialect and runs these.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SchedulerService } from '../../src/scheduler/service.js';
import type { Store } from '../../src/store/db.js';
import { waitFor } from '../helpers/wait.js';

/** A TypeScript block that returns at once. */
export const QUICK_BLOCK = 'export default async function q() {\n  return 1;\n}\n';

/** A TypeScript block that returns once `file` exists. */
export const gatedOn = (file: string) =>
  `import { existsSync } from 'node:fs';\nexport default async function gate() {\n  while (!existsSync(${JSON.stringify(file)})) await new Promise((r) => setTimeout(r, 20));\n  return 1;\n}\n`;

export interface FeedScenario {
  /** The leader's store. */
  store: Store;
  leader: SchedulerService;
  /** The leader's instance id (owner_id of the runs it starts). */
  leaderId: string;
  /** Calls the other server's HTTP API. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** The file the `limited` pipeline's block waits for. */
  gate: string;
}

/** A `@once` trigger created through the other server's API gets exactly one run, created and started by the leader. */
export async function triggerFromOtherServer(s: FeedScenario, pipeline: string): Promise<void> {
  const created = await s.call('POST', `/api/pipelines/${pipeline}/pipeline_schedules`, {
    pipeline_schedule: { name: 'via-other-server', schedule_type: 'time', schedule_interval: '@once', status: 'active' },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const id = created.body.pipeline_schedule.id as number;
  // The run exists (initial) a moment before it is started and owned; wait for the start.
  const run = await waitFor('the run of the new trigger to start', async () => {
    const first = (await s.store.pipelineRuns.list({ pipelineScheduleId: id })).rows[0];
    return first?.owner_id ? first : undefined;
  });
  assert.equal(run.owner_id, s.leaderId, 'the leader created and started the run');
  await sleep(300);
  assert.equal((await s.store.pipelineRuns.list({ pipelineScheduleId: id })).rows.length, 1);
}

/**
 * In `pipeline` (one run at a time, its block waiting for the gate file), a run finishing in the other server
 * makes the leader start the run that waited for the slot, after the first one finished.
 */
export async function waitingRunStartedByLeader(s: FeedScenario, pipeline: string): Promise<void> {
  const created = await s.call('POST', `/api/pipelines/${pipeline}/pipeline_schedules`, { pipeline_schedule: { name: 'limited-api', schedule_type: 'api', status: 'active' } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const id = created.body.pipeline_schedule.id as number;
  const first = await s.call('POST', `/api/pipeline_schedules/${id}/pipeline_runs`, { pipeline_run: {} });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const firstId = first.body.pipeline_run.id as number;
  assert.equal((await s.store.pipelineRuns.get(firstId))?.status, 'running');

  const schedule = (await s.store.schedules.get(id))!;
  const waiting = await s.leader.triggerRun(schedule);
  assert.equal(waiting.status, 'initial', 'the pipeline allows one run at a time');

  writeFileSync(s.gate, '');
  const done = await waitFor('the waiting run to complete', async () => {
    const r = await s.store.pipelineRuns.get(waiting.id);
    return r?.status === 'completed' && r;
  });
  const firstDone = (await s.store.pipelineRuns.get(firstId))!;
  assert.equal(firstDone.status, 'completed');
  assert.notEqual(firstDone.owner_id, s.leaderId, 'the first run ran in the other server');
  assert.equal(done.owner_id, s.leaderId, 'the leader started the waiting run');
  assert.ok(done.started_at! >= firstDone.completed_at!, 'the waiting run started after the first one finished');
}
