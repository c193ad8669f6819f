/** PostgreSQL through `pg`: pooled connections per io_config profile, result typing and table export. */
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import pg from 'pg';
import { settingString } from './io-config.js';
import type { RemoteColumn, RemoteDialect, RemoteQueryResult, RemoteSession } from './remote-dialect.js';
import { decimalSpec, decimalText, integerText, isNestedType } from './remote-values.js';
import { quoteIdent } from './sql-quote.js';

const OID = {
  bool: 16, bytea: 17, int8: 20, int2: 21, int4: 23, oid: 26, json: 114, float4: 700, float8: 701,
  date: 1082, time: 1083, timestamp: 1114, timestamptz: 1184, interval: 1186, timetz: 1266, numeric: 1700,
  uuid: 2950, jsonb: 3802,
} as const;

/** Types kept as the server's text so no precision or time zone is lost in JS Date/number parsing. */
const RAW_TEXT_OIDS = new Set<number>([
  OID.int8, OID.numeric, OID.date, OID.time, OID.timestamp, OID.timestamptz, OID.interval, OID.timetz, OID.bytea,
]);

const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    RAW_TEXT_OIDS.has(oid) ? (value: string) => value : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

const DUCKDB_TYPE_BY_OID: Record<number, string> = {
  [OID.bool]: 'BOOLEAN', [OID.int8]: 'BIGINT', [OID.int2]: 'SMALLINT', [OID.int4]: 'INTEGER', [OID.oid]: 'BIGINT',
  [OID.float4]: 'FLOAT', [OID.float8]: 'DOUBLE', [OID.numeric]: 'DOUBLE', [OID.date]: 'DATE', [OID.time]: 'TIME',
  [OID.timestamp]: 'TIMESTAMP', [OID.timestamptz]: 'TIMESTAMPTZ', [OID.uuid]: 'UUID', [OID.json]: 'JSON', [OID.jsonb]: 'JSON',
};

function normaliseValue(oid: number, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (oid === OID.int8) return integerText(String(value));
  if (oid === OID.numeric) return decimalText(String(value));
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return value;
}

/** The PostgreSQL column type for a DuckDB type when exporting an upstream output. */
function postgresType(type: DuckDBType): string {
  if (isNestedType(type)) return 'jsonb';
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN: return 'boolean';
    case DuckDBTypeId.TINYINT: case DuckDBTypeId.SMALLINT: case DuckDBTypeId.UTINYINT: return 'smallint';
    case DuckDBTypeId.INTEGER: case DuckDBTypeId.USMALLINT: return 'integer';
    case DuckDBTypeId.BIGINT: case DuckDBTypeId.UINTEGER: return 'bigint';
    case DuckDBTypeId.UBIGINT: case DuckDBTypeId.HUGEINT: case DuckDBTypeId.UHUGEINT: case DuckDBTypeId.BIGNUM: return 'numeric';
    case DuckDBTypeId.FLOAT: return 'real';
    case DuckDBTypeId.DOUBLE: return 'double precision';
    case DuckDBTypeId.DECIMAL: return `numeric${decimalSpec(type)}`;
    case DuckDBTypeId.DATE: return 'date';
    case DuckDBTypeId.TIME: return 'time';
    case DuckDBTypeId.TIMESTAMP: case DuckDBTypeId.TIMESTAMP_S: case DuckDBTypeId.TIMESTAMP_MS: case DuckDBTypeId.TIMESTAMP_NS: return 'timestamp';
    case DuckDBTypeId.TIMESTAMP_TZ: return 'timestamptz';
    case DuckDBTypeId.UUID: return 'uuid';
    default: return 'text';
  }
}

/** Parameters per INSERT statement stay well below PostgreSQL's 65535 limit. */
const MAX_PARAMS = 30000;

class PostgresSession implements RemoteSession {
  constructor(
    private readonly pool: pg.Pool,
    private readonly client: pg.PoolClient,
  ) {}

  async query(sql: string): Promise<RemoteQueryResult> {
    const result = await this.client.query(sql);
    const last = Array.isArray(result) ? (result[result.length - 1] as pg.QueryResult) : result;
    if (!last.fields || last.fields.length === 0) return { columns: null, rows: [] };
    const columns: RemoteColumn[] = last.fields.map((f) => ({ name: f.name, duckdbType: DUCKDB_TYPE_BY_OID[f.dataTypeID] ?? 'VARCHAR' }));
    const oids = last.fields.map((f) => f.dataTypeID);
    const rows = (last.rows as Record<string, unknown>[]).map((row) => {
      const out: Record<string, unknown> = {};
      last.fields.forEach((f, i) => {
        out[f.name] = normaliseValue(oids[i], row[f.name]);
      });
      return out;
    });
    return { columns, rows };
  }

