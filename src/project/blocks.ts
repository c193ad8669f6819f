/**
 * Block files and block edits inside a pipeline, following Mage's BlockResource / Block.create / Block.update /
 * Pipeline.update semantics (mage-api.md §3.1, §3.2, §5.4).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, type Dirent } from 'node:fs';
import { dirname, isAbsolute, join, posix, relative, sep } from 'node:path';
import { blockTemplate } from './blockTemplates.js';
import {
  BLOCK_COLORS,
  isBlockLanguage,
  isBlockType,
  LANGUAGE_EXTENSIONS,
  type BlockLanguage,
  type BlockType,
} from './blockTypes.js';
import {
  BlockExistsError,
  BlockNotFoundError,
  HasDownstreamDependenciesError,
  InvalidBlockError,
  PipelineUpdateError,
} from './errors.js';
import { checkNameBytes, cleanName } from './names.js';
import { assertUnderRoot, PathRefusedError, realpathLoose, resolveUnderRoot } from './paths.js';
import { assertFileAccess } from './fileAccess.js';
import { blockVariablesDir } from '../variables/layout.js';
import {
  allBlocks,
  assertAcyclic,
  BLOCK_COLLECTIONS,
  findBlock,
  listPipelineUuids,
  loadPipeline,
  normalizeBlock,
  renamePipeline,
  savePipeline,
  type BlockCollection,
  type BlockConfig,
  type PipelineConfig,
} from './pipeline.js';
import type { Project } from './projectConfig.js';
import { writeFileAtomic } from './yamlFiles.js';

export * from './blockTypes.js';
export { blockTemplate } from './blockTemplates.js';
export {
  BlockExistsError,
  BlockNotFoundError,
  HasDownstreamDependenciesError,
  InvalidBlockError,
  PipelineUpdateError,
} from './errors.js';

/** What blockFilePath needs of a block. */
export interface BlockFileRef {
  uuid: string;
  type: string;
  language?: string | null;
  configuration?: Record<string, unknown> | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function languageOf(block: BlockFileRef): BlockLanguage {
  const lang = block.language ?? 'python';
  if (!isBlockLanguage(lang)) throw new InvalidBlockError(`Block language ${JSON.stringify(lang)} is not supported.`);
  return lang;
}

/** The folder a block type's files live in: `<type>s`, but `custom` and `dbt` stay singular. */
export function blockTypeDir(type: string): string {
  return type === 'custom' || type === 'dbt' ? type : `${type}s`;
}

/** Folders the last-resort search for a configured block path never enters (besides dot-folders and the data folder). */
const SEARCH_SKIPPED_DIRS = new Set(['node_modules', '__pycache__']);
/**
 * How many folder entries the last-resort search reads before giving up, so a block whose file is really gone
 * costs a bounded walk even in a project holding a large checkout or data set.
 */
const SEARCH_MAX_ENTRIES = 20_000;

/** The absolute path `segments` name under the root, or null when it is not a file there (or leaves the root). */
function fileUnder(root: string, segments: string[]): string | null {
  if (segments.length === 0) return null;
  try {
    const abs = resolveUnderRoot(root, segments.join('/'));
    return existsSync(abs) && statSync(abs).isFile() ? abs : null;
  } catch {
    return null;
  }
}

function existsUnder(root: string, segments: string[]): boolean {
  try {
    return existsSync(resolveUnderRoot(root, segments.join('/')));
  } catch {
    return false;
  }
}

/**
 * Mage's last fallback (find_directory): the first file in the project whose path ends with `segments`. Mage
 * compares plain strings, so `x.py` would also match `fix.py`; here the match is on whole path segments.
 * Dot-folders, the data folder and SEARCH_SKIPPED_DIRS are not entered; folders are read in name order so the
 * answer does not depend on the file system's listing order.
 */
function findBySuffix(project: Project, segments: string[]): string | null {
  const suffix = `/${segments.join('/')}`;
  const dataDir = realpathLoose(project.dataDir);
  let budget = SEARCH_MAX_ENTRIES;
  const queue: string[] = [''];
  while (queue.length > 0 && budget > 0) {
    const rel = queue.shift() as string;
    let entries: Dirent[];
    try {
      entries = readdirSync(rel === '' ? project.root : join(project.root, rel), { withFileTypes: true }); // path-checked: names read from the project folder itself
    } catch {
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (--budget < 0) break;
      const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name.startsWith('.') || SEARCH_SKIPPED_DIRS.has(e.name)) continue;
        if (join(project.root, childRel) === dataDir) continue; // path-checked: compared, never opened
        queue.push(childRel);
      } else if (e.isFile() && `/${childRel}`.endsWith(suffix)) {
        return childRel;
      }
    }
  }
  return null;
}

