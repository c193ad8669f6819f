/**
 * Roles and Mage's action matrix (mage-api.md §2.4). A user's role comes from the owner flag and Mage's legacy
 * `roles` bitmask (1 = admin, 2 = editor, 4 = viewer).
 */
export type Role = 'owner' | 'admin' | 'editor' | 'viewer';
export type Action = 'list' | 'detail' | 'create' | 'update' | 'delete';

const RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3, owner: 4 };

export const ROLE_BITS: Record<Exclude<Role, 'owner'>, number> = { admin: 1, editor: 2, viewer: 4 };

export function roleOf(user: { owner: boolean; roles: number | null }): Role {
  if (user.owner) return 'owner';
  const bits = user.roles ?? 0;
  if (bits & 1) return 'admin';
  if (bits & 2) return 'editor';
  return 'viewer';
}

export function atLeast(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** Minimum role per resource and action; a missing entry means the action is disabled for that resource. */
export const ACTION_MATRIX: Record<string, Partial<Record<Action, Role>>> = {
  pipelines: { list: 'viewer', detail: 'viewer', create: 'editor', update: 'editor', delete: 'editor' },
  blocks: { list: 'viewer', detail: 'viewer', create: 'editor', update: 'editor', delete: 'editor' },
  pipeline_schedules: { list: 'viewer', detail: 'viewer', create: 'editor', update: 'editor', delete: 'editor' },
  pipeline_runs: { list: 'viewer', detail: 'viewer', create: 'editor', update: 'editor', delete: 'editor' },
  block_runs: { list: 'viewer', detail: 'viewer' },
  outputs: { list: 'viewer' },
  variables: { list: 'viewer', create: 'editor', update: 'editor', delete: 'editor' },
  secrets: { list: 'viewer', create: 'editor', delete: 'editor' },
  logs: { list: 'viewer' },
  workspaces: { list: 'viewer', detail: 'viewer', create: 'owner', update: 'owner', delete: 'owner' },
  git_branches: { list: 'viewer', detail: 'viewer', create: 'editor', update: 'editor' },
  syncs: { list: 'viewer', detail: 'viewer', create: 'editor', update: 'editor' },
  backfills: { list: 'viewer', detail: 'viewer', create: 'editor', update: 'editor', delete: 'editor' },
  file_contents: { detail: 'viewer', update: 'editor' },
  sessions: { update: 'viewer' },
  users: { list: 'admin', detail: 'viewer', create: 'owner', update: 'viewer', delete: 'owner' },
  events: { create: 'editor' },
  event_matchers: { list: 'viewer', detail: 'viewer', create: 'editor', update: 'editor', delete: 'editor' },
  schedulers: { list: 'viewer', create: 'admin' },
};
