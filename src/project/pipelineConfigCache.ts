/**
 * Pipelines' metadata.yaml, parsed once per file version: the engine and the scheduler read a pipeline several
 * times for every run they create and start, and a stat is much cheaper than a YAML parse. The configs handed
 * out are shared between callers: read them, never change them.
 */
import { statSync } from 'node:fs';
import { loadPipeline, pipelineConfigPath, type PipelineConfig } from './pipeline.js';
import type { Project } from './projectConfig.js';

export class PipelineConfigCache {
  private readonly entries = new Map<string, { stamp: string; pipeline: PipelineConfig }>();

  constructor(private readonly project: Project) {}

  /** The pipeline as its file is now. Throws PipelineNotFoundError / PipelineConfigError as loadPipeline. */
  get(uuid: string): PipelineConfig {
    let stamp = '';
    try {
      const s = statSync(pipelineConfigPath(this.project, uuid));
      stamp = `${s.mtimeMs}|${s.size}|${s.ino}`;
    } catch {
      this.entries.delete(uuid);
      return loadPipeline(this.project, uuid);
    }
    const hit = this.entries.get(uuid);
    if (hit && hit.stamp === stamp) return hit.pipeline;
    const pipeline = loadPipeline(this.project, uuid);
    this.entries.set(uuid, { stamp, pipeline });
    return pipeline;
  }
}
