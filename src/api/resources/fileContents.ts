/**
 * `file_contents` (mage-api.md §3.12): read, replace and delete a project file by its project-relative path
 * (URL-encoded, e.g. `data_loaders%2Fblock1.py`). Every path goes through resolveUnderRoot, then the file access
 * policy (project/fileAccess.ts: the data folder, keys, databases and deny-listed names answer 403).
 */
import { Type } from 'typebox';
import { existsSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, relative } from 'node:path';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { itemEnvelope } from '../envelope.js';
import { mapProjectErrors } from '../projectErrors.js';
import { resolveUnderRoot } from '../../project/paths.js';
import { assertFileAccess, type FileAccessMode } from '../../project/fileAccess.js';
import { writeFileAtomic } from '../../project/yamlFiles.js';

const Params = Type.Object({ '*': Type.String({ minLength: 1, maxLength: 4096 }) });
/** Largest file served or written through this resource (5 MiB). */
const MAX_FILE_BYTES = 5 * 1024 * 1024;

export default async function fileContentRoutes(app: App, ctx: AppContext): Promise<void> {
  const root = ctx.project.root;
  const present = (path: string, content: string) => {
    const info = statSync(path);
    return { name: basename(path), path: relative(root, path), content, size: info.size, modified_timestamp: info.mtimeMs / 1000 };
  };
  const existingFile = async (raw: string, mode: FileAccessMode) => {
    const path = await mapProjectErrors(() => {
      const resolved = resolveUnderRoot(root, raw);
      assertFileAccess(ctx.project, resolved, mode);
      return resolved;
    });
    if (!existsSync(path)) throw notFound(`File ${raw} does not exist.`);
    const info = statSync(path);
    if (!info.isFile()) throw new ApiError(400, 'not_a_file', `${raw} is a folder, not a file.`);
    return { path, info };
  };

  app.get(
    '/api/file_contents/*',
    { config: { resource: 'file_contents', action: 'detail' }, schema: { tags: ['file_contents'], summary: 'Read a project file.', params: Params } },
    async (request) => {
      const { path, info } = await existingFile(request.params['*'], 'read');
      if (info.size > MAX_FILE_BYTES) throw new ApiError(413, 'file_too_large', `File is ${info.size} bytes; the limit is ${MAX_FILE_BYTES}.`);
      return itemEnvelope('file_content', present(path, readFileSync(path, 'utf8')));
    },
  );

  app.put(
    '/api/file_contents/*',
    {
      config: { resource: 'file_contents', action: 'update' },
      schema: {
        tags: ['file_contents'],
        summary: 'Replace a project file\'s content (atomically).',
        params: Params,
        body: Type.Object(
          { file_content: Type.Object({ content: Type.String({ maxLength: MAX_FILE_BYTES }) }, { additionalProperties: false }), api_key: Type.Optional(Type.String()) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const { path } = await existingFile(request.params['*'], 'write');
      writeFileAtomic(path, request.body.file_content.content);
      return itemEnvelope('file_content', present(path, request.body.file_content.content));
    },
  );

  app.delete(
    '/api/file_contents/*',
    { config: { resource: 'file_contents', action: 'update' }, schema: { tags: ['file_contents'], summary: 'Delete a project file.', params: Params } },
    async (request) => {
      const { path } = await existingFile(request.params['*'], 'write');
      const presented = present(path, readFileSync(path, 'utf8'));
      unlinkSync(path);
      return itemEnvelope('file_content', presented);
    },
  );
}
