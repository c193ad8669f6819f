/** MySQL and MariaDB through `mysql2`: pooled connections per io_config profile, result typing and table export. */
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import mysql from 'mysql2/promise';
import { SqlBlockError } from './errors.js';
import { settingString } from './io-config.js';
import type { RemoteColumn, RemoteDialect, RemoteQueryResult, RemoteSession } from './remote-dialect.js';
import { decimalSpec, decimalText, integerText, isNestedType, isTimestampType } from './remote-values.js';
import { quoteMysqlIdent } from './sql-quote.js';

/** mysql2 column type codes (protocol MYSQL_TYPE_*). */
const T = {
  DECIMAL: 0, TINY: 1, SHORT: 2, LONG: 3, FLOAT: 4, DOUBLE: 5, TIMESTAMP: 7, LONGLONG: 8, INT24: 9, DATE: 10,
  DATETIME: 12, YEAR: 13, NEWDATE: 14, JSON: 245, NEWDECIMAL: 246,
} as const;
const UNSIGNED_FLAG = 32;

function duckdbTypeOf(field: mysql.FieldPacket): string {
  const unsigned = typeof field.flags === 'number' ? (field.flags & UNSIGNED_FLAG) !== 0 : (field.flags ?? []).includes('UNSIGNED');
  switch (field.columnType ?? field.type) {
    case T.TINY: return 'SMALLINT';
    case T.SHORT: return unsigned ? 'INTEGER' : 'SMALLINT';
    case T.INT24: return 'INTEGER';
    case T.LONG: return unsigned ? 'BIGINT' : 'INTEGER';
    case T.LONGLONG: return unsigned ? 'UBIGINT' : 'BIGINT';
    case T.YEAR: return 'INTEGER';
    case T.FLOAT: return 'FLOAT';
    case T.DOUBLE: case T.DECIMAL: case T.NEWDECIMAL: return 'DOUBLE';
    case T.DATE: case T.NEWDATE: return 'DATE';
    case T.DATETIME: case T.TIMESTAMP: return 'TIMESTAMP';
    case T.JSON: return 'JSON';
    default: return 'VARCHAR';
  }
}

function normaliseValue(type: string, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if ((type === 'BIGINT' || type === 'UBIGINT') && typeof value === 'string') return integerText(value);
  if (type === 'DOUBLE' && typeof value === 'string') return decimalText(value);
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return value;
}

/** The MySQL column type for a DuckDB type when exporting an upstream output. */
function mysqlType(type: DuckDBType): string {
  if (isNestedType(type)) return 'JSON';
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN: return 'BOOLEAN';
    case DuckDBTypeId.TINYINT: return 'TINYINT';
    case DuckDBTypeId.SMALLINT: case DuckDBTypeId.UTINYINT: return 'SMALLINT';
    case DuckDBTypeId.INTEGER: case DuckDBTypeId.USMALLINT: return 'INT';
    case DuckDBTypeId.BIGINT: case DuckDBTypeId.UINTEGER: return 'BIGINT';
    case DuckDBTypeId.UBIGINT: return 'BIGINT UNSIGNED';
    case DuckDBTypeId.HUGEINT: case DuckDBTypeId.UHUGEINT: case DuckDBTypeId.BIGNUM: return 'DECIMAL(65,0)';
    case DuckDBTypeId.FLOAT: return 'FLOAT';
    case DuckDBTypeId.DOUBLE: return 'DOUBLE';
    case DuckDBTypeId.DECIMAL: return `DECIMAL${decimalSpec(type)}`;
    case DuckDBTypeId.DATE: return 'DATE';
    case DuckDBTypeId.TIME: return 'TIME(6)';
    case DuckDBTypeId.TIMESTAMP: case DuckDBTypeId.TIMESTAMP_S: case DuckDBTypeId.TIMESTAMP_MS: case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.TIMESTAMP_TZ: return 'DATETIME(6)';
    case DuckDBTypeId.UUID: return 'CHAR(36)';
    default: return 'LONGTEXT';
  }
}

/** `2024-01-02T03:04:05.5+00:00` -> `2024-01-02 03:04:05.5` (DuckDB sessions run in UTC). */
function mysqlDatetime(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return value.replace('T', ' ').replace(/(Z|[+-]\d{2}(:?\d{2})?)$/, '');
}

const ROWS_PER_INSERT = 1000;

class MysqlSession implements RemoteSession {
  constructor(
    private readonly pool: mysql.Pool,
    private readonly conn: mysql.PoolConnection,
  ) {}

