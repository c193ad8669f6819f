/**
 * Runs a SQL block against PostgreSQL or MySQL (configuration.data_provider) with the connection settings
 * of an io_config.yaml profile. Upstream outputs are exported into tables of the same database first (as
 * Mage does) and `{{ df_1 }}` names them. Unless `use_raw_sql` is set, the script's last query is
 * materialised into `data_provider_schema.data_provider_table` following `export_write_policy`, and the
 * table's first `limit` rows are the block's output.
 */
import { RESULT_TABLE, type EngineContext, type EngineResult } from './engine.js';
import { RunStoppedError, SqlBlockError } from './errors.js';
import { missingInputReason } from './inputs.js';
import { loadIoConfigProfile } from './io-config.js';
import { blockTemplateScope } from './block-template.js';
import { describeTable, readTableRows } from './output-writer.js';
import type { RemoteDialect, RemoteQueryResult, RemoteSession } from './remote-dialect.js';
import { quoteIdent, quoteString } from './sql-quote.js';
import { looksLikeQuery, splitStatements, writtenTableName } from './statements.js';
import { blockTableName } from './table-name.js';
import { renderTemplate } from './template.js';
import { createTableFromRows, jsonValueToRows, type SqlTableMarker } from './upstream.js';

/** Rows read back from the materialised table when configuration.limit is not set (Mage's default). */
export const DEFAULT_LIMIT = 1000;

export type ExportWritePolicy = 'append' | 'replace' | 'fail';

function writePolicy(value: unknown): ExportWritePolicy {
  if (value === undefined || value === null || value === '') return 'append';
  if (value === 'append' || value === 'replace' || value === 'fail') return value;
  throw new SqlBlockError('ValueError', `Invalid export_write_policy ${JSON.stringify(value)}: expected append, replace or fail`);
}

function rowLimit(value: unknown): number {
  if (value === undefined || value === null || value === '') return DEFAULT_LIMIT;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new SqlBlockError('ValueError', `Invalid limit ${JSON.stringify(value)}: expected a non-negative integer`);
  return n;
}

/** The driver's message plus PostgreSQL's detail and hint when present. */
function driverMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { detail?: string; hint?: string; code?: string };
  const parts = [e.message || e.code || 'connection failed'];
  if (e.detail) parts.push(`DETAIL: ${e.detail}`);
  if (e.hint) parts.push(`HINT: ${e.hint}`);
  return parts.join('\n');
}

class RemoteRun {
  broken = false;

  constructor(
    private readonly ctx: EngineContext,
    private readonly dialect: RemoteDialect,
    readonly session: RemoteSession,
  ) {}

  /** Runs one statement; failures become `<Dialect>Error` with `traceback` as the failing SQL. */
  async query(sql: string, traceback: string = sql): Promise<RemoteQueryResult> {
    return this.step(() => this.session.query(sql), traceback);
  }

  async step<T>(fn: () => Promise<T>, traceback: string): Promise<T> {
    this.ctx.control.check();
    try {
      return await fn();
    } catch (err) {
      if (this.ctx.control.reason) {
        this.broken = true;
        throw new RunStoppedError(this.ctx.control.reason);
      }
      if (err instanceof SqlBlockError) throw err;
      throw new SqlBlockError(this.dialect.exceptionName, driverMessage(err), traceback.split('\n'));
    }
  }
}

