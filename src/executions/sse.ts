/**
 * One execution's events as a Server-Sent Events stream on a raw Node response (the route has hijacked it):
 * `id: <seq>`, `event: <type>`, `data: <json>` per event; first the buffered events after `Last-Event-ID`, then
 * the live ones; `: ping` every heartbeat; the stream ends after `done`. When events after `Last-Event-ID` were
 * already dropped from the buffer, a `gap` event (no id) says how many, so the client can fetch the snapshot
 * (GET /api/executions/{id}) instead.
 */
import type { ServerResponse } from 'node:http';
import type { ExecutionEvent } from './eventLog.js';
import type { Execution } from './execution.js';

export interface EventStreamOptions {
  heartbeatMs: number;
  /** The id of the last event the client has (Last-Event-ID), or null for the whole stream. */
  lastEventId: number | null;
  /** Unsent bytes above which a slow client's stream is closed (it reconnects with Last-Event-ID). */
  maxBacklogBytes: number;
  /** Extra response headers (CORS). */
  headers?: Record<string, string>;
}

export function frame(event: ExecutionEvent): string {
  // JSON.stringify never emits a raw newline, so one data line holds the whole event.
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/** The Last-Event-ID header (or `last_event_id` query value) as a sequence number, or null. */
export function parseLastEventId(value: unknown): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw.trim())) return null;
  return Number(raw.trim());
}

/** Serves the stream; returns the function that ends it (idempotent). */
export function serveEventStream(execution: Execution, res: ServerResponse, options: EventStreamOptions): () => void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...options.headers,
  });
  let ended = false;
  let unsubscribe: () => void = () => undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  const end = () => {
    if (ended) return;
    ended = true;
    unsubscribe();
    clearInterval(heartbeat);
    if (!res.writableEnded) res.end();
  };
  const write = (text: string) => {
    if (ended) return;
    res.write(text);
    if (res.writableLength > options.maxBacklogBytes) {
      // The client is not reading; drop it rather than buffer without bound. It reconnects with Last-Event-ID.
      ended = true;
      unsubscribe();
      clearInterval(heartbeat);
      res.destroy();
    }
  };
  const send = (event: ExecutionEvent) => {
    write(frame(event));
    if (event.type === 'done') end();
  };
  // The response's close: the client went away (or the stream ended). The request's own close event is not used:
  // it may fire once the request has been read, while the response goes on.
  res.on('close', end);
  res.on('error', end);

  write('retry: 3000\n\n');
  // Replay and subscription happen in one synchronous step, so no event falls between them.
  const replay = execution.events.since(options.lastEventId ?? 0);
  if (replay.missed > 0) {
    write(`event: gap\ndata: ${JSON.stringify({ missed: replay.missed, first_id: replay.events[0]?.id ?? null, snapshot_url: `/api/executions/${execution.id}` })}\n\n`);
  }
  for (const event of replay.events) {
    send(event);
    if (ended) return end;
  }
  // Finished, and the client already had its `done`: nothing more will come.
  if (!execution.active) {
    end();
    return end;
  }
  unsubscribe = execution.events.subscribe(send);
  heartbeat = setInterval(() => write(': ping\n\n'), options.heartbeatMs);
  heartbeat.unref();
  return end;
}
