/**
 * Table shapes as Kysely sees them. Timestamps are `DbTime` text (see time.ts); JSON columns are text that the
 * repositories parse; booleans are `boolean` on PostgreSQL and 0/1 integers on SQLite (the sqlite boolean
 * plugin in db.ts turns written booleans into 0/1, and the repositories turn read values back into booleans).
 */
import type { ColumnType, Generated } from 'kysely';
import type { DbTime } from './time.js';

/** Read as boolean (pg) or 0/1 (SQLite); written as boolean. */
export type DbBool = ColumnType<boolean | number, boolean | undefined, boolean>;
/** JSON held as text on both dialects. */
export type DbJson = string | null;
type Id = Generated<number>;

export interface PipelineScheduleTable {
  id: Id;
  created_at: DbTime;
  updated_at: DbTime;
  name: string;
  description: string | null;
  pipeline_uuid: string | null;
  schedule_type: string | null;
  start_time: DbTime | null;
  schedule_interval: string | null;
  status: ColumnType<string, string | undefined, string>;
  last_enabled_at: DbTime | null;
  variables: DbJson;
  sla: number | null;
  token: string | null;
  repo_path: string | null;
  settings: DbJson;
  global_data_product_uuid: string | null;
  token_hash: string | null;
  catch_up_policy: string | null;
  timezone: string | null;
}

export interface PipelineScheduleTagTable {
  pipeline_schedule_id: number;
  tag: string;
}

export interface PipelineRunTable {
  id: Id;
  created_at: DbTime;
  updated_at: DbTime;
  pipeline_schedule_id: number | null;
  pipeline_uuid: string | null;
  execution_date: DbTime | null;
  status: ColumnType<string, string | undefined, string>;
  started_at: DbTime | null;
  completed_at: DbTime | null;
  variables: DbJson;
  passed_sla: DbBool;
  event_variables: DbJson;
  metrics: DbJson;
  backfill_id: number | null;
  executor_type: string | null;
  owner_id: string | null;
  heartbeat_at: DbTime | null;
}

export interface BlockRunTable {
  id: Id;
  created_at: DbTime;
  updated_at: DbTime;
  pipeline_run_id: number;
  block_uuid: string;
  status: ColumnType<string, string | undefined, string>;
  started_at: DbTime | null;
  completed_at: DbTime | null;
  metrics: DbJson;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: DbTime | null;
  owner_id: string | null;
}

export interface EventMatcherTable {
  id: Id;
  created_at: DbTime;
  updated_at: DbTime;
  event_type: string | null;
  name: string | null;
  pattern: DbJson;
  repo_path: string | null;
}

export interface PipelineScheduleEventMatcherTable {
  pipeline_schedule_id: number;
  event_matcher_id: number;
}

export interface BackfillTable {
  id: Id;
  created_at: DbTime;
  updated_at: DbTime;
  name: string | null;
  pipeline_uuid: string | null;
  pipeline_schedule_id: number | null;
  block_uuid: string | null;
  start_datetime: DbTime | null;
  end_datetime: DbTime | null;
  interval_type: string | null;
  interval_units: number | null;
  settings: DbJson;
  variables: DbJson;
  status: string | null;
  started_at: DbTime | null;
  completed_at: DbTime | null;
  failed_at: DbTime | null;
  metrics: DbJson;
}

export interface SecretTable {
  id: Id;
  created_at: DbTime;
  updated_at: DbTime;
  name: string;
  value: string;
  repo_name: ColumnType<string, string | undefined, string>;
  key_uuid: string | null;
}

export interface UserTable {
  id: Id;
  created_at: DbTime;
  updated_at: DbTime;
  username: string | null;
  email: string | null;
  password_hash: string | null;
  password_salt: string | null;
  roles: number | null;
  owner: DbBool;
  avatar: string | null;
  first_name: string | null;
  last_name: string | null;
  preferences: DbJson;
}

export interface RoleTable {
  id: Id;
  created_at: DbTime;
  updated_at: DbTime;
  name: string;
  user_id: number | null;
}

export interface UserRoleTable {
  user_id: number;
  role_id: number;
}

export interface PermissionTable {
  id: Id;
  created_at: DbTime;
  updated_at: DbTime;
  entity: string | null;
  entity_id: string | null;
  entity_name: string | null;
  entity_type: string | null;
  access: number | null;
  role_id: number | null;
  user_id: number | null;
  options: DbJson;
}

export interface Oauth2ApplicationTable {
  id: Id;
  created_at: DbTime;
  updated_at: DbTime;
  name: string | null;
  client_id: string;
  client_type: string | null;
  redirect_uris: string | null;
  user_id: number | null;
}

export interface Oauth2AccessTokenTable {
  id: Id;
  created_at: DbTime;
  updated_at: DbTime;
  expires: DbTime;
  token: string;
  user_id: number;
  oauth2_application_id: number | null;
  refresh_token: string | null;
}

export interface Database {
  pipeline_schedule: PipelineScheduleTable;
  pipeline_schedule_tag: PipelineScheduleTagTable;
  pipeline_run: PipelineRunTable;
  block_run: BlockRunTable;
  event_matcher: EventMatcherTable;
  pipeline_schedule_event_matcher: PipelineScheduleEventMatcherTable;
  backfill: BackfillTable;
  secret: SecretTable;
  user: UserTable;
  role: RoleTable;
  user_role: UserRoleTable;
  permission: PermissionTable;
  oauth2_application: Oauth2ApplicationTable;
  oauth2_access_token: Oauth2AccessTokenTable;
}
