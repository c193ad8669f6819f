/**
 * The pipelines the synchronous endpoint runs, kept in memory between requests: a pipeline is parsed again
 * only when its metadata.yaml changes (mtime or size), so a request costs one `stat` instead of a YAML parse.
 * Sub-projects of a multi-project workspace are loaded (and cached) the same way.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BlockConfig, PipelineConfig } from '../project/pipeline.js';
import { loadPipeline, pipelineConfigPath } from '../project/pipeline.js';
import { blockFilePath } from '../project/blocks.js';
import { loadProject, type Project } from '../project/projectConfig.js';
import { resolveUnderRoot } from '../project/paths.js';

/** A loaded pipeline with what requests derive from it, computed once per version of the file. */
export interface CachedPipeline {
  project: Project;
  pipeline: PipelineConfig;
  /** The pipeline's runnable blocks (its `blocks` list, not callbacks, conditionals or widgets) by uuid. */
  byUuid: Map<string, BlockConfig>;
  /** Absolute block file path, computed on first use. */
  filePath(block: BlockConfig): string;
}

interface Entry {
  mtimeMs: number;
  size: number;
  value: CachedPipeline;
}

/** Why a pipeline could not be resolved; the route turns each into a 404. */
export class RunTargetNotFound extends Error {
  constructor(
    readonly what: 'project' | 'pipeline' | 'block',
    message: string,
  ) {
    super(message);
    this.name = 'RunTargetNotFound';
  }
}

export class PipelineCache {
  private readonly entries = new Map<string, Entry>();
  private readonly configPaths = new Map<string, string>();
  private readonly subProjects = new Map<string, { mtimeMs: number; project: Project }>();

  /** @param main the workspace's (main) project. */
  constructor(private readonly main: Project) {}

  /**
   * The project a request names: the main project for `null`, else the sub-project folder `name` under the
   * workspace root, which must hold a metadata.yaml. Its data (outputs, logs) lives under the workspace's data
   * dir at `projects/<name>/`.
   */
  project(name: string | null): Project {
    if (name === null) return this.main;
    let root: string;
    try {
      root = resolveUnderRoot(this.main.root, name);
    } catch (err) {
      throw new RunTargetNotFound('project', `Project ${JSON.stringify(name)} not found: ${(err as Error).message}`);
    }
    const metadataPath = join(root, 'metadata.yaml');
    let mtimeMs: number;
    try {
      mtimeMs = statSync(metadataPath).mtimeMs;
    } catch {
      throw new RunTargetNotFound('project', `Project ${JSON.stringify(name)} not found: ${root} holds no metadata.yaml.`);
    }
    const known = this.subProjects.get(root);
    if (known && known.mtimeMs === mtimeMs) return known.project;
    const loaded = loadProject(root);
    // path-checked: `name` passed resolveUnderRoot above (no `..`, absolute or NUL form).
    const project: Project = { ...loaded, dataDir: join(this.main.dataDir, 'projects', ...name.split(/[\\/]+/).filter((s) => s && s !== '.')) };
    this.subProjects.set(root, { mtimeMs, project });
    return project;
  }

  /** The pipeline `uuid` of `project`, parsed again only when its metadata.yaml changed. */
  pipeline(project: Project, uuid: string): CachedPipeline {
    const key = `${project.root}\0${uuid}`;
    let path = this.configPaths.get(key);
    if (path === undefined) {
      try {
        path = pipelineConfigPath(project, uuid);
      } catch {
        throw new RunTargetNotFound('pipeline', `Pipeline ${uuid} not found.`);
      }
      this.configPaths.set(key, path);
    }
    let stats;
    try {
      stats = statSync(path);
    } catch {
      this.entries.delete(key);
      throw new RunTargetNotFound('pipeline', `Pipeline ${uuid} not found.`);
    }
    const cached = this.entries.get(key);
    if (cached && cached.mtimeMs === stats.mtimeMs && cached.size === stats.size) return cached.value;
    if (!existsSync(path)) throw new RunTargetNotFound('pipeline', `Pipeline ${uuid} not found.`);
    const pipeline = loadPipeline(project, uuid);
    const byUuid = new Map(pipeline.blocks.map((b) => [b.uuid, b]));
    const paths = new Map<string, string>();
    const value: CachedPipeline = {
      project,
      pipeline,
      byUuid,
      filePath(block) {
        let p = paths.get(block.uuid);
        if (p === undefined) {
          p = blockFilePath(project, block);
          paths.set(block.uuid, p);
        }
        return p;
      },
    };
    this.entries.set(key, { mtimeMs: stats.mtimeMs, size: stats.size, value });
    return value;
  }
}
