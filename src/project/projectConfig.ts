/**
 * The project folder's own configuration: metadata.yaml (Mage's RepoConfig), the data dir it implies, and
 * io_config.yaml connection profiles.
 */
import { existsSync, linkSync, readFileSync, realpathSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { parseYaml, writeFileAtomic } from './yamlFiles.js';
import { activePlatformProject } from './platform.js';

/** The folder is not a Mage project, or its metadata.yaml / io_config.yaml is unusable. */
export class ProjectConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProjectConfigError';
  }
}

/** Project-level retry defaults for blocks (metadata.yaml `retry_config`). */
export interface RetryConfig {
  retries?: number;
  delay?: number;
  max_delay?: number;
  exponential_backoff?: boolean;
  [key: string]: unknown;
}

export interface Project {
  /** Absolute realpath of the project folder (where metadata.yaml is, or would be). */
  root: string;
  /** The folder name, which Mage uses as the project (repo) name. */
  name: string;
  /** metadata.yaml as parsed, unknown keys included; `{}` when the folder has no metadata.yaml. */
  metadata: Record<string, unknown>;
  /** `project_uuid` from metadata.yaml; null until ensureProjectUuid writes one. */
  projectUuid: string | null;
  /** `project_type`: `standalone` (default), `main` or `sub`. */
  projectType: string;
  /** Absolute data dir (Mage's resolved variables_dir): holds pipelines/<uuid>/.variables, logs, the DB. */
  dataDir: string;
  /** `queue_config.concurrency`: how many pipeline runs execute at once. Default 20. */
  queueConcurrency: number;
  /** `retry_config`, the project default for blocks; null when unset. */
  retryConfig: RetryConfig | null;
  /** Absolute path of io_config.yaml (io_config.yml when only that exists). */
  ioConfigPath: string;
  /**
   * Files and folders inside the project that the file APIs must never serve besides the data folder (the
   * server registers its SQLite files and a configured venv here; see fileAccess.ts). Default none.
   */
  protectedPaths?: string[];
}

/** Mage's default variables_dir (`DEFAULT_MAGE_DATA_DIR`). */
export const DEFAULT_DATA_DIR = '~/.mage_data';
/** Mage's default `queue_config.concurrency`. */
export const DEFAULT_QUEUE_CONCURRENCY = 20;

