/**
 * Run logs in Mage's format (mage-api.md §3.9): one file per block under `.logs/<partition>/<block>.log` plus
 * `pipeline.log`, each line `<YYYY-mm-ddTHH:MM:SS> {json}` with level, message, timestamp, uuid and tags.
 * Lines are also published on `logBus` so the API can tail a running block run live (Server-Sent Events).
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { LogLine } from '../runtimes/types.js';
import { blockLogFile, pipelineLogFile } from '../variables/layout.js';

export interface LogTags {
  pipeline_uuid: string;
  block_uuid?: string;
  pipeline_run_id?: number | null;
  block_run_id?: number | null;
  [key: string]: unknown;
}

export interface PublishedLogLine {
  blockRunId: number;
  line: string;
}

/** Live log lines per block run: event name `block_run:<id>`, and `end:<id>` when that block run finishes. */
export const logBus = new EventEmitter();
logBus.setMaxListeners(0);

export function formatLogLine(line: LogLine, tags: LogTags): string {
  const when = new Date(line.timestamp * 1000).toISOString().slice(0, 19);
  const body = { level: line.level, message: line.message, timestamp: line.timestamp, uuid: randomUUID(), tags, ...tags };
  return `${when} ${JSON.stringify(body)}`;
}

/**
 * Folders this process has created for log files. A run's pipeline.log is opened once per line (a few lines
 * per run), and a synchronous mkdir each time cost more than the write; a folder removed since (a pipeline
 * deleted) is forgotten when its open fails, so the next file there creates it again.
 */
const knownDirs = new Set<string>();
const KNOWN_DIRS_MAX = 10_000;

/** Appends to one log file through a buffered stream; `close` flushes it. */
export class LogFile {
  private readonly stream: WriteStream;

  constructor(readonly path: string) {
    const dir = dirname(path);
    if (!knownDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      if (knownDirs.size >= KNOWN_DIRS_MAX) knownDirs.clear();
      knownDirs.add(dir);
    }
    this.stream = createWriteStream(path, { flags: 'a' });
    this.stream.on('error', () => {
      // A failing log disk must not crash a run; the line is lost and the run goes on.
      knownDirs.delete(dir);
    });
  }

  write(text: string): void {
    this.stream.write(text + '\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

/** `<dataDir>/pipelines/<p>/.logs/<partition>/<block>.log`; refuses uuids and partitions that leave the folder. */
export const blockLogPath = blockLogFile;

/** `<dataDir>/pipelines/<p>/.logs/<partition>/pipeline.log`. */
export const pipelineLogPath = pipelineLogFile;

/** Writes a block run's lines to its file and to the live bus. */
export class BlockRunLog {
  private readonly file: LogFile;

  constructor(
    path: string,
    private readonly tags: LogTags,
    private readonly blockRunId: number | null,
  ) {
    this.file = new LogFile(path);
  }

  get path(): string {
    return this.file.path;
  }

  write(line: LogLine): void {
    const text = formatLogLine(line, this.tags);
    this.file.write(text);
    if (this.blockRunId !== null) logBus.emit(`block_run:${this.blockRunId}`, text);
  }

  info(message: string): void {
    this.write({ level: 'INFO', message, timestamp: Date.now() / 1000 });
  }

  error(message: string): void {
    this.write({ level: 'ERROR', message, timestamp: Date.now() / 1000 });
  }

  async close(): Promise<void> {
    await this.file.close();
    if (this.blockRunId !== null) logBus.emit(`end:${this.blockRunId}`);
  }
}
