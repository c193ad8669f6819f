/** How database rows are shown in API responses (one place per row type). */
import { roleOf } from '../../auth/roles.js';
import type { UserRow } from '../../store/users.js';

const ROLE_DISPLAY = { owner: 'Owner', admin: 'Admin', editor: 'Editor', viewer: 'Viewer' } as const;

export function presentUser(user: UserRow): Record<string, unknown> {
  const role = roleOf(user);
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    first_name: user.first_name ?? null,
    last_name: user.last_name ?? null,
    avatar: user.avatar ?? null,
    owner: user.owner,
    roles: user.roles ?? null,
    role,
    roles_display: ROLE_DISPLAY[role],
    preferences: user.preferences ?? null,
    created_at: user.created_at,
    updated_at: user.updated_at,
  };
}
