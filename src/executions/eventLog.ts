/**
 * The events of one execution: numbered from 1 (the SSE `id:`), kept in a bounded buffer for replay after a
 * reconnect (`Last-Event-ID`), and handed to live subscribers as they happen.
 *
 * Bounds: at most `maxEvents` events and none older than `maxAgeMs`, oldest dropped first; the newest event is
 * never dropped, so a finished execution always replays its terminal `done`.
 */

export type ExecutionEventType =
  | 'status'
  | 'block_start'
  | 'stdout'
  | 'stderr'
  | 'output'
  | 'test_result'
  | 'error'
  | 'block_end'
  | 'done';

export interface ExecutionEvent {
  id: number;
  type: ExecutionEventType;
  data: Record<string, unknown>;
  /** Epoch milliseconds when it was emitted. */
  at: number;
}

export interface Replay {
  events: ExecutionEvent[];
  /** Events after the requested id that are no longer buffered (0 when the replay is complete). */
  missed: number;
}

export class EventLog {
  private buffer: ExecutionEvent[] = [];
  /** Index of the oldest kept event in `buffer` (dropped ones are compacted away in batches). */
  private head = 0;
  private nextId = 1;
  private readonly listeners = new Set<(event: ExecutionEvent) => void>();

  constructor(
    private readonly maxEvents: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Id of the last event emitted (0 before the first). */
  get lastId(): number {
    return this.nextId - 1;
  }

  get size(): number {
    return this.buffer.length - this.head;
  }

  push(type: ExecutionEventType, data: Record<string, unknown>): ExecutionEvent {
    const event: ExecutionEvent = { id: this.nextId++, type, data, at: this.now() };
    this.buffer.push(event);
    this.prune();
    for (const listener of [...this.listeners]) listener(event);
    return event;
  }

  /** The buffered events after `lastId`, and how many after it were dropped. */
  since(lastId: number): Replay {
    this.prune();
    const kept = this.buffer.slice(this.head);
    const events = kept.filter((e) => e.id > lastId);
    const oldest = kept[0]?.id ?? this.nextId;
    const missed = Math.max(0, Math.min(oldest, this.nextId) - 1 - Math.max(0, lastId));
    return { events, missed };
  }

  /** Calls `listener` with every event from now on; returns the unsubscribe function. */
  subscribe(listener: (event: ExecutionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private prune(): void {
    const cutoff = this.now() - this.maxAgeMs;
    while (this.size > 1 && (this.size > this.maxEvents || this.buffer[this.head].at < cutoff)) this.head++;
    if (this.head > 1024 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
  }
}
