/**
 * Creates the owner user at first start (Mage: DEFAULT_OWNER_EMAIL / DEFAULT_OWNER_USERNAME /
 * DEFAULT_OWNER_PASSWORD). Without a password in the environment a random one is generated and returned so the
 * caller prints it once; it is never stored in clear.
 */
import { generatePassword, hashPassword } from '../auth/passwords.js';
import type { Store } from '../store/db.js';

export interface OwnerBootstrap {
  created: boolean;
  email: string;
  username: string;
  /** Set only when the password was generated here. */
  generatedPassword?: string;
}

export async function ensureOwner(store: Store, env: NodeJS.ProcessEnv = process.env): Promise<OwnerBootstrap> {
  const email = env.DEFAULT_OWNER_EMAIL ?? 'admin@admin.com';
  const username = env.DEFAULT_OWNER_USERNAME ?? 'admin';
  const existing = await store.users.findOwner();
  if (existing) return { created: false, email: existing.email ?? '', username: existing.username ?? '' };
  const generated = env.DEFAULT_OWNER_PASSWORD ? undefined : generatePassword();
  const password = env.DEFAULT_OWNER_PASSWORD ?? generated!;
  await store.users.create({
    email,
    username,
    password_hash: await hashPassword(password),
    roles: 1,
    owner: true,
    first_name: null,
    last_name: null,
    avatar: null,
  });
  return { created: true, email, username, generatedPassword: generated };
}
