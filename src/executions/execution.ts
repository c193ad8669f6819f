/**
 * One interactive execution in memory: who started it (its scope), what it runs, the state of each block and
 * its event log. Mutated only by the runner (run.ts) and the service (cancel).
 */
import type { BlockConfig } from '../project/pipeline.js';
import { EventLog, type ExecutionEventType } from './eventLog.js';
import type { ExecutionMode } from './plan.js';
import type { OutputItem } from './sampling.js';

export type ExecutionStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export type BlockExecutionStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'skipped';

export const ACTIVE_STATUSES: ReadonlySet<ExecutionStatus> = new Set(['queued', 'running']);
export const EXECUTION_STATUSES: readonly ExecutionStatus[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];

export interface ErrorData {
  block_uuid: string | null;
  /** The exception's class, e.g. `ValueError`. */
  name: string;
  message: string;
  /** The block's own traceback lines (runtime frames left out). */
  stack: string[];
  /** `block_execution_failed`, `test_failed`, `timeout` or `cancelled`. */
  type: string;
}

export interface TestResult {
  block_uuid: string;
  /** Null when the runtime does not count passing tests (TypeScript). */
  passed: number | null;
  failed: number;
  failures: Array<{ name: string; message: string }>;
}

export interface BlockState {
  uuid: string;
  type: string;
  language: string;
  status: BlockExecutionStatus;
  started_at: string | null;
  completed_at: string | null;
  duration_ms: number | null;
  outputs: OutputItem[];
  error: ErrorData | null;
  test_result: TestResult | null;
}

export class Execution {
  readonly events: EventLog;
  readonly controller = new AbortController();
  readonly createdAt = new Date();
  status: ExecutionStatus = 'queued';
  startedAt: Date | null = null;
  finishedAt: Date | null = null;
  durationMs: number | null = null;
  /** Resolves when the execution has finished (its `done` event is out). */
  done: Promise<void> = Promise.resolve();
  readonly blocks: Map<string, BlockState>;

  constructor(
    readonly id: string,
    readonly scope: string,
    readonly pipelineUuid: string,
    readonly blockUuid: string | null,
    readonly mode: ExecutionMode,
    order: BlockConfig[],
    buffer: { maxEvents: number; maxAgeMs: number },
  ) {
    this.events = new EventLog(buffer.maxEvents, buffer.maxAgeMs);
    this.blocks = new Map(
      order.map((b) => [
        b.uuid,
        { uuid: b.uuid, type: b.type, language: b.language, status: 'pending', started_at: null, completed_at: null, duration_ms: null, outputs: [], error: null, test_result: null },
      ]),
    );
  }

  get active(): boolean {
    return ACTIVE_STATUSES.has(this.status);
  }

  get eventsUrl(): string {
    return `/api/executions/${this.id}/events`;
  }

  emit(type: ExecutionEventType, data: Record<string, unknown>): void {
    this.events.push(type, data);
  }

  /** Blocks not finished yet (pending or running): what a second execution of the same user may not run. */
  busyBlocks(): string[] {
    return [...this.blocks.values()].filter((b) => b.status === 'pending' || b.status === 'running').map((b) => b.uuid);
  }

  /** The answer of POST and the items of the list. */
  summary(): Record<string, unknown> {
    return {
      id: this.id,
      pipeline_uuid: this.pipelineUuid,
      block_uuid: this.blockUuid,
      mode: this.mode,
      status: this.status,
      created_at: this.createdAt.toISOString(),
      started_at: this.startedAt?.toISOString() ?? null,
      finished_at: this.finishedAt?.toISOString() ?? null,
      duration_ms: this.durationMs,
      events_url: this.eventsUrl,
      last_event_id: this.events.lastId,
      block_uuids: [...this.blocks.keys()],
    };
  }

  /** GET /api/executions/{id}: the summary and every block's state with its last outputs. */
  snapshot(): Record<string, unknown> {
    return { ...this.summary(), blocks: [...this.blocks.values()].map((b) => ({ ...b })) };
  }
}