  async query(sql: string): Promise<RemoteQueryResult> {
    const [rows, fields] = await this.conn.query(sql);
    if (!Array.isArray(rows) || !Array.isArray(fields) || fields.length === 0 || Array.isArray(fields[0])) {
      return { columns: null, rows: [] };
    }
    const fieldList = fields as mysql.FieldPacket[];
    const columns: RemoteColumn[] = fieldList.map((f) => ({ name: f.name, duckdbType: duckdbTypeOf(f) }));
    const out = (rows as Record<string, unknown>[]).map((row) => {
      const obj: Record<string, unknown> = {};
      columns.forEach((c) => {
        obj[c.name] = normaliseValue(c.duckdbType, row[c.name]);
      });
      return obj;
    });
    return { columns, rows: out };
  }

  async tableExists(schema: string, table: string): Promise<boolean> {
    const [rows] = await this.conn.query('SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [schema, table]);
    return Array.isArray(rows) && rows.length > 0;
  }

  async ensureSchema(): Promise<void> {
    // MySQL schemas are databases; the profile's database must already exist.
  }

  async recreateTable(schema: string, table: string, columns: { name: string; type: DuckDBType }[]): Promise<void> {
    const full = `${quoteMysqlIdent(schema)}.${quoteMysqlIdent(table)}`;
    await this.conn.query(`DROP TABLE IF EXISTS ${full}`);
    const defs = columns.map((c) => `${quoteMysqlIdent(c.name)} ${mysqlType(c.type)}`).join(', ');
    await this.conn.query(`CREATE TABLE ${full} (${defs})`);
  }

  async insertRows(schema: string, table: string, columns: { name: string; type: DuckDBType }[], rows: Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0 || columns.length === 0) return;
    const full = `${quoteMysqlIdent(schema)}.${quoteMysqlIdent(table)}`;
    const names = columns.map((c) => quoteMysqlIdent(c.name)).join(', ');
    const convert = columns.map((c) => {
      if (isNestedType(c.type)) return (v: unknown) => (v === null ? null : JSON.stringify(v));
      if (isTimestampType(c.type)) return mysqlDatetime;
      return (v: unknown) => v;
    });
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      const batch = rows.slice(start, start + ROWS_PER_INSERT).map((row) => columns.map((c, i) => convert[i](row[c.name] ?? null)));
      await this.conn.query(`INSERT INTO ${full} (${names}) VALUES ?`, [batch]);
    }
  }

  async cancel(): Promise<void> {
    await this.pool.query(`KILL QUERY ${Number(this.conn.threadId)}`);
  }

  release(broken: boolean): void {
    if (broken) this.conn.destroy();
    else this.conn.release();
  }
}

/** Connection options from an io_config profile (MYSQL_HOST, _PORT, _DATABASE, _USER, _PASSWORD). */
export function mysqlPoolConfig(settings: Record<string, unknown>): mysql.PoolOptions {
  return {
    host: settingString(settings, 'MYSQL_HOST') ?? '127.0.0.1',
    port: Number(settings.MYSQL_PORT ?? 3306),
    database: settingString(settings, 'MYSQL_DATABASE'),
    user: settingString(settings, 'MYSQL_USER'),
    password: settingString(settings, 'MYSQL_PASSWORD') ?? '',
    connectionLimit: 10,
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    timezone: 'Z',
  };
}

export class MysqlDialect implements RemoteDialect {
  readonly provider = 'mysql';
  readonly exceptionName = 'MySQLError';
  readonly split = { backslashEscapes: true, backtickIdentifiers: true };
  private readonly pools = new Map<string, mysql.Pool>();

  quoteIdent(name: string): string {
    return quoteMysqlIdent(name);
  }

  schemaFor(settings: Record<string, unknown>, configuration: Record<string, unknown>): string {
    for (const value of [configuration.data_provider_database, configuration.data_provider_schema, settings.MYSQL_DATABASE]) {
      if (typeof value === 'string' && value.length > 0) return value;
    }
    throw new SqlBlockError('ValueError', 'No MySQL database: set MYSQL_DATABASE in the io_config profile or configuration.data_provider_database');
  }

  async connect(settings: Record<string, unknown>): Promise<RemoteSession> {
    const config = mysqlPoolConfig(settings);
    const key = JSON.stringify(config);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = mysql.createPool(config);
      this.pools.set(key, pool);
    }
    const conn = await pool.getConnection();
    return new MysqlSession(pool, conn);
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  }
}