/**
 * The project-relative file a configured block path names, resolved as Mage's add_absolute_path resolves it
 * against the repo root, in its order:
 *   1. an absolute path is taken as it is (here: only inside the project);
 *   2. a path starting with the project's folder name (`<project>/custom/x.py`, as Mage writes paths relative
 *      to a multi-project root) drops that name;
 *   3. a path whose first folder exists in the project is used as written;
 *   4. a path whose first folder exists under `dbt/` is under `dbt/` (Mage's dbt v1 paths);
 *   5. the path of the project-platform form `<platform root>/<project>/custom/x.py` (Mage's Block.create
 *      writes paths relative to the platform root's parent) drops everything up to the project's name when
 *      that file exists; Mage resolves such paths against the platform root, which is this folder's parent;
 *   6. the first file in the project whose path ends with the given path (Mage's find_directory).
 * When nothing is found the path as written (after 2) is the answer, which is where saving content creates it.
 */
function resolveConfiguredPath(project: Project, configured: string): string {
  let text = configured.trim().replace(/\\/g, '/');
  if (isAbsolute(text)) {
    const rel = relative(project.root, text);
    if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw new PathRefusedError('absolute', `Block file path ${JSON.stringify(configured)} is absolute and outside the project folder.`);
    }
    text = rel.split(sep).join('/');
  }
  // Refuses `..`, encoded separators and the like before any probe touches the disk.
  resolveUnderRoot(project.root, text);
  let segments = text.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.length > 1 && segments[0] === project.name) segments = segments.slice(1);
  else if (existsUnder(project.root, segments.slice(0, 1))) return segments.join('/');
  else if (existsUnder(project.root, ['dbt', segments[0]])) return ['dbt', ...segments].join('/');
  else {
    for (let i = 1; i < segments.length - 1; i++) {
      if (segments[i] === project.name && fileUnder(project.root, segments.slice(i + 1))) return segments.slice(i + 1).join('/');
    }
    const found = findBySuffix(project, segments);
    if (found) return found;
  }
  return segments.join('/');
}

/**
 * Absolute path of a block's file: `<type>s/<uuid>.<ext>` (`custom/` singular), or the repo-relative
 * `configuration.file_source.path` / `configuration.file_path` resolved as Mage does (resolveConfiguredPath).
 * Always checked by resolveUnderRoot and the file access policy, so a block whose file_path names the database
 * or the data folder, or a file outside the project, can neither read nor write it.
 */
export function blockFilePath(project: Project, block: BlockFileRef): string {
  const source = blockFileSource(block);
  const ext = LANGUAGE_EXTENSIONS[languageOf(block)];
  let rel: string;
  try {
    rel = source ? resolveConfiguredPath(project, source.path) : `${blockTypeDir(block.type)}/${block.uuid}.${ext}`;
  } catch (err) {
    // Name the block and the key that holds the path: the bare path alone does not say which block to fix.
    if (err instanceof PathRefusedError && source) {
      throw new PathRefusedError(err.reason, `Block ${block.uuid}: ${source.key} ${JSON.stringify(source.path)} is refused: ${err.message}`);
    }
    throw err;
  }
  const path = resolveUnderRoot(project.root, rel);
  assertFileAccess(project, path, 'write');
  return path;
}

/**
 * Why the block's file cannot be read, or null when it can: its resolved path leaves the project or is refused
 * by the file access policy, or no file is there. The message names the block, the project-relative file and
 * the configuration key that named it, for the pipeline API and for failing a run of the block.
 */
export function blockFileProblem(project: Project, block: BlockFileRef): { error: 'file_not_found' | 'file_unreadable'; message: string } | null {
  let path: string;
  try {
    path = blockFilePath(project, block);
  } catch (err) {
    const message = (err as Error).message;
    return { error: 'file_unreadable', message: message.startsWith(`Block ${block.uuid}:`) ? message : `Block ${block.uuid}: ${message}` };
  }
  if (existsSync(path) && statSync(path).isFile()) return null;
  const rel = relative(project.root, path).split(sep).join('/');
  const source = blockFileSource(block);
  const from = source ? ` (${source.key} is ${JSON.stringify(source.path)})` : '';
  return { error: 'file_not_found', message: `Block ${block.uuid}: its file ${rel} does not exist in the project${from}.` };
}

/** Which configuration key names the block's file, and what it says; null for the default `<type>s/<uuid>.<ext>`. */
export function blockFileSource(block: BlockFileRef): { key: 'configuration.file_source.path' | 'configuration.file_path'; path: string } | null {
  const conf = block.configuration ?? {};
  const source = conf.file_source;
  if (isRecord(source) && typeof source.path === 'string' && source.path.trim() !== '') return { key: 'configuration.file_source.path', path: source.path };
  if (typeof conf.file_path === 'string' && conf.file_path.trim() !== '') return { key: 'configuration.file_path', path: conf.file_path };
  return null;
}

