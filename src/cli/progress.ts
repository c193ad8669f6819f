/**
 * Live per-block progress of a run in the terminal: on a TTY, a table redrawn in place with a bar; otherwise
 * one line per status change (CI logs, pipes).
 */
import type { BlockRunStatus } from '../engine/statuses.js';

const SYMBOL: Record<BlockRunStatus, string> = {
  initial: '·',
  queued: '…',
  running: '▶',
  completed: '✔',
  failed: '✖',
  cancelled: '■',
  upstream_failed: '↯',
  condition_failed: '⤼',
};
const FINISHED = new Set<BlockRunStatus>(['completed', 'failed', 'cancelled', 'upstream_failed', 'condition_failed']);

export class ProgressView {
  private readonly statuses = new Map<string, BlockRunStatus>();
  private readonly startedAt = new Map<string, number>();
  private readonly durations = new Map<string, number>();
  private readonly errors = new Map<string, string>();
  private drawnLines = 0;
  private timer?: NodeJS.Timeout;
  private readonly tty: boolean;

  constructor(
    private readonly pipelineUuid: string,
    private readonly blocks: string[],
    private readonly out: NodeJS.WriteStream,
  ) {
    this.tty = Boolean(out.isTTY) && !process.env.CI;
    for (const b of blocks) this.statuses.set(b, 'initial');
  }

  start(runId: number): void {
    this.out.write(`Running pipeline ${this.pipelineUuid} (run ${runId}, ${this.blocks.length} blocks)\n`);
    if (this.tty) {
      this.draw();
      this.timer = setInterval(() => this.draw(), 200);
    }
  }

  update(block: string, status: BlockRunStatus, error?: string): void {
    this.statuses.set(block, status);
    if (status === 'running') this.startedAt.set(block, Date.now());
    if (FINISHED.has(status) && this.startedAt.has(block)) this.durations.set(block, Date.now() - this.startedAt.get(block)!);
    if (error) this.errors.set(block, error);
    if (this.tty) this.draw();
    else {
      const ms = this.durations.get(block);
      this.out.write(`  ${SYMBOL[status]} ${block} ${status}${ms !== undefined && FINISHED.has(status) ? ` (${ms} ms)` : ''}${error ? `: ${error}` : ''}\n`);
    }
  }

  finish(status: string): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) this.draw();
    this.out.write(`Pipeline run ${status}.\n`);
  }

  private draw(): void {
    const done = [...this.statuses.values()].filter((s) => FINISHED.has(s)).length;
    const width = 30;
    const filled = Math.round((done / Math.max(1, this.blocks.length)) * width);
    const lines = [`[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${done}/${this.blocks.length} blocks`];
    for (const b of this.blocks) {
      const s = this.statuses.get(b)!;
      const ms = this.durations.get(b) ?? (s === 'running' ? Date.now() - (this.startedAt.get(b) ?? Date.now()) : undefined);
      const err = this.errors.get(b);
      lines.push(`  ${SYMBOL[s]} ${b.padEnd(32)} ${s.padEnd(16)} ${ms !== undefined ? `${(ms / 1000).toFixed(1)}s` : ''}${err ? `  ${err.slice(0, 80)}` : ''}`);
    }
    if (this.drawnLines) this.out.write(`\x1b[${this.drawnLines}A`);
    this.out.write(lines.map((l) => `\x1b[2K${l}`).join('\n') + '\n');
    this.drawnLines = lines.length;
  }
}
