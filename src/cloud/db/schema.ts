/** Row types of the control plane's own database (separate from the Blockflow metadata store). */
import type { Generated } from 'kysely';

export interface UsersTable {
  id: string;
  /** Normalised: trimmed, lower case. */
  email: string;
  /** `scrypt$N$r$p$salt$hash`. */
  password_hash: string;
  created_at: string;
}

export interface TeamsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface MembershipsTable {
  team_id: string;
  user_id: string;
  role: string;
  created_at: string;
}

export interface SessionsTable {
  /** SHA-256 (hex) of the bearer token; the token itself is never stored. */
  token_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
  last_used_at: string;
  revoked_at: string | null;
  address: string | null;
  user_agent: string | null;
}

export interface ApiClientsTable {
  id: string;
  name: string;
  /** SHA-256 (hex) of the X-API-KEY value. */
  key_hash: string;
  created_at: string;
}

export interface ClustersTable {
  id: string;
  team_id: string;
  name: string;
  /** Desired status: `Active` or `Stopped`. */
  status: string;
  /** Desired config (Helm values shape) as JSON, with secret values encrypted. */
  config_json: string;
  /** Optimistic-concurrency version, bumped on every change of the desired state. */
  version: number;
  /** Last restart request (ISO-8601), or null. Part of the desired pod template, as kubectl's restartedAt. */
  restarted_at: string | null;
  /** 1 once DELETE was accepted; the reconciler tears the cluster down and removes the row. */
  deleting: number;
  /** Last observed state as JSON. */
  observed_json: string;
  created_at: string;
  updated_at: string;
}

export interface ReplicasTable {
  cluster_id: string;
  replica_id: string;
  pid: number;
  port: number;
  template_hash: string;
  started_at: string;
}

export interface ClusterEndpointsTable {
  cluster_id: string;
  port: number;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: string;
  actor_user_id: string | null;
  team_id: string | null;
  cluster_id: string | null;
  action: string;
  before_json: string | null;
  after_json: string | null;
}

export interface LoginAttemptsTable {
  id: Generated<number>;
  email: string;
  address: string;
  at: string;
  success: number;
}

export interface CloudDatabase {
  users: UsersTable;
  teams: TeamsTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  api_clients: ApiClientsTable;
  clusters: ClustersTable;
  replicas: ReplicasTable;
  cluster_endpoints: ClusterEndpointsTable;
  audit_log: AuditLogTable;
  login_attempts: LoginAttemptsTable;
}