/** The file's text, or null when the file does not exist. */
export function readBlockContent(project: Project, block: BlockFileRef): string | null {
  const path = blockFilePath(project, block);
  if (!existsSync(path)) return null;
  return readFileSync(path, 'utf8');
}

/** Replaces the block's file atomically, creating its folder when needed. */
export function writeBlockContent(project: Project, block: BlockFileRef, content: string): void {
  if (typeof content !== 'string') throw new InvalidBlockError('Block content must be a string.');
  const path = blockFilePath(project, block);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, content);
}

/** Which list of the pipeline a block type belongs in. */
export function collectionForType(type: string): BlockCollection {
  if (type === 'callback') return 'callbacks';
  if (type === 'conditional') return 'conditionals';
  if (type === 'chart') return 'widgets';
  return 'blocks';
}

function listFor(pipeline: PipelineConfig, block: BlockConfig): BlockConfig[] {
  if (block.type === 'extension' && typeof block.extension_uuid === 'string') {
    const ext = (pipeline.extensions[block.extension_uuid] ??= { blocks: [] });
    return (ext.blocks ??= []);
  }
  return pipeline[collectionForType(block.type)];
}

function clonePipeline(pipeline: PipelineConfig): PipelineConfig {
  return structuredClone(pipeline);
}

/** Makes `target` hold exactly what `next` holds, so callers' references see the committed state. */
function commit(target: PipelineConfig, next: PipelineConfig): PipelineConfig {
  for (const key of Object.keys(target)) if (!(key in next)) delete target[key];
  Object.assign(target, next);
  return target;
}

function requireBlock(pipeline: PipelineConfig, uuid: string): BlockConfig {
  const block = findBlock(pipeline, uuid);
  if (!block) throw new BlockNotFoundError(uuid, pipeline.uuid);
  return block;
}

function uuidList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new InvalidBlockError(`${field} must be a list of block uuids.`);
  }
  return [...new Set(value as string[])];
}

function without(list: string[] | undefined, uuid: string): string[] {
  return (list ?? []).filter((u) => u !== uuid);
}

function withAdded(list: string[] | undefined, uuid: string): string[] {
  const l = list ?? [];
  return l.includes(uuid) ? l : [...l, uuid];
}

/** Sets `block.upstream_blocks` to `upstream` and mirrors the change into the upstreams' downstream lists. */
function setUpstream(pipeline: PipelineConfig, block: BlockConfig, upstream: string[]): void {
  for (const u of upstream) {
    if (u === block.uuid) throw new InvalidBlockError(`Block ${block.uuid} cannot be its own upstream block.`);
    requireBlock(pipeline, u);
  }
  for (const old of block.upstream_blocks) {
    if (!upstream.includes(old)) {
      const up = findBlock(pipeline, old);
      if (up) up.downstream_blocks = without(up.downstream_blocks, block.uuid);
    }
  }
  for (const u of upstream) {
    const up = requireBlock(pipeline, u);
    up.downstream_blocks = withAdded(up.downstream_blocks, block.uuid);
  }
  block.upstream_blocks = upstream;
}

/** Sets `block.downstream_blocks` to `downstream` and mirrors the change into the downstreams' upstream lists. */
function setDownstream(pipeline: PipelineConfig, block: BlockConfig, downstream: string[]): void {
  for (const d of downstream) {
    if (d === block.uuid) throw new InvalidBlockError(`Block ${block.uuid} cannot be its own downstream block.`);
    requireBlock(pipeline, d);
  }
  for (const old of block.downstream_blocks) {
    if (!downstream.includes(old)) {
      const down = findBlock(pipeline, old);
      if (down) down.upstream_blocks = without(down.upstream_blocks, block.uuid);
    }
  }
  for (const d of downstream) {
    const down = requireBlock(pipeline, d);
    down.upstream_blocks = withAdded(down.upstream_blocks, block.uuid);
  }
  block.downstream_blocks = downstream;
}

export interface AddBlockInput {
  /** Display name; the uuid is clean_name(name). `uuid` may stand in for it. */
  name?: string;
  uuid?: string;
  type: string;
  /** Default `python`. */
  language?: string;
  /** Replaces the template (or the reused file's text) when given. */
  content?: string;
  upstream_blocks?: string[];
  /** Each of these gets the new block appended to its upstream list. */
  downstream_blocks?: string[];
  /** Index in the pipeline's list; default append. */
  priority?: number;
  /** A mapping (checked at run time). */
  configuration?: object;
  color?: string | null;
  /** Refuse to reuse an existing file of the same name. */
  require_unique_name?: boolean;
  /** For `extension` blocks: which extension holds the block. */
  extension_uuid?: string;
  executor_type?: string;
  retry_config?: object | null;
  timeout?: number | null;
}

