/**
 * The runtime for `sql` blocks. The default engine is an embedded DuckDB (one instance per runtime, a fresh
 * connection per request so temp views never leak between requests); `data_provider: postgres` and `mysql`
 * run against the database of an io_config.yaml profile. Results are written as a DataFrame output.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { BlockErrorInfo, BlockLanguage, BlockRunRequest, BlockRunResult, BlockRuntime, LogLevel } from '../types.js';
import { runDuckDbBlock } from './duckdb-engine.js';
import { RESULT_TABLE, type EngineContext, type EngineResult } from './engine.js';
import { RunStoppedError, SqlBlockError, type StopReason } from './errors.js';
import { collectInputs } from './inputs.js';
import { MysqlDialect } from './mysql-dialect.js';
import { readTableRows, writeEmptyOutput, writeTableOutput } from './output-writer.js';
import { PostgresDialect } from './postgres-dialect.js';
import type { RemoteDialect } from './remote-dialect.js';
import { runRemoteBlock } from './remote-engine.js';
import { RunControl } from './run-control.js';
import { SQL_TABLE_MARKER } from './upstream.js';

export interface SqlRuntimeOptions {
  /** DuckDB database file for the embedded engine. Default `:memory:` (nothing persists between restarts). */
  duckdbPath?: string;
  /** DuckDB configuration options passed at instance creation, e.g. `{ threads: '2', memory_limit: '1GB' }`. Default none. */
  duckdbConfig?: Record<string, string>;
  /** Folder for per-request scratch files (JSON inputs staged for DuckDB). Default `os.tmpdir()`. */
  scratchRoot?: string;
}

/** Providers the runtime accepts in `configuration.data_provider` (absent means duckdb). */
export const SUPPORTED_PROVIDERS = ['duckdb', 'postgres', 'mysql'] as const;

interface Outcome {
  result: BlockRunResult;
}

export class SqlRuntime implements BlockRuntime {
  readonly languages: readonly BlockLanguage[] = ['sql'];
  private instance: Promise<DuckDBInstance> | null = null;
  private readonly dialects: Record<string, RemoteDialect> = { postgres: new PostgresDialect(), mysql: new MysqlDialect() };
  private readonly active = new Map<RunControl, Promise<unknown>>();
  private closed = false;

  constructor(private readonly options: SqlRuntimeOptions = {}) {}

