/**
 * The migration list, in order. Migrations are forward-only: add a new numbered file and a line here; never
 * edit a released one. Listed statically (not read from the folder) so the same code runs from src/ under tsx
 * and from dist/ after a build.
 */
import type { Kysely } from 'kysely';
import type { StoreDialect } from '../dialect.js';
import * as m0001 from './0001_initial.js';

export interface DialectMigration {
  up(db: Kysely<any>, dialect: StoreDialect): Promise<void>;
}

export const MIGRATIONS: Readonly<Record<string, DialectMigration>> = {
  '0001_initial': m0001,
};