export interface AddBlockResult {
  pipeline: PipelineConfig;
  block: BlockConfig;
  content: string;
  filePath: string;
}

function validateColor(color: unknown): string | null {
  if (color === null || color === undefined) return null;
  if (typeof color !== 'string' || !(BLOCK_COLORS as readonly string[]).includes(color)) {
    throw new InvalidBlockError(`Block color must be one of ${BLOCK_COLORS.join(', ')} or null.`);
  }
  return color;
}

/**
 * Adds a block (Mage's BlockResource.create): the file `<type>s/<uuid>.<ext>` is rendered from the template
 * unless it already exists and the pipeline does not have that uuid, in which case it is reused; `content`
 * then overwrites it. Upstream and downstream links are wired on both sides; a cycle is refused before
 * anything is written. Saves the pipeline, updates `pipeline` in place and returns it with the block.
 */
export function addBlock(project: Project, pipeline: PipelineConfig, input: AddBlockInput): AddBlockResult {
  const rawName = input.name ?? input.uuid;
  if (typeof rawName !== 'string') throw new InvalidBlockError('A block needs a name (or uuid).');
  const uuid = checkNameBytes('Block', cleanName(rawName));
  if (!isBlockType(input.type)) throw new InvalidBlockError(`Block type ${JSON.stringify(input.type)} is not supported.`);
  const type: BlockType = input.type;
  const language = input.language ?? 'python';
  if (!isBlockLanguage(language)) throw new InvalidBlockError(`Block language ${JSON.stringify(language)} is not supported.`);
  if (input.configuration !== undefined && !isRecord(input.configuration)) {
    throw new InvalidBlockError('Block configuration must be a mapping.');
  }
  if (input.content !== undefined && typeof input.content !== 'string') throw new InvalidBlockError('Block content must be a string.');
  const next = clonePipeline(pipeline);
  const block = normalizeBlock(
    {
      uuid,
      name: input.name ?? uuid,
      type,
      language,
      status: 'not_executed',
      color: validateColor(input.color),
      configuration: input.configuration ?? {},
      executor_type: input.executor_type ?? 'local_python',
      retry_config: input.retry_config ?? null,
      timeout: input.timeout ?? null,
      upstream_blocks: [],
      downstream_blocks: [],
      ...(type === 'extension' && input.extension_uuid ? { extension_uuid: input.extension_uuid } : {}),
    },
    next.uuid,
    'new block',
  );
  const filePath = blockFilePath(project, block);
  const fileExists = existsSync(filePath);
  if (findBlock(next, uuid) || (fileExists && input.require_unique_name)) throw new BlockExistsError(uuid);

  const list = listFor(next, block);
  const index = typeof input.priority === 'number' && Number.isInteger(input.priority) ? Math.max(0, Math.min(input.priority, list.length)) : list.length;
  list.splice(index, 0, block);
  setUpstream(next, block, uuidList(input.upstream_blocks ?? [], 'upstream_blocks'));
  for (const d of uuidList(input.downstream_blocks ?? [], 'downstream_blocks')) {
    const down = requireBlock(next, d);
    if (d === uuid) throw new InvalidBlockError(`Block ${uuid} cannot be its own downstream block.`);
    down.upstream_blocks = withAdded(down.upstream_blocks, uuid);
    block.downstream_blocks = withAdded(block.downstream_blocks, d);
  }
  assertAcyclic(next);

  let content: string;
  if (input.content !== undefined) content = input.content;
  else if (fileExists) content = readFileSync(filePath, 'utf8');
  else content = blockTemplate(type, language);
  if (input.content !== undefined || !fileExists) writeBlockContent(project, block, content);
  // Mage's create calls update_content with the given content, which marks the block `updated` (seen against
  // mage-ai 0.9.80 in test/mage-diff); a block made from its template stays `not_executed`.
  if (input.content !== undefined && input.content !== blockTemplate(type, language)) block.status = 'updated';
  savePipeline(project, next);
  commit(pipeline, next);
  return { pipeline, block: requireBlock(pipeline, uuid), content, filePath };
}