  async warm(): Promise<void> {
    await this.duckdb();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const control of this.active.keys()) control.stop('cancelled');
    await Promise.allSettled([...this.active.values()]);
    await Promise.all(Object.values(this.dialects).map((d) => d.close()));
    const instance = this.instance;
    this.instance = null;
    if (instance) (await instance.catch(() => null))?.closeSync();
  }

  async run(request: BlockRunRequest): Promise<BlockRunResult> {
    if (this.closed) return failure('block_execution_failed', 'RuntimeError', 'The SQL runtime is closed');
    if (request.mode !== 'run') {
      return failure('block_execution_failed', 'ValueError', `SQL blocks have only a query to run; mode '${request.mode}' is not supported`);
    }
    const control = new RunControl(request.signal, request.timeoutMs);
    if (control.reason) return stopFailure(control.reason, request);
    const secrets = new Set<string>();
    const work = this.execute(request, control, secrets);
    this.active.set(control, work);
    try {
      const outcome = await Promise.race([work, control.stopped().then((reason) => ({ result: stopFailure(reason, request) }))]);
      const result = redactResult(outcome.result, secrets);
      if (!result.ok) request.onLog?.(logLine('ERROR', `${result.error.exception}: ${result.error.message}`));
      return result;
    } finally {
      void work.finally(() => {
        this.active.delete(control);
        control.dispose();
      });
    }
  }

  private duckdb(): Promise<DuckDBInstance> {
    if (!this.instance) {
      this.instance = DuckDBInstance.create(this.options.duckdbPath ?? ':memory:', this.options.duckdbConfig);
      this.instance.catch(() => {
        this.instance = null;
      });
    }
    return this.instance;
  }

  /** Runs the block; never rejects. */
  private async execute(request: BlockRunRequest, control: RunControl, secrets: Set<string>): Promise<Outcome> {
    let conn: DuckDBConnection | null = null;
    let unhookInterrupt: (() => void) | null = null;
    let scratchDir: string | null = null;
    try {
      const provider = request.configuration.data_provider ?? 'duckdb';
      if (typeof provider !== 'string' || !(SUPPORTED_PROVIDERS as readonly string[]).includes(provider)) {
        throw new SqlBlockError('ValueError', `data_provider ${JSON.stringify(provider)} is not supported (supported: ${SUPPORTED_PROVIDERS.join(', ')})`);
      }
      const source = await readBlockFile(request.filePath);
      scratchDir = await mkdtemp(join(this.options.scratchRoot ?? tmpdir(), 'blockflow-sql-'));
      conn = await (await this.duckdb()).connect();
      const connection = conn;
      // Covers the engine and the output COPY statements, which can be long for big results.
      unhookInterrupt = control.onStop(() => connection.interrupt());
      const ctx: EngineContext = {
        request,
        conn,
        scratchDir,
        control,
        inputs: await collectInputs(request),
        env: { ...process.env, ...request.env },
        log: (level, message) => request.onLog?.(logLine(level, redact(message, secrets))),
        secrets,
      };
      ctx.log('INFO', `Running SQL block ${request.blockUuid} with ${provider}`);
      const engine: EngineResult =
        provider === 'duckdb' ? await runDuckDbBlock(ctx, source) : await runRemoteBlock(ctx, source, this.dialects[provider]);
      control.check();
      if (request.outputDir) {
        if (engine.hasResult) {
          const extra = engine.sqlTable ? { [SQL_TABLE_MARKER]: engine.sqlTable } : {};
          await writeTableOutput(conn, RESULT_TABLE, request.outputDir, extra, () => control.check());
        } else {
          await writeEmptyOutput(request.outputDir);
        }
      }
      const outputs = request.returnOutputs ? (engine.hasResult ? [await readTableRows(conn, RESULT_TABLE)] : []) : undefined;
      control.check();
      ctx.log('INFO', engine.hasResult ? 'SQL block produced 1 output (a table)' : 'SQL block produced no output');
      return { result: { ok: true, outputCount: engine.hasResult ? 1 : 0, ...(outputs ? { outputs } : {}) } };
    } catch (err) {
      return { result: errorResult(err, control, request) };
    } finally {
      unhookInterrupt?.();
      if (conn) {
        try {
          conn.closeSync();
        } catch {
          // The connection is gone already (instance closed); nothing to release.
        }
      }
      if (scratchDir) await rm(scratchDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

async function readBlockFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new SqlBlockError('FileNotFoundError', `Cannot read the SQL block file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

const REDACTED = '******';

/** `text` with every secret value replaced (longest first, so a secret containing another is fully hidden). */
export function redact(text: string, secrets: ReadonlySet<string>): string {
  let out = text;
  for (const secret of [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  return out;
}

function redactResult(result: BlockRunResult, secrets: ReadonlySet<string>): BlockRunResult {
  if (result.ok || secrets.size === 0) return result;
  const { error } = result;
  return { ...result, error: { ...error, message: redact(error.message, secrets), traceback: error.traceback.map((l) => redact(l, secrets)) } };
}

function logLine(level: LogLevel, message: string) {
  return { level, message, timestamp: Date.now() / 1000 };
}

function failure(type: BlockErrorInfo['type'], exception: string, message: string, traceback: string[] = []): BlockRunResult {
  return { ok: false, error: { type, exception, message, traceback } };
}

function stopFailure(reason: StopReason, request: BlockRunRequest): BlockRunResult {
  return reason === 'timeout'
    ? failure('timeout', 'TimeoutError', `Block ${request.blockUuid} exceeded its timeout of ${request.timeoutMs} ms`)
    : failure('cancelled', 'CancelledError', `Block ${request.blockUuid} was cancelled`);
}

function errorResult(err: unknown, control: RunControl, request: BlockRunRequest): BlockRunResult {
  if (err instanceof RunStoppedError) return stopFailure(err.reason, request);
  if (control.reason) return stopFailure(control.reason, request);
  if (err instanceof SqlBlockError) return failure('block_execution_failed', err.exception, err.message, err.traceback);
  const e = err instanceof Error ? err : new Error(String(err));
  return failure('block_execution_failed', e.name || 'Error', e.message);
}
