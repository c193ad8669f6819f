/**
 * `users` (mage-api.md §2.4): admins list, a user sees and edits themself, the owner creates and deletes.
 * Deleting a user deletes all of their access tokens with them.
 */
import { Type, type Static } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import { paging, splitMageQuery } from '../query.js';
import { presentUser } from './presenters.js';
import { hashPassword, verifyPassword } from '../../auth/passwords.js';
import { ROLE_BITS, atLeast, roleOf, type Role } from '../../auth/roles.js';
import type { UserRow } from '../../store/users.js';

const RoleName = Type.Union([Type.Literal('admin'), Type.Literal('editor'), Type.Literal('viewer')]);
const UserFields = {
  email: Type.Optional(Type.String({ minLength: 3, maxLength: 320, pattern: '^[^@\\s]+@[^@\\s]+$' })),
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9_.@+-]+$' })),
  password: Type.Optional(Type.String({ minLength: 8, maxLength: 1024 })),
  password_confirmation: Type.Optional(Type.String({ maxLength: 1024 })),
  password_current: Type.Optional(Type.String({ maxLength: 1024 })),
  first_name: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  last_name: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  avatar: Type.Optional(Type.Union([Type.String({ maxLength: 2048 }), Type.Null()])),
  /** Our name for the role. Mage clients may send `roles` (bitmask 1 admin, 2 editor, 4 viewer) instead. */
  role: Type.Optional(RoleName),
  roles: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2), Type.Literal(4)])),
};
const UserBody = Type.Object({ user: Type.Object(UserFields, { additionalProperties: false }), api_key: Type.Optional(Type.String()) }, { additionalProperties: false });
type UserInput = Static<typeof UserBody>['user'];
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) });

function requestedBits(input: UserInput): number | undefined {
  if (input.role) return ROLE_BITS[input.role];
  return input.roles;
}

function bitsRole(bits: number): Role {
  return roleOf({ owner: false, roles: bits });
}

function checkPasswordPair(input: UserInput): void {
  if (input.password_confirmation !== undefined && input.password !== input.password_confirmation) {
    throw badRequest('user.password_confirmation does not match user.password.');
  }
}

