/**
 * A block run's log lines as `stdout` / `stderr` events: lines are gathered for at most `batchMs` and sent
 * together (a change of stream sends what was gathered first, so the order of lines is kept); lines are cut at
 * `maxLineChars` and at most `maxLines` lines per block run are sent. A cut line or the batch reaching the cap
 * carries `truncated: true`; lines beyond the cap are counted and reported once when the block run ends
 * (`{lines: [], truncated: true, dropped_lines: n}`).
 *
 * Which stream: DEBUG and INFO lines (print(), console.log, logger.info) are stdout; WARNING, ERROR and CRITICAL
 * (Python's sys.stderr and logger.warning, console.warn/error, process stderr) are stderr.
 */
import type { LogLine } from '../runtimes/types.js';

export type LogStream = 'stdout' | 'stderr';

export interface LogBatcherOptions {
  batchMs: number;
  maxLines: number;
  maxLineChars: number;
}

export function streamOf(line: LogLine): LogStream {
  return line.level === 'DEBUG' || line.level === 'INFO' ? 'stdout' : 'stderr';
}

export class LogBatcher {
  private stream: LogStream = 'stdout';
  private lines: string[] = [];
  private truncated = false;
  private timer: NodeJS.Timeout | null = null;
  private sent = 0;
  private dropped = 0;
  private closed = false;

  constructor(
    private readonly blockUuid: string,
    private readonly emit: (stream: LogStream, data: Record<string, unknown>) => void,
    private readonly options: LogBatcherOptions,
  ) {}

  add(line: LogLine): void {
    this.write(streamOf(line), line.message);
  }

  write(stream: LogStream, text: string): void {
    if (this.closed) return;
    if (stream !== this.stream) {
      this.flush();
      this.stream = stream;
    }
    for (const raw of text.split('\n')) {
      if (this.sent + this.lines.length >= this.options.maxLines) {
        this.dropped++;
        this.truncated = true;
        continue;
      }
      if (raw.length > this.options.maxLineChars) {
        this.lines.push(raw.slice(0, this.options.maxLineChars));
        this.truncated = true;
      } else {
        this.lines.push(raw);
      }
    }
    if (this.lines.length > 0 && this.timer === null) this.timer = setTimeout(() => this.flush(), this.options.batchMs);
  }

  /** Sends what is gathered now. */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.lines.length === 0) return;
    const lines = this.lines;
    this.lines = [];
    this.sent += lines.length;
    const truncated = this.truncated;
    this.truncated = false;
    this.emit(this.stream, { block_uuid: this.blockUuid, lines, truncated });
  }

  /** Sends the rest, and the count of lines over the cap; later lines are ignored. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.dropped > 0) this.emit(this.stream, { block_uuid: this.blockUuid, lines: [], truncated: true, dropped_lines: this.dropped });
  }
}
