/**
 * The template scope of a SQL block file: Mage's `interpolate_vars` (every kwarg as a name, `variables()` and
 * `get_template_vars()`: env_var, json_value, mage_secret_var, aws_secret_var, azure_secret_var) plus the
 * upstream table names (`df_1`..., the upstream block uuids, and `{{ '<uuid>' }}`).
 */
import type { BlockRunRequest } from '../types.js';
import { mageTemplateHelpers } from './io-config.js';
import { PyDatetime } from './py-values.js';
import type { TemplateScope } from './template.js';

/**
 * Python's `str(datetime)` for an ISO 8601 string (`2024-01-02T03:04:05.5Z` -> `2024-01-02 03:04:05.500000+00:00`),
 * which is how Mage's templates print `execution_date`. Other strings are returned unchanged.
 */
export function pythonDatetimeString(iso: string): string {
  return PyDatetime.parse(iso)?.toString() ?? iso;
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
  /** Receives every secret value the template resolved, so errors and logs can redact it. Default: not collected. */
  secrets?: Set<string>;
}

/** Python callables Mage's `variables('x', parse)` may name, by their source text. */
const PARSE_FUNCTIONS: Record<string, (v: unknown) => unknown> = {
  int: (v) => {
    const n = typeof v === 'number' ? Math.trunc(v) : Number(String(v).trim());
    if (!Number.isInteger(n)) throw new Error(`invalid literal for int(): ${JSON.stringify(v)}`);
    return n;
  },
  float: (v) => {
    const n = Number(typeof v === 'string' ? v.trim() : v);
    if (Number.isNaN(n) && String(v).trim().toLowerCase() !== 'nan') throw new Error(`could not convert to float: ${JSON.stringify(v)}`);
    return n;
  },
  str: (v) => (typeof v === 'string' ? v : v === null || v === undefined ? 'None' : typeof v === 'boolean' ? (v ? 'True' : 'False') : typeof v === 'object' ? JSON.stringify(v) : String(v)),
  bool: (v) => !(v === null || v === undefined || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0)),
};

/**
 * Names: every kwarg (`execution_date`, `ds`, `hr`, `env`, global variables...), with datetimes as Python
 * datetimes (printed as Python does, with `.strftime()`), then the upstream tables (which win on a clash, as
 * Mage substitutes them first).
 * Functions: `variables('x')` (a kwarg, None when unset, as Mage; `variables('x', 'int')` converts with int,
 * float, str or bool), `env_var('X', default)` (empty when unset and no default), `json_value(text, 'a.b')`,
 * `mage_secret_var('s')` (request.getSecret; an unknown secret is an error); `aws_secret_var` and
 * `azure_secret_var` fail with the reason.
 */
export function blockTemplateScope(request: BlockRunRequest, options: BlockTemplateOptions): TemplateScope {
  const kwargs = new Map<string, unknown>();
  for (const [key, value] of Object.entries(request.kwargs)) {
    const datetime = typeof value === 'string' && isDatetimeKey(key) ? PyDatetime.parse(value) : null;
    kwargs.set(key, datetime ?? value);
  }
  const names = new Map(kwargs);
  for (const [name, sql] of options.tables) names.set(name, sql);
  const references = new Map<string, string | { unavailable: string }>();
  for (const [name, sql] of options.tables) if (!/^df_\d+$/.test(name)) references.set(name, sql);
  const unavailable = new Map(options.unavailable);
  for (const name of options.tables.keys()) unavailable.delete(name);
  for (const [name, reason] of unavailable) {
    names.delete(name);
    if (!/^df_\d+$/.test(name)) references.set(name, { unavailable: reason });
  }
  const unsupported = (service: string) => () => {
    throw new Error(`${service} is not available in Blockflow; store the value as a Mage secret and use mage_secret_var()`);
  };
  return {
    names,
    unavailable,
    references,
    functions: {
      variables: (name: unknown, parse?: unknown) => {
        const value = kwargs.has(String(name)) ? kwargs.get(String(name)) : null;
        if (parse === undefined || parse === null) return value;
        const fn = PARSE_FUNCTIONS[String(parse).trim()];
        if (!fn) throw new Error(`parse function ${JSON.stringify(parse)} is not supported (supported: ${Object.keys(PARSE_FUNCTIONS).join(', ')})`);
        return fn(value);
      },
      ...mageTemplateHelpers({ env: options.env, getSecret: request.getSecret, secrets: options.secrets }),
      aws_secret_var: unsupported('AWS Secrets Manager'),
      azure_secret_var: unsupported('Azure Key Vault'),
    },
  };
}