export default async function userRoutes(app: App, ctx: AppContext): Promise<void> {
  const loadUser = async (id: string): Promise<UserRow> => {
    const user = await ctx.store.users.getById(Number(id));
    if (!user) throw notFound(`User ${id} not found.`);
    return user;
  };
  const selfOrAdmin = (request: { auth: { user: UserRow | null; role: Role } }, target: UserRow) => {
    const { auth } = request;
    if (auth.user && auth.user.id === target.id) return;
    if (atLeast(auth.role, 'admin')) return;
    throw forbidden('Only the user themself or an admin may do this.');
  };

  app.get(
    '/api/users',
    { config: { resource: 'users', action: 'list' }, schema: { tags: ['users'], summary: 'List users (admin).', querystring: Type.Object({}, { additionalProperties: true }) } },
    async (request) => {
      const p = paging(splitMageQuery(request.query as Record<string, unknown>));
      const { rows, count } = await ctx.store.users.list(p);
      return listEnvelope('users', rows.map(presentUser), { count, next: p.limit !== undefined && p.offset + rows.length < count });
    },
  );

  app.get(
    '/api/users/:id',
    { config: { resource: 'users', action: 'detail' }, schema: { tags: ['users'], summary: 'One user (self or admin).', params: IdParams } },
    async (request) => {
      const user = await loadUser(request.params.id);
      selfOrAdmin(request, user);
      return itemEnvelope('user', presentUser(user));
    },
  );

  app.post(
    '/api/users',
    { config: { resource: 'users', action: 'create' }, schema: { tags: ['users'], summary: 'Create a user (owner).', body: UserBody } },
    async (request) => {
      const input = request.body.user;
      if (!input.email) throw badRequest('user.email is required.');
      if (!input.password) throw badRequest('user.password is required (at least 8 characters).');
      checkPasswordPair(input);
      const username = input.username ?? input.email.split('@')[0].replace(/[^A-Za-z0-9_.+-]/g, '_');
      if (await ctx.store.users.getByEmailOrUsername(input.email)) throw conflict(`A user with email ${input.email} already exists.`);
      if (await ctx.store.users.getByEmailOrUsername(username)) throw conflict(`A user with username ${username} already exists.`);
      const user = await ctx.store.users.create({
        email: input.email,
        username,
        password_hash: await hashPassword(input.password),
        roles: requestedBits(input) ?? ROLE_BITS.viewer,
        owner: false,
        first_name: input.first_name ?? null,
        last_name: input.last_name ?? null,
        avatar: input.avatar ?? null,
      });
      return itemEnvelope('user', presentUser(user));
    },
  );

  app.put(
    '/api/users/:id',
    { config: { resource: 'users', action: 'update' }, schema: { tags: ['users'], summary: 'Update a user (self or admin).', params: IdParams, body: UserBody } },
    async (request) => {
      const target = await loadUser(request.params.id);
      selfOrAdmin(request, target);
      const input = request.body.user;
      const actor = request.auth;
      const isSelf = actor.user?.id === target.id;
      const targetRole = roleOf(target);
      if (!isSelf && !atLeast(actor.role, targetRole)) {
        throw forbidden(`You are ${actor.role}; only the ${targetRole} themself can edit a user with the ${targetRole} role.`);
      }
      const patch: Partial<UserRow> = {};
      const bits = requestedBits(input);
      if (bits !== undefined && bits !== target.roles) {
        if (!atLeast(actor.role, 'admin') || isSelf) throw forbidden('Only an admin may change the role of another user.');
        if (target.owner) throw forbidden('The owner\'s role cannot be changed.');
        if (!atLeast(actor.role, bitsRole(bits))) throw forbidden(`You cannot grant the ${bitsRole(bits)} role.`);
        patch.roles = bits;
      }
      if (input.password !== undefined) {
        checkPasswordPair(input);
        if (isSelf || !atLeast(actor.role, 'owner')) {
          if (!input.password_current || !(await verifyPassword(input.password_current, target.password_hash))) {
            throw badRequest('user.password_current is missing or wrong.');
          }
        }
        patch.password_hash = await hashPassword(input.password);
      }
      if (input.email !== undefined && input.email !== target.email) {
        const other = await ctx.store.users.getByEmailOrUsername(input.email);
        if (other && other.id !== target.id) throw conflict(`A user with email ${input.email} already exists.`);
        patch.email = input.email;
      }
      if (input.username !== undefined && input.username !== target.username) {
        const other = await ctx.store.users.getByEmailOrUsername(input.username);
        if (other && other.id !== target.id) throw conflict(`A user with username ${input.username} already exists.`);
        patch.username = input.username;
      }
      for (const key of ['first_name', 'last_name', 'avatar'] as const) {
        if (input[key] !== undefined) patch[key] = input[key] ?? null;
      }
      const updated = await ctx.store.users.update(target.id, patch);
      if (!updated) throw notFound(`User ${target.id} not found.`);
      if (patch.password_hash && !isSelf) await ctx.store.accessTokens.deleteForUser(target.id);
      return itemEnvelope('user', presentUser(updated));
    },
  );

  app.delete(
    '/api/users/:id',
    { config: { resource: 'users', action: 'delete' }, schema: { tags: ['users'], summary: 'Delete a user and revoke their tokens (owner).', params: IdParams } },
    async (request) => {
      const target = await loadUser(request.params.id);
      if (request.auth.user?.id === target.id) throw forbidden('You cannot delete yourself.');
      if (target.owner) throw forbidden('The owner cannot be deleted.');
      await ctx.store.accessTokens.deleteForUser(target.id);
      await ctx.store.users.delete(target.id);
      return itemEnvelope('user', presentUser(target));
    },
  );
}
