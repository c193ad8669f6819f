/** Quoting of identifiers and string literals for the SQL dialects the runtime generates statements for. */

/** A double-quoted identifier (DuckDB, PostgreSQL). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A backtick-quoted identifier (MySQL, MariaDB). */
export function quoteMysqlIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** A single-quoted string literal with standard `''` escaping (DuckDB, PostgreSQL with standard strings). */
export function quoteString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
