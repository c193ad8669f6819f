/**
 * Forward-only migrations of the control plane's database. The dialect is passed in because auto-increment keys
 * are spelt differently on SQLite and PostgreSQL.
 */
import type { Kysely, Migration } from 'kysely';

export type CloudDialect = 'sqlite' | 'postgres';

function autoId<T>(db: Kysely<T>, dialect: CloudDialect, table: string) {
  const builder = db.schema.createTable(table);
  return dialect === 'postgres'
    ? builder.addColumn('id', 'serial', (c) => c.primaryKey())
    : builder.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

export function cloudMigrations(dialect: CloudDialect): Record<string, Migration> {
  return {
    '0001_initial': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('email', 'text', (c) => c.notNull().unique())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('teams')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('memberships')
          .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id').onDelete('cascade'))
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('memberships_pk', ['team_id', 'user_id'])
          .execute();
        await db.schema
          .createTable('sessions')
          .addColumn('token_hash', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('last_used_at', 'text', (c) => c.notNull())
          .addColumn('revoked_at', 'text')
          .addColumn('address', 'text')
          .addColumn('user_agent', 'text')
          .execute();
        await db.schema
          .createTable('api_clients')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('key_hash', 'text', (c) => c.notNull().unique())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('clusters')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('config_json', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('restarted_at', 'text')
          .addColumn('deleting', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('observed_json', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('clusters_team_idx').on('clusters').column('team_id').execute();
        await db.schema
          .createTable('replicas')
          .addColumn('cluster_id', 'text', (c) => c.notNull())
          .addColumn('replica_id', 'text', (c) => c.notNull())
          .addColumn('pid', 'integer', (c) => c.notNull())
          .addColumn('port', 'integer', (c) => c.notNull())
          .addColumn('template_hash', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('replicas_pk', ['cluster_id', 'replica_id'])
          .execute();
        await db.schema
          .createTable('cluster_endpoints')
          .addColumn('cluster_id', 'text', (c) => c.primaryKey())
          .addColumn('port', 'integer', (c) => c.notNull())
          .execute();
        await autoId(db, dialect, 'audit_log')
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor_user_id', 'text')
          .addColumn('team_id', 'text')
          .addColumn('cluster_id', 'text')
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('before_json', 'text')
          .addColumn('after_json', 'text')
          .execute();
        await db.schema.createIndex('audit_log_cluster_idx').on('audit_log').columns(['cluster_id', 'id']).execute();
        await autoId(db, dialect, 'login_attempts')
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('address', 'text', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('success', 'integer', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('login_attempts_email_idx').on('login_attempts').columns(['email', 'at']).execute();
        await db.schema.createIndex('login_attempts_address_idx').on('login_attempts').columns(['address', 'at']).execute();
      },
    },
  };
}