  async tableExists(schema: string, table: string): Promise<boolean> {
    const r = await this.client.query('SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2', [schema, table]);
    return (r.rowCount ?? 0) > 0;
  }

  async ensureSchema(schema: string): Promise<void> {
    await this.client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  }

  async recreateTable(schema: string, table: string, columns: { name: string; type: DuckDBType }[]): Promise<void> {
    const full = `${quoteIdent(schema)}.${quoteIdent(table)}`;
    await this.client.query(`DROP TABLE IF EXISTS ${full}`);
    const defs = columns.map((c) => `${quoteIdent(c.name)} ${postgresType(c.type)}`).join(', ');
    await this.client.query(`CREATE TABLE ${full} (${defs})`);
  }

  async insertRows(schema: string, table: string, columns: { name: string; type: DuckDBType }[], rows: Record<string, unknown>[]): Promise<void> {
    if (rows.length === 0 || columns.length === 0) return;
    const full = `${quoteIdent(schema)}.${quoteIdent(table)}`;
    const names = columns.map((c) => quoteIdent(c.name)).join(', ');
    const nested = columns.map((c) => isNestedType(c.type));
    const perBatch = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
    for (let start = 0; start < rows.length; start += perBatch) {
      const batch = rows.slice(start, start + perBatch);
      const params: unknown[] = [];
      const tuples = batch.map((row) => {
        const slots = columns.map((c, i) => {
          const v = row[c.name] ?? null;
          params.push(nested[i] && v !== null ? JSON.stringify(v) : v);
          return `$${params.length}`;
        });
        return `(${slots.join(', ')})`;
      });
      await this.client.query(`INSERT INTO ${full} (${names}) VALUES ${tuples.join(', ')}`, params);
    }
  }

  async cancel(): Promise<void> {
    const pid = (this.client as unknown as { processID?: number }).processID;
    if (pid !== undefined) await this.pool.query('SELECT pg_cancel_backend($1)', [pid]);
  }

  release(broken: boolean): void {
    this.client.release(broken);
  }
}

/** Connection options from an io_config profile (POSTGRES_HOST, _PORT, _DBNAME, _USER, _PASSWORD, _CONNECT_TIMEOUT). */
export function postgresPoolConfig(settings: Record<string, unknown>): pg.PoolConfig {
  const timeout = Number(settings.POSTGRES_CONNECT_TIMEOUT ?? 10);
  return {
    host: settingString(settings, 'POSTGRES_HOST') ?? '127.0.0.1',
    port: Number(settings.POSTGRES_PORT ?? 5432),
    database: settingString(settings, 'POSTGRES_DBNAME'),
    user: settingString(settings, 'POSTGRES_USER'),
    password: settingString(settings, 'POSTGRES_PASSWORD'),
    connectionTimeoutMillis: Number.isFinite(timeout) ? timeout * 1000 : 10000,
    max: 10,
    idleTimeoutMillis: 30000,
  };
}

export class PostgresDialect implements RemoteDialect {
  readonly provider = 'postgres';
  readonly exceptionName = 'PostgresError';
  readonly split = {};
  private readonly pools = new Map<string, pg.Pool>();

  quoteIdent(name: string): string {
    return quoteIdent(name);
  }

  schemaFor(settings: Record<string, unknown>, configuration: Record<string, unknown>): string {
    const configured = configuration.data_provider_schema;
    if (typeof configured === 'string' && configured.length > 0) return configured;
    return settingString(settings, 'POSTGRES_SCHEMA') ?? 'public';
  }

  async connect(settings: Record<string, unknown>): Promise<RemoteSession> {
    const config = postgresPoolConfig(settings);
    const key = JSON.stringify(config);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new pg.Pool({ ...config, types: typeParsers });
      // An idle client losing its connection must not crash the process; the next checkout reconnects.
      pool.on('error', () => undefined);
      this.pools.set(key, pool);
    }
    const client = await pool.connect();
    return new PostgresSession(pool, client);
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  }
}