/** The keys Mage's Block.update honours (content is not among them). */
export interface BlockPatch {
  name?: string;
  color?: string | null;
  upstream_blocks?: string[];
  downstream_blocks?: string[];
  callback_blocks?: string[];
  conditional_blocks?: string[];
  /** Replaces the whole configuration; must be a mapping (checked at run time). */
  configuration?: object;
  executor_type?: string | null;
  has_callback?: boolean;
  retry_config?: object | null;
  timeout?: number | null;
  catalog?: unknown;
  /** Only honoured when the block is a scratchpad. */
  type?: string;
  [key: string]: unknown;
}

function replaceUuidIn(list: string[] | undefined, from: string, to: string): string[] | undefined {
  return list?.map((u) => (u === from ? to : u));
}

function renameUuidEverywhere(pipeline: PipelineConfig, from: string, to: string): void {
  for (const b of allBlocks(pipeline)) {
    b.upstream_blocks = replaceUuidIn(b.upstream_blocks, from, to) ?? [];
    b.downstream_blocks = replaceUuidIn(b.downstream_blocks, from, to) ?? [];
    if (b.callback_blocks) b.callback_blocks = replaceUuidIn(b.callback_blocks, from, to);
    if (b.conditional_blocks) b.conditional_blocks = replaceUuidIn(b.conditional_blocks, from, to);
  }
}

/** The block as it will be after renaming its uuid to `newUuid` (file path overrides follow the rename). */
function renamedRef(block: BlockConfig, newUuid: string): BlockConfig {
  const renamed: BlockConfig = { ...block, uuid: newUuid, configuration: { ...block.configuration } };
  const ext = LANGUAGE_EXTENSIONS[languageOf(block)];
  const source = renamed.configuration.file_source;
  if (isRecord(source) && typeof source.path === 'string' && source.path !== '') {
    // path-checked: a repo-relative name kept in the config; it only becomes a path through blockFilePath.
    renamed.configuration.file_source = { ...source, path: posix.join(posix.dirname(source.path), `${newUuid}.${ext}`) };
  }
  if (typeof renamed.configuration.file_path === 'string' && renamed.configuration.file_path !== '') {
    // path-checked: as above, resolved through blockFilePath when used.
    renamed.configuration.file_path = posix.join(posix.dirname(renamed.configuration.file_path), `${newUuid}.${ext}`);
  }
  return renamed;
}

/** Moves a file, creating the target folder; a missing source is not an error (nothing to move). */
function moveFile(from: string, to: string): boolean {
  if (!existsSync(from)) return false;
  mkdirSync(dirname(to), { recursive: true });
  renameSync(from, to);
  return true;
}

/** Applies a rename inside a pipeline object: block uuid, name, file path override, and every link. */
function renameInPipeline(pipeline: PipelineConfig, oldUuid: string, newUuid: string, newName: string): void {
  const block = requireBlock(pipeline, oldUuid);
  const renamed = renamedRef(block, newUuid);
  block.configuration = renamed.configuration;
  block.uuid = newUuid;
  block.name = newName;
  renameUuidEverywhere(pipeline, oldUuid, newUuid);
}

/**
 * Updates a block with the keys Mage's Block.update honours: `name` renames the uuid and the file and rewires
 * every link (in this pipeline and in other pipelines that use the same file); `upstream_blocks` /
 * `downstream_blocks` set the full list and recompute the other side; `configuration` is replaced whole;
 * `type` only changes a scratchpad. `content` and unknown keys are ignored, as in Mage. Saves and returns the
 * updated block; `pipeline` is updated in place.
 */