export async function runRemoteBlock(ctx: EngineContext, source: string, dialect: RemoteDialect): Promise<EngineResult> {
  const { request } = ctx;
  const cfg = request.configuration;
  const profile = typeof cfg.data_provider_profile === 'string' && cfg.data_provider_profile ? cfg.data_provider_profile : 'default';
  const policy = writePolicy(cfg.export_write_policy);
  const limit = rowLimit(cfg.limit);
  const settings = await loadIoConfigProfile(
    { projectRoot: request.projectRoot, env: ctx.env, getSecret: request.getSecret, secrets: ctx.secrets },
    profile,
  );
  const schema = dialect.schemaFor(settings, cfg);
  const env = request.kwargs.env;
  const q = (name: string): string => dialect.quoteIdent(name);

  ctx.control.check();
  let session: RemoteSession;
  try {
    session = await dialect.connect(settings);
  } catch (err) {
    throw new SqlBlockError(dialect.exceptionName, `Cannot connect with io_config profile '${profile}': ${driverMessage(err)}`);
  }
  const run = new RemoteRun(ctx, dialect, session);
  const unhook = ctx.control.onStop(() => session.cancel());
  try {
    const tables = new Map<string, string>();
    const unavailable = new Map<string, string>();
    for (const input of ctx.inputs) {
      const dfName = `df_${input.position}`;
      if (!input.data) {
        unavailable.set(dfName, missingInputReason(input));
        if (input.blockUuid) unavailable.set(input.blockUuid, missingInputReason(input));
        continue;
      }
      let ref: string;
      const marker = input.data.kind === 'parquet' ? input.data.sqlTable : undefined;
      if (marker && marker.data_provider === dialect.provider && marker.data_provider_profile === profile) {
        ref = `${q(marker.schema)}.${q(marker.table)}`;
      } else {
        const table = blockTableName(request.pipelineUuid, input.blockUuid ?? dfName, env);
        await exportInput(ctx, run, schema, table, input.position, input.data);
        ref = `${q(schema)}.${q(table)}`;
      }
      tables.set(dfName, ref);
      if (input.blockUuid && !tables.has(input.blockUuid)) tables.set(input.blockUuid, ref);
    }

    const scope = blockTemplateScope(request, { tables, unavailable, env: ctx.env, secrets: ctx.secrets });
    const sql = await renderTemplate(source, scope, { origin: `SQL block '${request.blockUuid}'` });
    const statements = splitStatements(sql, dialect.split);
    let queryIndex = -1;
    if (cfg.use_raw_sql !== true) {
      statements.forEach((s, i) => {
        if (looksLikeQuery(s.text)) queryIndex = i;
      });
    }
    const table = blockTableName(request.pipelineUuid, request.blockUuid, env, cfg.data_provider_table);
    const full = `${q(schema)}.${q(table)}`;
    let last: RemoteQueryResult | null = null;
    let lastWritten: string | null = null;
    for (const [i, statement] of statements.entries()) {
      ctx.log('DEBUG', `Executing statement ${i + 1}/${statements.length} (line ${statement.line})`);
      if (i === queryIndex) {
        await materialise(run, statement.text, schema, table, full, policy);
        continue;
      }
      const result = await run.query(statement.text);
      if (result.columns) last = result;
      else lastWritten = writtenTableName(statement.text) ?? lastWritten;
    }
    let sqlTable: SqlTableMarker | undefined;
    if (queryIndex >= 0) {
      last = await run.query(`SELECT * FROM ${full} LIMIT ${limit}`);
      sqlTable = { data_provider: dialect.provider, data_provider_profile: profile, schema, table };
      ctx.log('INFO', `Wrote the query result to ${schema}.${table} (export_write_policy: ${policy})`);
    } else if (!last && lastWritten) {
      // Mage reads back the table a raw script created or inserted into when it ends without a SELECT.
      last = await run.query(`SELECT * FROM ${lastWritten} LIMIT ${limit}`);
    }
    if (!last?.columns) return { hasResult: false };
    const columnTypes = last.columns.map((c): [string, string] => [c.name, c.duckdbType]);
    await createTableFromRows(ctx.conn, RESULT_TABLE, last.rows, ctx.scratchDir, columnTypes);
    return { hasResult: true, sqlTable };
  } finally {
    unhook();
    session.release(run.broken);
  }
}

async function materialise(
  run: RemoteRun,
  query: string,
  schema: string,
  table: string,
  full: string,
  policy: ExportWritePolicy,
): Promise<void> {
  const exists = await run.step(() => run.session.tableExists(schema, table), query);
  if (exists && policy === 'fail') {
    throw new SqlBlockError('ValueError', `Table ${schema}.${table} already exists in database (export_write_policy: fail)`, query.split('\n'));
  }
  if (exists && policy === 'append') {
    await run.query(`INSERT INTO ${full}\n${query}`, query);
    return;
  }
  if (exists) await run.query(`DROP TABLE ${full}`, query);
  else await run.step(() => run.session.ensureSchema(schema), query);
  await run.query(`CREATE TABLE ${full} AS\n${query}`, query);
}

/** Exports an input (upstream output or inline value) into `schema.table`, replacing that table. */
async function exportInput(
  ctx: EngineContext,
  run: RemoteRun,
  schema: string,
  table: string,
  position: number,
  data: NonNullable<EngineContext['inputs'][number]['data']>,
): Promise<void> {
  const staging = `__blockflow_upstream_${position}`;
  try {
    if (data.kind === 'parquet') {
      await ctx.conn.run(`CREATE OR REPLACE TEMP VIEW ${quoteIdent(staging)} AS SELECT * FROM read_parquet(${quoteString(data.path)})`);
    } else {
      await createTableFromRows(ctx.conn, staging, jsonValueToRows(data.value), ctx.scratchDir);
    }
  } catch (err) {
    throw new SqlBlockError('DuckDBError', `Cannot read the output of upstream input df_${position}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const columns = (await describeTable(ctx.conn, staging)).map((c) => ({ name: c.name, type: c.type }));
  const rows = await readTableRows(ctx.conn, staging);
  const label = `export of df_${position} into ${schema}.${table}`;
  await run.step(() => run.session.ensureSchema(schema), label);
  await run.step(() => run.session.recreateTable(schema, table, columns), label);
  await run.step(() => run.session.insertRows(schema, table, columns, rows), label);
  ctx.log('INFO', `Exported upstream input df_${position} (${rows.length} rows) to ${schema}.${table}`);
}