const ENV_VAR_RE = /\{\{\s*env_var\(\s*(['"])([^'"]*)\1\s*(?:,\s*(['"])([^'"]*)\3\s*)?\)\s*\}\}/g;

/** Replaces `{{ env_var('X') }}` / `{{ env_var('X', 'default') }}`; an unset variable without a default gives ''. */
export function renderEnvVars(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(ENV_VAR_RE, (_m, _q, name: string, _q2, fallback: string | undefined) => env[name] ?? fallback ?? '');
}

function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return join(homedir(), p.slice(2));
  return p;
}

/**
 * Mage's `get_variables_dir`: MAGE_DATA_DIR, then metadata `variables_dir`, then `~/.mage_data`. An absolute
 * dir gets `/<project name>` appended; a relative one is resolved against the project root.
 */
export function resolveDataDir(root: string, metadata: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): string {
  const fromMeta = typeof metadata.variables_dir === 'string' ? renderEnvVars(metadata.variables_dir, env).trim() : '';
  const raw = env.MAGE_DATA_DIR && env.MAGE_DATA_DIR.trim() !== '' ? env.MAGE_DATA_DIR.trim() : fromMeta || DEFAULT_DATA_DIR;
  const expanded = expandHome(raw);
  if (isAbsolute(expanded)) return join(expanded, basename(root));
  return resolve(root, expanded);
}

function readMetadata(path: string): Record<string, unknown> {
  const parsed = parseYaml(readFileSync(path, 'utf8'), path);
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ProjectConfigError(`${path} must hold a mapping of settings, not ${Array.isArray(parsed) ? 'a list' : typeof parsed}.`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Loads the project at `root`. A folder without metadata.yaml is a project with Mage's defaults, as Mage's
 * RepoConfig reads a missing file as `{}` and `mage start` serves such a folder (the server then writes a
 * metadata.yaml holding only the project_uuid, see ensureProjectUuid). A project platform's root (settings.yaml
 * listing projects, see platform.ts) loads as its active project. Throws ProjectConfigError when the
 * folder does not exist or its metadata.yaml is unusable.
 */
export function loadProject(root: string, env: NodeJS.ProcessEnv = process.env): Project {
  const abs = resolve(root);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    throw new ProjectConfigError(`Project folder ${abs} does not exist.`);
  }
  const real = realpathSync(abs);
  let platform;
  try {
    platform = activePlatformProject(real);
  } catch (error) {
    throw new ProjectConfigError((error as Error).message);
  }
  // A project platform's root: served as Mage serves it, as its active project.
  if (platform) return loadProject(platform.root, env);
  const metadataPath = join(real, 'metadata.yaml');
  const metadata = existsSync(metadataPath) ? readMetadata(metadataPath) : {};
  const queue = metadata.queue_config as Record<string, unknown> | null | undefined;
  const concurrencyRaw = queue && typeof queue === 'object' ? queue.concurrency : undefined;
  let queueConcurrency = DEFAULT_QUEUE_CONCURRENCY;
  if (concurrencyRaw !== undefined && concurrencyRaw !== null) {
    const n = Number(concurrencyRaw);
    if (!Number.isInteger(n) || n < 1) {
      throw new ProjectConfigError(`queue_config.concurrency in ${metadataPath} must be a positive integer, got ${JSON.stringify(concurrencyRaw)}.`);
    }
    queueConcurrency = n;
  }
  const retry = metadata.retry_config;
  const ioYml = join(real, 'io_config.yml');
  const ioYaml = join(real, 'io_config.yaml');
  return {
    root: real,
    name: basename(real),
    metadata,
    projectUuid: typeof metadata.project_uuid === 'string' && metadata.project_uuid !== '' ? metadata.project_uuid : null,
    projectType: typeof metadata.project_type === 'string' && metadata.project_type !== '' ? metadata.project_type : 'standalone',
    dataDir: resolveDataDir(real, metadata, env),
    queueConcurrency,
    retryConfig: retry && typeof retry === 'object' && !Array.isArray(retry) ? (retry as RetryConfig) : null,
    ioConfigPath: !existsSync(ioYaml) && existsSync(ioYml) ? ioYml : ioYaml,
  };
}

/**
 * Creates metadata.yaml holding only `project_uuid: <uuid>` (what Mage's RepoConfig.save writes when the file
 * is missing) unless the file exists by then. The text goes to a temp file that is hard-linked into place, so
 * two servers starting at once on the same folder never both write one: the loser reads the winner's uuid.
 * Returns false when the file already existed.
 */
function createMetadataWithUuid(path: string, uuid: string): boolean {
  const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(tmp, `project_uuid: ${uuid}\n`, { flag: 'wx' });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Writes a `project_uuid` (32 hex digits, as Mage's uuid4().hex) into metadata.yaml when it has none, keeping
 * the file's comments and layout (Mage edits this file with ruamel for the same reason). A project without
 * metadata.yaml gets one holding only the uuid, as Mage's init_project_uuid does on start. Returns the uuid.
 */
export function ensureProjectUuid(project: Project): string {
  if (project.projectUuid) return project.projectUuid;
  const path = join(project.root, 'metadata.yaml');
  if (!existsSync(path)) {
    const uuid = randomUUID().replace(/-/g, '');
    if (createMetadataWithUuid(path, uuid)) {
      project.projectUuid = uuid;
      project.metadata = { ...project.metadata, project_uuid: uuid };
      return uuid;
    }
    // Another process created the file meanwhile: the edit below takes its uuid, or adds one to what it wrote.
  }
  const doc = parseDocument(readFileSync(path, 'utf8'), { version: '1.1' });
  if (doc.errors.length > 0) throw new ProjectConfigError(`Invalid YAML in ${path}: ${doc.errors[0].message}`);
  // The file may have gained a uuid since it was loaded (another server on the same folder): keep that one.
  const current = doc.contents === null ? undefined : doc.get('project_uuid');
  if (typeof current === 'string' && current !== '') {
    project.projectUuid = current;
    project.metadata = { ...project.metadata, project_uuid: current };
    return current;
  }
  const uuid = randomUUID().replace(/-/g, '');
  if (doc.contents === null) {
    writeFileAtomic(path, `project_uuid: ${uuid}\n`);
  } else {
    doc.set('project_uuid', uuid);
    writeFileAtomic(path, doc.toString({ indentSeq: false }));
  }
  project.projectUuid = uuid;
  project.metadata = { ...project.metadata, project_uuid: uuid };
  return uuid;
}

/** Resolves `{{ mage_secret_var('name') }}`; undefined or null means the secret does not exist. */
export type SecretResolver = (name: string) => Promise<string | undefined | null> | string | undefined | null;

export interface ReadIoConfigOptions {
  /** Used for `{{ mage_secret_var('x') }}`; without it such references are an error. */
  secretResolver?: SecretResolver;
  /** Environment for `{{ env_var('X') }}`. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

const SECRET_RE = /\{\{\s*mage_secret_var\(\s*(['"])([^'"]*)\1\s*\)\s*\}\}/g;

async function renderValue(value: unknown, env: NodeJS.ProcessEnv, secrets: (name: string) => Promise<string>): Promise<unknown> {
  if (typeof value === 'string') {
    let text = renderEnvVars(value, env);
    for (const m of [...text.matchAll(SECRET_RE)]) text = text.replace(m[0], await secrets(m[2]));
    return text;
  }
  if (Array.isArray(value)) return Promise.all(value.map((v) => renderValue(v, env, secrets)));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await renderValue(v, env, secrets);
    return out;
  }
  return value;
}

/**
 * One profile of io_config.yaml (e.g. `default`), with `{{ env_var('X') }}` and `{{ mage_secret_var('x') }}`
 * rendered in its values. Mage renders the whole file as text before parsing; rendering the parsed profile's
 * values gives the same result for well-formed files, cannot break the YAML with a quote inside a value,
 * and only asks for the secrets of the profile in use. Throws ProjectConfigError when the file or the
 * profile is missing, or a secret cannot be resolved.
 */
export async function readIoConfig(project: Project, profile: string, options: ReadIoConfigOptions = {}): Promise<Record<string, unknown>> {
  const path = project.ioConfigPath;
  if (!existsSync(path)) throw new ProjectConfigError(`io_config.yaml not found in ${project.root}.`);
  const parsed = parseYaml(readFileSync(path, 'utf8'), path);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ProjectConfigError(`${path} must hold a mapping of profiles.`);
  }
  const section = (parsed as Record<string, unknown>)[profile];
  if (profile === 'version' || !section || typeof section !== 'object' || Array.isArray(section)) {
    throw new ProjectConfigError(`Profile ${JSON.stringify(profile)} not found in ${basename(path)}.`);
  }
  const cache = new Map<string, string>();
  const secrets = async (name: string): Promise<string> => {
    const known = cache.get(name);
    if (known !== undefined) return known;
    if (!options.secretResolver) {
      throw new ProjectConfigError(`io_config.yaml profile ${JSON.stringify(profile)} uses secret ${JSON.stringify(name)} but no secret store is available.`);
    }
    const value = await options.secretResolver(name);
    if (value === undefined || value === null) throw new ProjectConfigError(`Secret ${JSON.stringify(name)} used in io_config.yaml does not exist.`);
    cache.set(name, value);
    return value;
  };
  return (await renderValue(section, options.env ?? process.env, secrets)) as Record<string, unknown>;
}
