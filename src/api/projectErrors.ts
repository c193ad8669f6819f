/**
 * Turns the project module's typed errors into API errors with the right status: not found 404, already
 * exists 409, refused paths and bad names 400, files the file APIs never serve 403, invalid configurations 422.
 */
import { ApiError } from './errors.js';
import {
  BlockExistsError,
  BlockNotFoundError,
  HasDownstreamDependenciesError,
  InvalidBlockError,
  PipelineConfigError,
  PipelineExistsError,
  PipelineNotFoundError,
  PipelineUpdateError,
} from '../project/errors.js';
import { PathRefusedError } from '../project/paths.js';
import { InvalidNameError } from '../project/names.js';
import { FileAccessDeniedError } from '../project/fileAccess.js';

export function toApiError(err: unknown): unknown {
  if (err instanceof ApiError) return err;
  if (err instanceof PipelineNotFoundError) return new ApiError(404, 'record_not_found', err.message);
  if (err instanceof BlockNotFoundError) return new ApiError(404, 'record_not_found', err.message);
  if (err instanceof PipelineExistsError || err instanceof BlockExistsError) return new ApiError(409, 'record_exists', err.message);
  if (err instanceof HasDownstreamDependenciesError) return new ApiError(409, 'has_downstream_dependencies', err.message);
  if (err instanceof FileAccessDeniedError) return new ApiError(403, 'file_access_denied', err.message);
  if (err instanceof PathRefusedError) return new ApiError(400, 'invalid_path', err.message);
  if (err instanceof InvalidNameError) return new ApiError(400, 'invalid_name', err.message);
  if (err instanceof InvalidBlockError || err instanceof PipelineUpdateError) return new ApiError(422, 'record_invalid', err.message);
  if (err instanceof PipelineConfigError) return new ApiError(422, 'record_invalid', err.message);
  return err;
}

/** Runs `fn`, rethrowing project errors as API errors. */
export async function mapProjectErrors<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toApiError(err);
  }
}
