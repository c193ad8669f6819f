/** The template scope of a SQL block file (Mage's `interpolate_vars` plus the upstream table names). */
import type { BlockRunRequest } from '../types.js';
import { resolveSecret } from './io-config.js';
import type { TemplateScope } from './template.js';

/**
 * Python's `str(datetime)` for an ISO 8601 string (`2024-01-02T03:04:05.5Z` -> `2024-01-02 03:04:05.500000+00:00`),
 * which is how Mage's templates print `execution_date`. Other strings are returned unchanged.
 */
export function pythonDatetimeString(iso: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/.exec(iso);
  if (!m) return iso;
  const micros = m[3] ? m[3].padEnd(6, '0').slice(0, 6) : '';
  const fraction = micros && Number(micros) !== 0 ? `.${micros}` : '';
  let offset = '';
  if (m[4] === 'Z') offset = '+00:00';
  else if (m[4]) offset = m[4].includes(':') ? m[4] : `${m[4].slice(0, 3)}:${m[4].slice(3)}`;
  return `${m[1]} ${m[2]}${fraction}${offset}`;
}

function isDatetimeKey(key: string): boolean {
  return key === 'execution_date' || key.endsWith('_datetime') || key.endsWith('_datetime_previous');
}

export interface BlockTemplateOptions {
  /** `df_1`, `df_2`... and upstream block uuids -> the SQL text that names their table. */
  tables: ReadonlyMap<string, string>;
  /** Upstream names without a stored output -> the reason, reported if the SQL refers to them. */
  unavailable: ReadonlyMap<string, string>;
  /** Environment for env_var(): request.env over process.env. */
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * Names: every kwarg (`execution_date`, `ds`, `hr`, `env`, global variables...), with datetimes printed as
 * Python does, then the upstream tables (which win on a clash, as Mage substitutes them first).
 * Functions: `variables('x')` (a kwarg; an unset one is an error), `env_var('X')` (empty when unset),
 * `mage_secret_var('s')` (request.getSecret; an unknown secret is an error).
 */
export function blockTemplateScope(request: BlockRunRequest, options: BlockTemplateOptions): TemplateScope {
  const kwargs = new Map<string, unknown>();
  for (const [key, value] of Object.entries(request.kwargs)) {
    kwargs.set(key, typeof value === 'string' && isDatetimeKey(key) ? pythonDatetimeString(value) : value);
  }
  const names = new Map(kwargs);
  for (const [name, sql] of options.tables) names.set(name, sql);
  const unavailable = new Map(options.unavailable);
  for (const name of options.tables.keys()) unavailable.delete(name);
  for (const name of unavailable.keys()) names.delete(name);
  return {
    names,
    unavailable,
    functions: {
      variables: (name: unknown, ...rest: unknown[]) => {
        const key = String(name);
        if (kwargs.has(key)) return kwargs.get(key);
        if (rest.length > 0) return rest[0];
        throw new Error(`variable '${key}' is not set`);
      },
      env_var: (name: unknown) => options.env[String(name)] ?? '',
      mage_secret_var: (name: unknown) => resolveSecret(request.getSecret, String(name)),
    },
  };
}
