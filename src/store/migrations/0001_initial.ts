/**
 * The initial schema: Mage's tables and columns (mage-api.md §3, §8.1 item 10) plus Blockflow's additions
 * (hashed trigger tokens, run ownership and heartbeats, block retry bookkeeping). Migrations are frozen once
 * released: the column helpers live in this file so that later edits elsewhere cannot change what 0001 did.
 */
import { sql, type ColumnDefinitionBuilder, type CreateTableBuilder, type Kysely } from 'kysely';
import type { StoreDialect } from '../dialect.js';

type Table = CreateTableBuilder<string, never>;

export async function up(db: Kysely<any>, dialect: StoreDialect): Promise<void> {
  const pg = dialect === 'postgres';
  // SQLite's AUTOINCREMENT never reuses the id of a deleted row (a deleted run's id must not come back for a
  // new run); PostgreSQL's identity column has the same property.
  const id = (t: Table): Table =>
    t.addColumn('id', 'integer', (c) => (pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()));
  const stamps = (t: Table): Table =>
    t.addColumn('created_at', 'text', (c) => c.notNull()).addColumn('updated_at', 'text', (c) => c.notNull());
  // SQLite has no boolean type; 0/1 integers are what SQLAlchemy stores there too.
  const boolType = pg ? 'boolean' : 'integer';
  const falseDefault = (c: ColumnDefinitionBuilder) => c.notNull().defaultTo(pg ? sql`false` : 0);

  await stamps(id(db.schema.createTable('user')))
    .addColumn('username', 'text', (c) => c.unique())
    .addColumn('email', 'text', (c) => c.unique())
    .addColumn('password_hash', 'text')
    .addColumn('password_salt', 'text')
    .addColumn('roles', 'integer')
    .addColumn('owner', boolType, falseDefault)
    .addColumn('avatar', 'text')
    .addColumn('first_name', 'text')
    .addColumn('last_name', 'text')
    .addColumn('preferences', 'text')
    .execute();

  await stamps(id(db.schema.createTable('role')))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'integer', (c) => c.references('user.id').onDelete('set null'))
    .execute();

  await db.schema
    .createTable('user_role')
    .addColumn('user_id', 'integer', (c) => c.notNull().references('user.id').onDelete('cascade'))
    .addColumn('role_id', 'integer', (c) => c.notNull().references('role.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('user_role_pkey', ['user_id', 'role_id'])
    .execute();

  await stamps(id(db.schema.createTable('permission')))
    .addColumn('entity', 'text')
    .addColumn('entity_id', 'text')
    .addColumn('entity_name', 'text')
    .addColumn('entity_type', 'text')
    .addColumn('access', 'integer')
    .addColumn('role_id', 'integer', (c) => c.references('role.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (c) => c.references('user.id').onDelete('cascade'))
    .addColumn('options', 'text')
    .execute();
  await db.schema.createIndex('permission_role_id_idx').on('permission').column('role_id').execute();
  await db.schema.createIndex('permission_user_id_idx').on('permission').column('user_id').execute();

  await stamps(id(db.schema.createTable('oauth2_application')))
    .addColumn('name', 'text')
    .addColumn('client_id', 'text', (c) => c.notNull().unique())
    .addColumn('client_type', 'text')
    .addColumn('redirect_uris', 'text')
    .addColumn('user_id', 'integer', (c) => c.references('user.id').onDelete('set null'))
    .execute();

  // `token` holds the SHA-256 hex of the session token, never the token itself: a copy of the database (backup,
  // leaked file) then cannot be replayed as live sessions.
  await stamps(id(db.schema.createTable('oauth2_access_token')))
    .addColumn('expires', 'text', (c) => c.notNull())
    .addColumn('token', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('user.id').onDelete('cascade'))
    .addColumn('oauth2_application_id', 'integer', (c) => c.references('oauth2_application.id').onDelete('set null'))
    .addColumn('refresh_token', 'text')
    .execute();
  await db.schema.createIndex('oauth2_access_token_user_id_idx').on('oauth2_access_token').column('user_id').execute();

  // `token` is Mage's plain trigger token and stays NULL for rows we create: we keep only `token_hash`
  // (SHA-256 hex), so reading the database does not give the power to start runs through the API trigger.
  await stamps(id(db.schema.createTable('pipeline_schedule')))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('pipeline_uuid', 'text')
    .addColumn('schedule_type', 'text')
    .addColumn('start_time', 'text')
    .addColumn('schedule_interval', 'text')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('inactive'))
    .addColumn('last_enabled_at', 'text')
    .addColumn('variables', 'text')
    .addColumn('sla', 'integer')
    .addColumn('token', 'text')
    .addColumn('repo_path', 'text')
    .addColumn('settings', 'text')
    .addColumn('global_data_product_uuid', 'text')
    .addColumn('token_hash', 'text', (c) => c.unique())
    .addColumn('catch_up_policy', 'text')
    .addColumn('timezone', 'text')
    .execute();
  await db.schema.createIndex('pipeline_schedule_pipeline_uuid_idx').on('pipeline_schedule').column('pipeline_uuid').execute();

  // One table stands in for Mage's tag + tag_association pair: tags are only ever attached to schedules here.
  await db.schema
    .createTable('pipeline_schedule_tag')
    .addColumn('pipeline_schedule_id', 'integer', (c) => c.notNull().references('pipeline_schedule.id').onDelete('cascade'))
    .addColumn('tag', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('pipeline_schedule_tag_pkey', ['pipeline_schedule_id', 'tag'])
    .execute();
  await db.schema.createIndex('pipeline_schedule_tag_tag_idx').on('pipeline_schedule_tag').column('tag').execute();

  await stamps(id(db.schema.createTable('event_matcher')))
    .addColumn('event_type', 'text')
    .addColumn('name', 'text')
    .addColumn('pattern', 'text')
    .addColumn('repo_path', 'text')
    .execute();

  await db.schema
    .createTable('pipeline_schedule_event_matcher')
    .addColumn('pipeline_schedule_id', 'integer', (c) => c.notNull().references('pipeline_schedule.id').onDelete('cascade'))
    .addColumn('event_matcher_id', 'integer', (c) => c.notNull().references('event_matcher.id').onDelete('cascade'))
    .addPrimaryKeyConstraint('pipeline_schedule_event_matcher_pkey', ['pipeline_schedule_id', 'event_matcher_id'])
    .execute();
  await db.schema
    .createIndex('pipeline_schedule_event_matcher_matcher_idx')
    .on('pipeline_schedule_event_matcher')
    .column('event_matcher_id')
    .execute();

  await stamps(id(db.schema.createTable('backfill')))
    .addColumn('name', 'text')
    .addColumn('pipeline_uuid', 'text')
    .addColumn('pipeline_schedule_id', 'integer')
    .addColumn('block_uuid', 'text')
    .addColumn('start_datetime', 'text')
    .addColumn('end_datetime', 'text')
    .addColumn('interval_type', 'text')
    .addColumn('interval_units', 'integer')
    .addColumn('settings', 'text')
    .addColumn('variables', 'text')
    .addColumn('status', 'text')
    .addColumn('started_at', 'text')
    .addColumn('completed_at', 'text')
    .addColumn('failed_at', 'text')
    .addColumn('metrics', 'text')
    .execute();
  await db.schema.createIndex('backfill_pipeline_uuid_idx').on('backfill').column('pipeline_uuid').execute();

  // No foreign key to pipeline_schedule: deleting a trigger keeps its runs (mage-api.md §3.3), which still
  // show the old schedule id.
  await stamps(id(db.schema.createTable('pipeline_run')))
    .addColumn('pipeline_schedule_id', 'integer')
    .addColumn('pipeline_uuid', 'text')
    .addColumn('execution_date', 'text')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('initial'))
    .addColumn('started_at', 'text')
    .addColumn('completed_at', 'text')
    .addColumn('variables', 'text')
    .addColumn('passed_sla', boolType, falseDefault)
    .addColumn('event_variables', 'text')
    .addColumn('metrics', 'text')
    .addColumn('backfill_id', 'integer')
    .addColumn('executor_type', 'text')
    .addColumn('owner_id', 'text')
    .addColumn('heartbeat_at', 'text')
    .execute();
  // One run per (schedule, execution date), enforced by the database so two schedulers cannot both create it.
  // Partial, so runs without a schedule (NULL) never collide; it also serves lookups by pipeline_schedule_id.
  await db.schema
    .createIndex('pipeline_run_schedule_execution_date_key')
    .unique()
    .on('pipeline_run')
    .columns(['pipeline_schedule_id', 'execution_date'])
    .where(sql.ref('pipeline_schedule_id'), 'is not', null)
    .execute();
  await db.schema.createIndex('pipeline_run_pipeline_uuid_idx').on('pipeline_run').columns(['pipeline_uuid', 'execution_date']).execute();
  await db.schema.createIndex('pipeline_run_status_idx').on('pipeline_run').column('status').execute();
  await db.schema.createIndex('pipeline_run_backfill_id_idx').on('pipeline_run').column('backfill_id').execute();

  await stamps(id(db.schema.createTable('block_run')))
    .addColumn('pipeline_run_id', 'integer', (c) => c.notNull().references('pipeline_run.id').onDelete('cascade'))
    .addColumn('block_uuid', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('initial'))
    .addColumn('started_at', 'text')
    .addColumn('completed_at', 'text')
    .addColumn('metrics', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'text')
    .addColumn('owner_id', 'text')
    .execute();
  await db.schema.createIndex('block_run_pipeline_run_id_idx').on('block_run').column('pipeline_run_id').execute();
  await db.schema.createIndex('block_run_status_idx').on('block_run').column('status').execute();

  // Secrets without a repo share the '' namespace rather than NULL, so UNIQUE(name, repo_name) holds for them.
  await stamps(id(db.schema.createTable('secret')))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('repo_name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('key_uuid', 'text')
    .addUniqueConstraint('secret_name_repo_name_key', ['name', 'repo_name'])
    .execute();
}
