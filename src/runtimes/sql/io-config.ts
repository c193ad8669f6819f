/**
 * Reads a profile from `<projectRoot>/io_config.yaml` (Mage's connection settings file) and renders the
 * `{{ env_var('X') }}` / `{{ mage_secret_var('x') }}` templates in its values.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SqlBlockError } from './errors.js';
import { jsonValue } from './json-value.js';
import { hasTemplateSyntax, renderTemplate, type TemplateScope } from './template.js';

export interface IoConfigContext {
  projectRoot: string;
  /** Environment used by env_var(): request.env over process.env. */
  env: Readonly<Record<string, string | undefined>>;
  getSecret?: (name: string) => Promise<string | undefined>;
  /** Receives every secret value resolved for the profile, so errors and logs can redact it. Default: not collected. */
  secrets?: Set<string>;
}

/**
 * The rendered key/value settings of `profile` (e.g. POSTGRES_HOST). Values are strings, numbers or booleans
 * as written; templated strings become strings. A missing file or profile is a ValueError naming it.
 */
export async function loadIoConfigProfile(ctx: IoConfigContext, profile: string): Promise<Record<string, unknown>> {
  const path = join(ctx.projectRoot, 'io_config.yaml');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SqlBlockError('ValueError', `Cannot read io_config.yaml at ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new SqlBlockError('ValueError', `io_config.yaml at ${path} is not valid YAML: ${(err as Error).message}`);
  }
  const profiles = doc !== null && typeof doc === 'object' ? (doc as Record<string, unknown>) : {};
  const raw = profiles[profile];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    const known = Object.keys(profiles).filter((k) => k !== 'version').join(', ') || 'none';
    throw new SqlBlockError('ValueError', `Profile '${profile}' not found in ${path} (profiles: ${known})`);
  }
  const scope = ioConfigScope(ctx);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    out[key] = typeof value === 'string' && hasTemplateSyntax(value) ? await renderTemplate(value, scope, { origin: `io_config.yaml profile '${profile}' key ${key}` }) : value;
  }
  return out;
}

/**
 * The functions io_config.yaml values may call (Mage's get_template_vars). A missing environment variable
 * renders as an empty string, or as the second argument when given.
 */
export function ioConfigScope(ctx: IoConfigContext): TemplateScope {
  return { names: new Map(), functions: mageTemplateHelpers(ctx) };
}

/**
 * The helpers both io_config.yaml values and SQL blocks offer: env_var (missing: '' or the second argument),
 * json_value, and mage_secret_var, whose every resolved value goes to `ctx.secrets` for redaction.
 */
export function mageTemplateHelpers(ctx: Pick<IoConfigContext, 'env' | 'getSecret' | 'secrets'>): TemplateScope['functions'] {
  return {
    env_var: (name: unknown, fallback?: unknown) => ctx.env[String(name)] ?? (fallback === undefined ? '' : fallback),
    json_value: jsonValue,
    mage_secret_var: async (name: unknown) => {
      const value = await resolveSecret(ctx.getSecret, String(name));
      ctx.secrets?.add(value);
      return value;
    },
  };
}

/** Resolves a secret or throws a clear error; Mage fails the block when a referenced secret is missing. */
export async function resolveSecret(
  getSecret: ((name: string) => Promise<string | undefined>) | undefined,
  name: string,
): Promise<string> {
  const value = getSecret ? await getSecret(name) : undefined;
  if (value === undefined) throw new Error(`secret '${name}' is not defined`);
  return value;
}

/** Reads a setting as a non-empty string, or undefined. */
export function settingString(settings: Record<string, unknown>, key: string): string | undefined {
  const v = settings[key];
  if (v === undefined || v === null) return undefined;
  const s = String(v);
  return s.length > 0 ? s : undefined;
}
