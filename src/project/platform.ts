/**
 * Mage's project platform (mage_ai/settings/platform): a repository whose root holds `settings.yaml` listing its
 * projects, each a Mage project in its own folder. Pointed at such a root, Mage serves the active project: the
 * entry with `active: true`, else the first listed, in the folder its `path` names (default: the project's name).
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseYaml } from './yamlFiles.js';
import { isUnderRoot, joinUnderRoot } from './paths.js';

export class PlatformSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlatformSettingsError';
  }
}

export interface ActiveProject {
  /** The project's name (its key under `projects`). */
  name: string;
  /** Absolute folder of the project, under the platform root. */
  root: string;
}

/**
 * The active project of the platform at `root`, or null when `root` is not a platform root: it has a
 * metadata.yaml or a pipelines/ folder of its own (a project), or no settings.yaml with a `projects` mapping.
 * Throws PlatformSettingsError when the settings name a project folder that is missing or outside the root.
 */
export function activePlatformProject(root: string): ActiveProject | null {
  if (existsSync(join(root, 'metadata.yaml')) || existsSync(join(root, 'pipelines'))) return null;
  const settingsPath = join(root, 'settings.yaml');
  if (!existsSync(settingsPath)) return null;
  const parsed = parseYaml(readFileSync(settingsPath, 'utf8'), settingsPath) as { projects?: unknown } | null;
  const projects = parsed && typeof parsed === 'object' ? parsed.projects : undefined;
  if (!projects || typeof projects !== 'object' || Array.isArray(projects)) return null;
  const entries = Object.entries(projects as Record<string, unknown>);
  if (entries.length === 0) throw new PlatformSettingsError(`${settingsPath} lists no projects under "projects".`);
  const settingsOf = (value: unknown) => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
  const [name, value] = entries.find(([, v]) => settingsOf(v).active === true || settingsOf(v).active === 'true') ?? entries[0];
  const path = typeof settingsOf(value).path === 'string' && settingsOf(value).path !== '' ? String(settingsOf(value).path) : name;
  let folder: string;
  try {
    folder = joinUnderRoot(root, { kind: `folder of project ${JSON.stringify(name)}`, value: path, nested: true });
  } catch (error) {
    throw new PlatformSettingsError(`${settingsPath}: ${(error as Error).message}`);
  }
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new PlatformSettingsError(`${settingsPath} makes ${JSON.stringify(name)} the active project, but its folder ${folder} does not exist.`);
  }
  const real = realpathSync(folder);
  if (!isUnderRoot(root, real)) throw new PlatformSettingsError(`${settingsPath}: the folder of project ${JSON.stringify(name)} leaves ${root}.`);
  return { name, root: real };
}