export function updateBlock(project: Project, pipeline: PipelineConfig, blockUuid: string, patch: BlockPatch): BlockConfig {
  if (!isRecord(patch)) throw new InvalidBlockError('Block update must be a mapping.');
  const next = clonePipeline(pipeline);
  let block = requireBlock(next, blockUuid);
  const moves: [string, string][] = [];
  const otherPipelines: string[] = [];
  let renameTo: { from: string; to: string; name: string } | null = null;

  if (patch.name !== undefined && patch.name !== block.name) {
    if (typeof patch.name !== 'string') throw new InvalidBlockError('Block name must be a string.');
    const newUuid = checkNameBytes('Block', cleanName(patch.name));
    if (newUuid !== block.uuid) {
      if (findBlock(next, newUuid)) throw new BlockExistsError(newUuid);
      const from = blockFilePath(project, block);
      const to = blockFilePath(project, renamedRef(block, newUuid));
      if (existsSync(to)) throw new BlockExistsError(newUuid);
      moves.push([from, to]);
      for (const other of listPipelineUuids(project)) {
        if (other === next.uuid) continue;
        try {
          const p = loadPipeline(project, other);
          const b = findBlock(p, block.uuid);
          if (b && blockFilePath(project, b) === from && !findBlock(p, newUuid)) otherPipelines.push(other);
        } catch {
          // An unreadable pipeline is left alone, as Mage does.
        }
      }
      renameTo = { from: block.uuid, to: newUuid, name: patch.name };
      renameInPipeline(next, block.uuid, newUuid, patch.name);
      block = requireBlock(next, newUuid);
    } else {
      block.name = patch.name;
    }
  }
  if ('color' in patch) block.color = validateColor(patch.color);
  if (patch.upstream_blocks !== undefined) setUpstream(next, block, uuidList(patch.upstream_blocks, 'upstream_blocks'));
  if (patch.downstream_blocks !== undefined) setDownstream(next, block, uuidList(patch.downstream_blocks, 'downstream_blocks'));
  if (patch.callback_blocks !== undefined) block.callback_blocks = uuidList(patch.callback_blocks, 'callback_blocks');
  if (patch.conditional_blocks !== undefined) block.conditional_blocks = uuidList(patch.conditional_blocks, 'conditional_blocks');
  if (patch.configuration !== undefined) {
    if (!isRecord(patch.configuration)) throw new InvalidBlockError('Block configuration must be a mapping.');
    const oldPath = blockFilePath(project, block);
    block.configuration = patch.configuration;
    const newPath = blockFilePath(project, block);
    if (newPath !== oldPath && !existsSync(newPath) && !moves.some(([f]) => f === oldPath)) moves.push([oldPath, newPath]);
  }
  if ('executor_type' in patch) {
    if (patch.executor_type !== null && typeof patch.executor_type !== 'string') throw new InvalidBlockError('executor_type must be a string or null.');
    block.executor_type = patch.executor_type ?? null;
  }
  if ('has_callback' in patch) block.has_callback = patch.has_callback === true;
  if ('retry_config' in patch) {
    if (patch.retry_config !== null && !isRecord(patch.retry_config)) throw new InvalidBlockError('retry_config must be a mapping or null.');
    block.retry_config = (patch.retry_config as Record<string, unknown> | null | undefined) ?? null;
  }
  if ('timeout' in patch) {
    if (patch.timeout !== null && (typeof patch.timeout !== 'number' || !(patch.timeout >= 0))) {
      throw new InvalidBlockError('timeout must be a non-negative number of seconds or null.');
    }
    block.timeout = patch.timeout ?? null;
  }
  if ('catalog' in patch) block.catalog = patch.catalog;
  if (patch.type !== undefined && block.type === 'scratchpad' && patch.type !== 'scratchpad') {
    if (!isBlockType(patch.type)) throw new InvalidBlockError(`Block type ${JSON.stringify(patch.type)} is not supported.`);
    const from = blockFilePath(project, block);
    const list = listFor(next, block);
    list.splice(list.indexOf(block), 1);
    block.type = patch.type;
    listFor(next, block).push(block);
    const to = blockFilePath(project, block);
    if (existsSync(to)) throw new BlockExistsError(block.uuid);
    moves.push([from, to]);
  }
  assertAcyclic(next);

  const done: [string, string][] = [];
  try {
    for (const [from, to] of moves) if (moveFile(from, to)) done.push([from, to]);
    savePipeline(project, next);
  } catch (err) {
    for (const [from, to] of done.reverse()) moveFile(to, from);
    throw err;
  }
  if (renameTo) {
    for (const other of otherPipelines) {
      const p = loadPipeline(project, other);
      renameInPipeline(p, renameTo.from, renameTo.to, renameTo.name);
      savePipeline(project, p);
    }
  }
  commit(pipeline, next);
  return requireBlock(pipeline, block.uuid);
}

/** Block types whose file goes away with the block (when no other pipeline uses it). */
const FILE_DELETED_WITH_BLOCK = ['markdown', 'scratchpad', 'chart'];

/**
 * Removes a block from the pipeline (Mage's BlockResource.delete). With non-chart downstream blocks it throws
 * HasDownstreamDependenciesError, unless `force` (or an integration pipeline), in which case the downstream
 * blocks are relinked to this block's upstreams. The file is kept, except for markdown, scratchpad and chart
 * blocks no other pipeline uses. The block's outputs (`.variables/<block>`) are deleted.
 */
