/**
 * `secrets` (mage-api.md §3.8): names only are ever returned; values are sealed (AES-256-GCM) before they
 * reach the database and are read only by running blocks.
 */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { conflict, notFound } from '../errors.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import type { SecretResolver } from '../../engine/secrets.js';

const SecretName = Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z_][A-Za-z0-9_.-]*$' });

export default async function secretRoutes(app: App, ctx: AppContext): Promise<void> {
  const secrets = () => ctx.services.secrets as SecretResolver;
  const present = (row: { id: number; name: string; created_at?: string; updated_at?: string }) => ({
    id: row.id,
    name: row.name,
    created_at: row.created_at ?? null,
    updated_at: row.updated_at ?? null,
  });

  app.get('/api/secrets', { config: { resource: 'secrets', action: 'list' }, schema: { tags: ['secrets'], summary: 'List secret names (never values).' } }, async () => {
    const rows = await secrets().list();
    return listEnvelope('secrets', rows.map(present), { count: rows.length, next: false });
  });

  app.post(
    '/api/secrets',
    {
      config: { resource: 'secrets', action: 'create' },
      schema: {
        tags: ['secrets'],
        summary: 'Create or replace a secret.',
        body: Type.Object(
          {
            secret: Type.Object(
              {
                name: SecretName,
                value: Type.String({ maxLength: 1024 * 1024 }),
                entity: Type.Optional(Type.String()),
                pipeline_uuid: Type.Optional(Type.String()),
                /** Replace an existing secret of the same name instead of refusing (default false). */
                overwrite: Type.Optional(Type.Boolean()),
              },
              { additionalProperties: false },
            ),
            api_key: Type.Optional(Type.String()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const { name, value, overwrite } = request.body.secret;
      const existing = (await secrets().list()).find((s) => s.name === name);
      if (existing && !overwrite) throw conflict(`Secret ${name} already exists; delete it first or send overwrite: true.`);
      const row = await secrets().set(name, value);
      return itemEnvelope('secret', present(row));
    },
  );

  app.delete(
    '/api/secrets/:name',
    { config: { resource: 'secrets', action: 'delete' }, schema: { tags: ['secrets'], summary: 'Delete a secret.', params: Type.Object({ name: SecretName }) } },
    async (request) => {
      const row = (await secrets().list()).find((s) => s.name === request.params.name);
      if (!row) throw notFound(`Secret ${request.params.name} not found.`);
      await secrets().delete(row.name);
      return itemEnvelope('secret', present(row));
    },
  );
}
