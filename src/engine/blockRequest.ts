/**
 * What the engine's block runs and the synchronous /api/runs share when they hand a block to a runtime: finding
 * a block (or callback, or conditional) by uuid, the request fields that come from the block itself, and how a
 * failed block's error reaches its `on_failure` callbacks.
 */
import type { BlockConfig, PipelineConfig } from '../project/pipeline.js';
import type { Project } from '../project/projectConfig.js';
import type { BlockErrorInfo, BlockLanguage, BlockMode, BlockRunRequest } from '../runtimes/types.js';
import { baseBlockUuid, dynamicFlags, type DynamicPlanBlock } from './plan.js';

/** A block of the pipeline by uuid: one of its blocks, callbacks or conditionals. */
export function findBlock(pipeline: PipelineConfig, uuid: string): BlockConfig | undefined {
  return (
    pipeline.blocks.find((b) => b.uuid === uuid) ??
    pipeline.callbacks?.find((b) => b.uuid === uuid) ??
    pipeline.conditionals?.find((b) => b.uuid === uuid)
  );
}

/**
 * The block a block run executes: the block of that uuid, or the block a dynamic child's run (`<block>:<item>`)
 * belongs to.
 */
export function findRunBlock(pipeline: PipelineConfig, blockRunUuid: string): BlockConfig | undefined {
  const base = baseBlockUuid(blockRunUuid, new Set(pipeline.blocks.map((b) => b.uuid)));
  return base === undefined ? undefined : pipeline.blocks.find((b) => b.uuid === base);
}

/** The pipeline's blocks as plan.ts's dynamic decisions see them. */
export function dynamicPlanBlocks(pipeline: PipelineConfig): DynamicPlanBlock[] {
  return pipeline.blocks.map((b) => ({ uuid: b.uuid, upstream: b.upstream_blocks ?? [], ...dynamicFlags(b.configuration) }));
}

/** The request fields that come from the block: where it lives, what it is, how it is to be called. */
export function blockRequestFields(
  project: Pick<Project, 'root' | 'dataDir'>,
  pipelineUuid: string,
  block: BlockConfig,
  filePath: string,
  mode: BlockMode,
): Pick<BlockRunRequest, 'projectRoot' | 'dataDir' | 'pipelineUuid' | 'blockUuid' | 'blockType' | 'language' | 'filePath' | 'mode' | 'configuration'> {
  return {
    projectRoot: project.root,
    dataDir: project.dataDir,
    pipelineUuid,
    blockUuid: block.uuid,
    blockType: block.type,
    language: block.language as BlockLanguage,
    filePath,
    mode,
    configuration: (block.configuration ?? {}) as Record<string, unknown>,
  };
}

/** Mage's `__error` keyword argument of an `on_failure` callback. */
export function callbackErrorKwargs(error: BlockErrorInfo): { __error: string } {
  return { __error: `${error.exception}: ${error.message}` };
}
