/**
 * Runs a SQL block in the embedded DuckDB: upstream outputs become temp views (`df_1`..., and the upstream
 * block uuids), the rendered script runs statement by statement, and the last query's rows are the output.
 */
import { RESULT_TABLE, type EngineContext, type EngineResult } from './engine.js';
import { RunStoppedError, SqlBlockError } from './errors.js';
import { missingInputReason } from './inputs.js';
import { blockTemplateScope } from './block-template.js';
import { quoteIdent, quoteString } from './sql-quote.js';
import { leadingKeyword, looksLikeQuery, splitStatements, writtenTableName, type SqlStatement } from './statements.js';
import { renderTemplate } from './template.js';
import { createTableFromRows, jsonValueToRows } from './upstream.js';

/** Statements DuckDB cannot use directly after `CREATE TABLE ... AS`; they are wrapped in a subquery. */
const WRAPPED_QUERY_KEYWORDS = new Set(['show', 'describe', 'desc', 'summarize', 'explain']);

/** The DuckDB message without its `LINE n:` echo (the traceback carries the statement). */
export function duckdbMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split(/\n\s*\nLINE \d+:/)[0].trim();
}

/** Runs `sql` on the context's connection, turning failures into DuckDBError with `statement` as traceback. */
async function exec(ctx: EngineContext, sql: string, statement: string): Promise<void> {
  ctx.control.check();
  try {
    await ctx.conn.run(sql);
  } catch (err) {
    if (ctx.control.reason) throw new RunStoppedError(ctx.control.reason);
    throw new SqlBlockError('DuckDBError', duckdbMessage(err), statement.split('\n'));
  }
}

/** Creates the temp views/tables for the inputs and returns the template's table names. */
async function prepareInputs(ctx: EngineContext): Promise<{ tables: Map<string, string>; unavailable: Map<string, string> }> {
  const tables = new Map<string, string>();
  const unavailable = new Map<string, string>();
  for (const input of ctx.inputs) {
    const dfName = `df_${input.position}`;
    if (!input.data) {
      unavailable.set(dfName, missingInputReason(input));
      if (input.blockUuid) unavailable.set(input.blockUuid, missingInputReason(input));
      continue;
    }
    if (input.data.kind === 'parquet') {
      const sql = `CREATE OR REPLACE TEMP VIEW ${quoteIdent(dfName)} AS SELECT * FROM read_parquet(${quoteString(input.data.path)})`;
      await exec(ctx, sql, sql);
    } else {
      try {
        await createTableFromRows(ctx.conn, dfName, jsonValueToRows(input.data.value), ctx.scratchDir);
      } catch (err) {
        if (ctx.control.reason) throw new RunStoppedError(ctx.control.reason);
        throw new SqlBlockError('DuckDBError', `Cannot load the output of upstream block '${input.blockUuid ?? dfName}' as a table: ${duckdbMessage(err)}`);
      }
    }
    tables.set(dfName, quoteIdent(dfName));
    if (input.blockUuid && !tables.has(input.blockUuid)) {
      const sql = `CREATE OR REPLACE TEMP VIEW ${quoteIdent(input.blockUuid)} AS SELECT * FROM ${quoteIdent(dfName)}`;
      await exec(ctx, sql, sql);
      tables.set(input.blockUuid, quoteIdent(input.blockUuid));
    }
  }
  return { tables, unavailable };
}

/** `CREATE TEMP TABLE <result> AS <query>` for a query statement. */
function materialiseSql(statement: SqlStatement): string {
  const target = `CREATE OR REPLACE TEMP TABLE ${quoteIdent(RESULT_TABLE)} AS `;
  return WRAPPED_QUERY_KEYWORDS.has(leadingKeyword(statement.text))
    ? `${target}SELECT * FROM (${statement.text}\n)`
    : `${target}${statement.text}`;
}

export async function runDuckDbBlock(ctx: EngineContext, source: string): Promise<EngineResult> {
  const { request } = ctx;
  await exec(ctx, `SET TimeZone = 'UTC'`, 'SET TimeZone');
  await exec(ctx, `SET file_search_path = ${quoteString(request.projectRoot)}`, 'SET file_search_path');
  const { tables, unavailable } = await prepareInputs(ctx);
  const scope = blockTemplateScope(request, { tables, unavailable, env: ctx.env, secrets: ctx.secrets });
  const sql = await renderTemplate(source, scope, { origin: `SQL block '${request.blockUuid}'` });
  const statements = splitStatements(sql);
  let hasResult = false;
  let lastWritten: string | null = null;
  for (const [i, statement] of statements.entries()) {
    ctx.log('DEBUG', `Executing statement ${i + 1}/${statements.length} (line ${statement.line})`);
    if (looksLikeQuery(statement.text)) {
      await exec(ctx, materialiseSql(statement), statement.text);
      hasResult = true;
    } else {
      await exec(ctx, statement.text, statement.text);
      lastWritten = writtenTableName(statement.text) ?? lastWritten;
    }
  }
  if (!hasResult && lastWritten) {
    // Mage reads back the table a script without a SELECT created or inserted into.
    const readBack = `CREATE OR REPLACE TEMP TABLE ${quoteIdent(RESULT_TABLE)} AS SELECT * FROM ${lastWritten}`;
    await exec(ctx, readBack, `SELECT * FROM ${lastWritten}`);
    hasResult = true;
  }
  return { hasResult };
}
