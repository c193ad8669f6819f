/**
 * Whether the server wants a session (GET /api/status: require_user_authentication) and who is signed in.
 * The session itself is the HttpOnly `oauth_token` cookie the server sets on POST /api/sessions, which scripts
 * cannot read; the signed-in user (not a secret) is kept in localStorage so a reload can check it with
 * GET /api/users/{id}, which answers 401 once the cookie is gone or expired.
 */
import { queryOptions, type QueryClient } from '@tanstack/react-query';
import { ApiError, api, type Status, type User } from './api';

const USER_KEY = 'blockflow.user';

export const statusQuery = queryOptions({
  queryKey: ['status'],
  queryFn: async () => (await api.get<{ statuses: Status[] }>('/api/status')).statuses[0],
  staleTime: 60_000,
});

export function storedUser(): User | null {
  try {
    const raw = localStorage.getItem(USER_KEY);
    return raw ? (JSON.parse(raw) as User) : null;
  } catch {
    return null;
  }
}

function storeUser(user: User | null): void {
  if (user) localStorage.setItem(USER_KEY, JSON.stringify({ id: user.id, email: user.email, username: user.username }));
  else localStorage.removeItem(USER_KEY);
}

/** The signed-in user, or null when a session is needed and there is none. `'open'` when auth is off. */
export const sessionQuery = queryOptions({
  queryKey: ['session'],
  queryFn: async (): Promise<User | 'open' | null> => {
    const status = await api.get<{ statuses: Status[] }>('/api/status');
    if (!status.statuses[0]?.require_user_authentication) return 'open';
    const user = storedUser();
    if (!user) return null;
    try {
      return (await api.get<{ user: User }>(`/api/users/${user.id}`, { quiet401: true })).user;
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) {
        storeUser(null);
        return null;
      }
      throw err;
    }
  },
  staleTime: 5 * 60_000,
});

export async function signIn(queryClient: QueryClient, login: string, password: string): Promise<User> {
  const session = login.includes('@') ? { email: login, password } : { username: login, password };
  const res = await api.post<{ session: { user: User } }>('/api/sessions', { session }, { quiet401: true });
  storeUser(res.session.user);
  queryClient.setQueryData(sessionQuery.queryKey, res.session.user);
  return res.session.user;
}

export async function signOut(queryClient: QueryClient): Promise<void> {
  try {
    await api.put('/api/sessions/current', {}, { quiet401: true });
  } catch {
    // An expired session is signed out already.
  }
  storeUser(null);
  queryClient.clear();
  queryClient.setQueryData(sessionQuery.queryKey, null);
}