export function removeBlock(project: Project, pipeline: PipelineConfig, blockUuid: string, options: { force?: boolean } = {}): void {
  const next = clonePipeline(pipeline);
  const block = requireBlock(next, blockUuid);
  const dependents = allBlocks(next)
    .filter((b) => b.uuid !== blockUuid && b.type !== 'chart' && b.upstream_blocks.includes(blockUuid) && next.blocks.includes(b))
    .map((b) => b.uuid);
  if (dependents.length > 0 && !options.force && next.type !== 'integration') {
    throw new HasDownstreamDependenciesError(blockUuid, dependents);
  }
  const upstream = block.upstream_blocks;
  for (const b of allBlocks(next)) {
    if (b.uuid === blockUuid) continue;
    if (b.upstream_blocks.includes(blockUuid)) {
      const relinked = dependents.includes(b.uuid) ? upstream : [];
      b.upstream_blocks = [...without(b.upstream_blocks, blockUuid), ...relinked.filter((u) => !b.upstream_blocks.includes(u))];
      for (const u of relinked) {
        const up = findBlock(next, u);
        if (up) up.downstream_blocks = withAdded(up.downstream_blocks, b.uuid);
      }
    }
    b.downstream_blocks = without(b.downstream_blocks, blockUuid);
    if (b.callback_blocks) b.callback_blocks = without(b.callback_blocks, blockUuid);
    if (b.conditional_blocks) b.conditional_blocks = without(b.conditional_blocks, blockUuid);
  }
  const list = listFor(next, block);
  list.splice(list.indexOf(block), 1);
  assertAcyclic(next);
  savePipeline(project, next);

  if (FILE_DELETED_WITH_BLOCK.includes(block.type)) {
    const path = blockFilePath(project, block);
    const usedElsewhere = listPipelineUuids(project).some((other) => {
      if (other === next.uuid) return false;
      try {
        const b = findBlock(loadPipeline(project, other), blockUuid);
        return b !== undefined && blockFilePath(project, b) === path;
      } catch {
        return false;
      }
    });
    if (!usedElsewhere && existsSync(path)) unlinkSync(path);
  }
  const varsDir = blockVariablesDir(project.dataDir, next.uuid, '', blockUuid);
  if (existsSync(varsDir)) {
    assertUnderRoot(project.dataDir, varsDir);
    rmSync(varsDir, { recursive: true, force: true });
  }
  commit(pipeline, next);
}

/** Pipeline fields PUT /api/pipelines/{uuid} saves when they change (Pipeline.update). */
const UPDATABLE_PIPELINE_FIELDS = [
  'description',
  'type',
  'tags',
  'settings',
  'cache_block_output_in_memory',
  'concurrency_config',
  'data_integration',
  'executor_type',
  'retry_config',
  'run_pipeline_in_one_process',
] as const;

export const BLOCKS_ADDED_OR_REMOVED_MESSAGE = 'Blocks cannot be added or removed when saving content';

/** Mage's __update_block_order: a changed order of the same blocks reorders; anything else is refused. */
function reorderBlocks(pipeline: PipelineConfig, payloadBlocks: unknown[]): void {
  const newUuids = payloadBlocks.filter(isRecord).map((b) => String(b.uuid));
  const oldUuids = pipeline.blocks.map((b) => b.uuid);
  if (newUuids.join('\0') === oldUuids.join('\0')) return;
  const min = Math.min(newUuids.length, oldUuids.length);
  if (min === 0 || newUuids.slice(0, min).join('\0') === oldUuids.slice(0, min).join('\0')) return;
  const sameSet = newUuids.length === oldUuids.length && new Set(newUuids).size === newUuids.length && newUuids.every((u) => oldUuids.includes(u));
  if (!sameSet) throw new PipelineUpdateError(BLOCKS_ADDED_OR_REMOVED_MESSAGE);
  const byUuid = new Map(pipeline.blocks.map((b) => [b.uuid, b]));
  pipeline.blocks = newUuids.map((u) => byUuid.get(u) as BlockConfig);
}

/** A payload entry of `blocks`/`callbacks`/`conditionals`/`widgets`/`extensions.*.blocks` with ?update_content. */
interface BlockContentUpdate {
  uuid?: string;
  content?: string;
  name?: string;
  color?: string | null;
  configuration?: Record<string, unknown>;
  has_callback?: boolean;
  upstream_blocks?: string[];
  [key: string]: unknown;
}

export interface ApplyPipelineUpdateOptions {
  /** `?update_content=true`: listed blocks may also change content, name, color, configuration. */
  updateContent?: boolean;
}

/**
 * PUT /api/pipelines/{uuid} on disk (Pipeline.update): `name` renames the pipeline (folder and uuid); the
 * fields Mage saves are saved; `blocks` reorders; with `updateContent`, each listed block (matched by uuid,
 * unknown ones ignored) may change content (status becomes `updated`), name (renames block and file), color,
 * configuration and has_callback, and widgets their upstream_blocks. Adding or removing blocks this way is
 * refused with Mage's message. `variables`, `executor_config`, `notification_config`, `spark_config` are not
 * updatable here. Block `outputs`, `callback_content` and `status` side effects belong to other layers.
 * Returns the saved pipeline (its uuid may have changed).
 */
