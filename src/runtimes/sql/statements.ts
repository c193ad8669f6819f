/**
 * Splits a SQL script into statements on top-level semicolons, skipping quoted strings, quoted identifiers,
 * comments and PostgreSQL dollar-quoted bodies, and classifies statements by their leading keyword.
 */

export interface SqlStatement {
  /** The statement text without its terminating semicolon, trimmed. */
  text: string;
  /** 1-based line in the script where the statement starts. */
  line: number;
}

export interface SplitOptions {
  /** MySQL/MariaDB treat `\` as an escape inside string literals (default false). */
  backslashEscapes?: boolean;
  /** MySQL/MariaDB quote identifiers with backticks (default false). */
  backtickIdentifiers?: boolean;
}

/** Splits `script` into its non-empty statements (statements that are only comments are dropped). */
export function splitStatements(script: string, options: SplitOptions = {}): SqlStatement[] {
  const out: SqlStatement[] = [];
  let start = 0;
  let i = 0;
  const n = script.length;
  const push = (end: number): void => {
    const raw = script.slice(start, end);
    if (stripComments(raw).trim().length > 0) {
      const lead = raw.length - raw.trimStart().length;
      out.push({ text: raw.trim(), line: lineOf(script, start + lead) });
    }
  };
  while (i < n) {
    const ch = script[i];
    const next = script[i + 1];
    if (ch === '-' && next === '-') {
      const eol = script.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
    } else if (ch === '#' && options.backtickIdentifiers) {
      const eol = script.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
    } else if (ch === '/' && next === '*') {
      const close = script.indexOf('*/', i + 2);
      i = close === -1 ? n : close + 2;
    } else if (ch === "'" || ch === '"' || (ch === '`' && options.backtickIdentifiers)) {
      i = skipQuoted(script, i, ch, ch === "'" && (options.backslashEscapes ?? false));
    } else if (ch === '$') {
      const tag = /^\$[A-Za-z_]?[A-Za-z0-9_]*\$/.exec(script.slice(i, i + 64));
      if (tag && !/^\$[0-9]/.test(tag[0])) {
        const close = script.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? n : close + tag[0].length;
      } else {
        i += 1;
      }
    } else if (ch === ';') {
      push(i);
      i += 1;
      start = i;
    } else {
      i += 1;
    }
  }
  push(n);
  return out;
}

function skipQuoted(script: string, from: number, quote: string, backslash: boolean): number {
  let i = from + 1;
  while (i < script.length) {
    const ch = script[i];
    if (backslash && ch === '\\') {
      i += 2;
    } else if (ch === quote) {
      if (script[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i += 1;
    }
  }
  return script.length;
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i += 1) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

/** Removes `--` and `/* *\/` comments (used only for classification; quotes are not tracked). */
function stripComments(sql: string): string {
  return sql.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' ');
}

/** The statement's first keyword in lower case, ignoring comments and opening parentheses. */
export function leadingKeyword(sql: string): string {
  const m = /^[\s(]*([A-Za-z_]+)/.exec(stripComments(sql));
  return m ? m[1].toLowerCase() : '';
}

const QUERY_KEYWORDS = new Set(['select', 'with', 'values', 'table', 'from', 'show', 'describe', 'desc', 'explain', 'summarize', 'pivot', 'unpivot']);

/**
 * Whether a statement reads rows (a query) judging by its leading keyword. `WITH ... INSERT/UPDATE/DELETE`
 * (PostgreSQL data-modifying CTEs) counts as a query only when no top-level DML keyword follows the CTEs.
 */
export function looksLikeQuery(sql: string): boolean {
  const kw = leadingKeyword(sql);
  if (!QUERY_KEYWORDS.has(kw)) return false;
  if (kw === 'with') return !/\)\s*(insert|update|delete|merge)\b/i.test(stripComments(sql));
  return true;
}

/**
 * The table a `CREATE TABLE ... ` or `INSERT INTO ...` statement writes to, as written (possibly qualified and
 * quoted), or null. Mage reads such a table back when a raw SQL block ends without a SELECT.
 */
export function writtenTableName(sql: string): string | null {
  const text = stripComments(sql);
  const ident = String.raw`((?:[A-Za-z0-9_$]+|"[^"]+"|\x60[^\x60]+\x60)(?:\.(?:[A-Za-z0-9_$]+|"[^"]+"|\x60[^\x60]+\x60)){0,2})`;
  const create = new RegExp(
    String.raw`^\s*create\s+(?:or\s+replace\s+)?(?:(?:temp|temporary)\s+)?table\s+(?:if\s+not\s+exists\s+)?` + ident,
    'i',
  ).exec(text);
  if (create) return create[1];
  const insert = new RegExp(String.raw`^\s*insert\s+(?:or\s+\w+\s+)?into\s+` + ident, 'i').exec(text);
  return insert ? insert[1] : null;
}
