/** Typed errors of the project module; messages follow Mage's where Mage has one. */

/** `Pipeline x does not exist.` */
export class PipelineNotFoundError extends Error {
  constructor(readonly pipelineUuid: string) {
    super(`Pipeline ${pipelineUuid} does not exist.`);
    this.name = 'PipelineNotFoundError';
  }
}

/** Creating or renaming onto a pipeline folder that already exists. */
export class PipelineExistsError extends Error {
  constructor(
    readonly pipelineUuid: string,
    message = `Pipeline ${pipelineUuid} already exists.`,
  ) {
    super(message);
    this.name = 'PipelineExistsError';
  }
}

/** A pipeline's metadata.yaml is invalid: not a mapping, an unknown block type, a duplicate uuid, a cycle. */
export class PipelineConfigError extends Error {
  constructor(
    readonly pipelineUuid: string,
    message: string,
  ) {
    super(message);
    this.name = 'PipelineConfigError';
  }
}

/** A change that would make the block graph cyclic (Mage: `A cycle was detected in this pipeline`). */
export class PipelineCycleError extends PipelineConfigError {
  constructor(
    pipelineUuid: string,
    readonly cycle: string[],
    prefix = 'A cycle was detected in this pipeline',
  ) {
    super(pipelineUuid, `${prefix}: ${cycle.join(' -> ')}.`);
    this.name = 'PipelineCycleError';
  }
}

/** An update the pipeline update path refuses, e.g. adding or removing blocks while saving content. */
export class PipelineUpdateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PipelineUpdateError';
  }
}

/** `[ERR_BLOCK_EXISTS] Block x already exists. Please use a different name.` */
export class BlockExistsError extends Error {
  constructor(readonly blockUuid: string) {
    super(`[ERR_BLOCK_EXISTS] Block ${blockUuid} already exists. Please use a different name.`);
    this.name = 'BlockExistsError';
  }
}

/** `Block x does not exist in pipeline y.` */
export class BlockNotFoundError extends Error {
  constructor(
    readonly blockUuid: string,
    readonly pipelineUuid: string,
  ) {
    super(`Block ${blockUuid} does not exist in pipeline ${pipelineUuid}.`);
    this.name = 'BlockNotFoundError';
  }
}

/** A block type, language or field value that Mage does not accept. */
export class InvalidBlockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidBlockError';
  }
}

/** Deleting a block that other blocks depend on, without force (Mage's HasDownstreamDependencies). */
export class HasDownstreamDependenciesError extends Error {
  constructor(
    readonly blockUuid: string,
    readonly downstream: string[],
  ) {
    super(
      `Block ${blockUuid} has downstream dependencies ${downstream.join(', ')}. ` +
        'Please remove the dependencies before deleting the block, or delete with force.',
    );
    this.name = 'HasDownstreamDependenciesError';
  }
}