export function applyPipelineUpdate(
  project: Project,
  pipeline: PipelineConfig,
  payload: Record<string, unknown>,
  options: ApplyPipelineUpdateOptions = {},
): PipelineConfig {
  if (!isRecord(payload)) throw new PipelineUpdateError('Pipeline update must be a mapping.');
  let current = pipeline;
  if (typeof payload.name === 'string' && current.name && payload.name !== current.name) {
    current = renamePipeline(project, current.uuid, payload.name);
  }
  const next = clonePipeline(current);
  for (const field of UPDATABLE_PIPELINE_FIELDS) {
    if (field in payload) (next as Record<string, unknown>)[field] = payload[field];
  }
  if (next.tags !== undefined && (!Array.isArray(next.tags) || next.tags.some((t) => typeof t !== 'string'))) {
    throw new PipelineUpdateError('Pipeline tags must be a list of strings.');
  }
  if (isRecord(payload.extensions)) {
    for (const [key, ext] of Object.entries(payload.extensions)) {
      if (!isRecord(ext)) continue;
      const { blocks: _ignored, ...rest } = ext;
      next.extensions[key] = { ...(next.extensions[key] ?? { blocks: [] }), ...rest };
    }
  }
  const payloadBlocks = Array.isArray(payload.blocks) ? payload.blocks : [];
  if (payloadBlocks.length > 0) reorderBlocks(next, payloadBlocks);

  const contentWrites: [BlockConfig, string][] = [];
  const renames: [string, string][] = [];
  if (options.updateContent) {
    const groups: [BlockContentUpdate[], boolean][] = [];
    if (payloadBlocks.length > 0) groups.push([payloadBlocks as BlockContentUpdate[], false]);
    for (const key of ['callbacks', 'conditionals'] as const) {
      if (Array.isArray(payload[key])) groups.push([payload[key] as BlockContentUpdate[], false]);
    }
    if (Array.isArray(payload.widgets)) groups.push([payload.widgets as BlockContentUpdate[], true]);
    if (isRecord(payload.extensions)) {
      for (const ext of Object.values(payload.extensions)) {
        if (isRecord(ext) && Array.isArray(ext.blocks)) groups.push([ext.blocks as BlockContentUpdate[], false]);
      }
    }
    const uuidMapping = new Map<string, string>();
    for (const [entries, widget] of groups) {
      for (const entry of entries) {
        if (!isRecord(entry) || typeof entry.uuid !== 'string') continue;
        const uuid = uuidMapping.get(entry.uuid) ?? entry.uuid;
        const block = findBlock(next, uuid);
        if (!block) continue;
        if (typeof entry.content === 'string') {
          const existing = readBlockContent(project, block);
          if (existing !== entry.content) {
            block.status = 'updated';
            contentWrites.push([block, entry.content]);
          }
        }
        if (typeof entry.has_callback === 'boolean') block.has_callback = entry.has_callback;
        if ('color' in entry) block.color = validateColor(entry.color);
        if (isRecord(entry.configuration) && Object.keys(entry.configuration).length > 0) block.configuration = entry.configuration;
        if (widget && Array.isArray(entry.upstream_blocks) && entry.upstream_blocks.length > 0) {
          setUpstream(next, block, uuidList(entry.upstream_blocks.map((u) => (typeof u === 'string' ? uuidMapping.get(u) ?? u : u)), 'upstream_blocks'));
        }
        if (typeof entry.name === 'string' && entry.name !== block.name) {
          const newUuid = checkNameBytes('Block', cleanName(entry.name));
          if (newUuid !== block.uuid) {
            if (findBlock(next, newUuid)) throw new BlockExistsError(newUuid);
            const to = blockFilePath(project, renamedRef(block, newUuid));
            if (existsSync(to)) throw new BlockExistsError(newUuid);
            renames.push([blockFilePath(project, block), to]);
            uuidMapping.set(entry.uuid, newUuid);
            renameInPipeline(next, block.uuid, newUuid, entry.name);
          } else {
            block.name = entry.name;
          }
        }
      }
    }
  }
  assertAcyclic(next);
  const done: [string, string][] = [];
  try {
    for (const [from, to] of renames) if (moveFile(from, to)) done.push([from, to]);
    for (const [block, content] of contentWrites) writeBlockContent(project, block, content);
    savePipeline(project, next);
  } catch (err) {
    for (const [from, to] of done.reverse()) moveFile(to, from);
    throw err;
  }
  return commit(pipeline, next);
}

export type { BlockConfig, BlockCollection } from './pipeline.js';
export { BLOCK_COLLECTIONS };
