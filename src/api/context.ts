/**
 * Everything a request handler may need, built once at server start (src/server.ts) and passed to every
 * resource module. Modules take what they use from it; nothing is global.
 */
import type { Project } from '../project/projectConfig.js';
import type { Store } from '../store/db.js';
import type { JsonShapeLimits } from '../runtimes/jsonShape.js';

export interface ServerSettings {
  /** `REQUIRE_USER_AUTHENTICATION` (default on). Off: every request acts as the owner. */
  requireAuth: boolean;
  /** The folder holding the server's key files (src/auth/keyFiles.ts); never one an API serves. */
  keysDir: string;
  /** Secret for the HS256 JWT carried in Mage's `oauth_token` cookie. From `JWT_SECRET` or a generated file. */
  jwtSecret: string;
  /** Session lifetime in seconds (`MAGE_ACCESS_TOKEN_EXPIRY_TIME`, default 30 days as Mage). */
  tokenTtlSeconds: number;
  /** Identifies this server process in run ownership and logs. */
  instanceId: string;
  /** Largest accepted request body in bytes (default 10 MiB). */
  bodyLimit: number;
  /** Depth and value-count bounds of every JSON body (BLOCKFLOW_JSON_MAX_DEPTH / _VALUES, api/jsonLimits.ts). */
  jsonLimits: JsonShapeLimits;
}

export interface AppContext {
  project: Project;
  store: Store;
  settings: ServerSettings;
  /** Extra services attached by later layers (engine, runtimes, scheduler). */
  services: AppServices;
}

export interface AppServices {
  [name: string]: unknown;
}
