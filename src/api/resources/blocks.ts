/**
 * `blocks` under a pipeline (mage-api.md §3.2): list, detail (content and outputs), create from templates,
 * update, delete (`?force=true` relinks downstream blocks). Block uuids may contain `/`, so the detail routes
 * take the rest of the path.
 */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { badRequest, notFound, recordInvalid } from '../errors.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import { flag, pageList, paging, splitMageQuery, stringList } from '../query.js';
import { mapProjectErrors } from '../projectErrors.js';
import { presentBlock } from './pipelinePresenter.js';
import { blockEtag, checkIfMatch, sendEtag } from './pipelines.js';
import { allBlocks, findBlock, loadPipeline } from '../../project/pipeline.js';
import { addBlock, removeBlock, updateBlock, writeBlockContent, BLOCK_LANGUAGES, BLOCK_TYPES, BLOCK_COLORS, BlockNotFoundError } from '../../project/blocks.js';

const PipelineParams = Type.Object({ uuid: Type.String({ minLength: 1, maxLength: 255 }) });
const BlockParams = Type.Object({ uuid: Type.String({ minLength: 1, maxLength: 255 }), '*': Type.String({ minLength: 1, maxLength: 1000 }) });
const Uuids = Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 1000 });
const Color = Type.Union([...BLOCK_COLORS.map((c) => Type.Literal(c)), Type.Null()]);
const RetryConfig = Type.Union([
  Type.Object(
    {
      retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
      delay: Type.Optional(Type.Number({ minimum: 0 })),
      max_delay: Type.Optional(Type.Number({ minimum: 0 })),
      exponential_backoff: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

const BlockCreate = Type.Object(
  {
    block: Type.Object(
      {
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
        uuid: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
        type: Type.Union(BLOCK_TYPES.map((t) => Type.Literal(t))),
        language: Type.Optional(Type.Union(BLOCK_LANGUAGES.map((l) => Type.Literal(l)))),
        content: Type.Optional(Type.String({ maxLength: 5 * 1024 * 1024 })),
        upstream_blocks: Type.Optional(Uuids),
        downstream_blocks: Type.Optional(Uuids),
        priority: Type.Optional(Type.Integer({ minimum: 0 })),
        configuration: Type.Optional(Type.Object({}, { additionalProperties: true })),
        config: Type.Optional(Type.Object({}, { additionalProperties: true })),
        color: Type.Optional(Color),
        extension_uuid: Type.Optional(Type.String()),
        require_unique_name: Type.Optional(Type.Boolean()),
        executor_type: Type.Optional(Type.String()),
        retry_config: Type.Optional(RetryConfig),
        timeout: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()])),
      },
      { additionalProperties: false },
    ),
    api_key: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const BlockUpdate = Type.Object(
  {
    block: Type.Object(
      {
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
        color: Type.Optional(Color),
        upstream_blocks: Type.Optional(Uuids),
        downstream_blocks: Type.Optional(Uuids),
        callback_blocks: Type.Optional(Uuids),
        conditional_blocks: Type.Optional(Uuids),
        configuration: Type.Optional(Type.Object({}, { additionalProperties: true })),
        executor_type: Type.Optional(Type.Union([Type.String(), Type.Null()])),
        has_callback: Type.Optional(Type.Boolean()),
        retry_config: Type.Optional(RetryConfig),
        timeout: Type.Optional(Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()])),
        catalog: Type.Optional(Type.Unknown()),
        type: Type.Optional(Type.Union(BLOCK_TYPES.map((t) => Type.Literal(t)))),
        /** Mage's OSS ignores content here; we write it, as Mage Pro documents. */
        content: Type.Optional(Type.String({ maxLength: 5 * 1024 * 1024 })),
        uuid: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    api_key: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/**
 * Runs a block edit whose target block is known to exist: a missing block can then only be one the payload
 * links to, which is an invalid payload (422), not a missing resource (404).
 */
async function editWithLinks<T>(fn: () => T): Promise<T> {
  return mapProjectErrors(() => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof BlockNotFoundError) throw recordInvalid(`${err.message} Only blocks of this pipeline can be linked.`);
      throw err;
    }
  });
}

export default async function blockRoutes(app: App, ctx: AppContext): Promise<void> {
  const { project } = ctx;
  const load = (uuid: string) => mapProjectErrors(() => loadPipeline(project, uuid));
  const blockOf = async (pipelineUuid: string, blockUuid: string) => {
    const pipeline = await load(pipelineUuid);
    const block = findBlock(pipeline, blockUuid);
    if (!block) throw notFound(`Block ${blockUuid} does not exist in pipeline ${pipeline.uuid}.`);
    return { pipeline, block };
  };

  app.get(
    '/api/pipelines/:uuid/blocks',
    { config: { resource: 'blocks', action: 'list' }, schema: { tags: ['blocks'], summary: 'Blocks of a pipeline.', params: PipelineParams, querystring: Type.Object({}, { additionalProperties: true }) } },
    async (request) => {
      const q = splitMageQuery(request.query as Record<string, unknown>);
      const pipeline = await load(request.params.uuid);
      const wanted = stringList(q, 'block_uuid');
      const blocks = allBlocks(pipeline).filter((b) => !wanted || wanted.includes(b.uuid));
      const items = await Promise.all(blocks.map((b) => presentBlock(project, pipeline, b, { content: false, outputs: false })));
      const { page, count, next } = pageList(items, paging(q));
      return listEnvelope('blocks', page, { count, next });
    },
  );

  app.get(
    '/api/pipelines/:uuid/blocks/*',
    { config: { resource: 'blocks', action: 'detail' }, schema: { tags: ['blocks'], summary: 'One block with its content and outputs.', params: BlockParams, querystring: Type.Object({}, { additionalProperties: true }) } },
    async (request, reply) => {
      const q = splitMageQuery(request.query as Record<string, unknown>);
      const { pipeline, block } = await blockOf(request.params.uuid, request.params['*']);
      sendEtag(reply, blockEtag(project, block));
      return itemEnvelope('block', await presentBlock(project, pipeline, block, { content: true, outputs: flag(q, 'include_outputs', true) }));
    },
  );

  app.post(
    '/api/pipelines/:uuid/blocks',
    { config: { resource: 'blocks', action: 'create' }, schema: { tags: ['blocks'], summary: 'Create a block from a template (or given content).', params: PipelineParams, body: BlockCreate } },
    async (request) => {
      const input = request.body.block;
      if (!input.name && !input.uuid) throw badRequest('block.name (or block.uuid) is required.');
      const pipeline = await load(request.params.uuid);
      const configuration = { ...(input.config ?? {}), ...(input.configuration ?? {}) };
      const result = await editWithLinks(() =>
        addBlock(project, pipeline, {
          name: input.name,
          uuid: input.uuid,
          type: input.type,
          language: input.language,
          content: input.content,
          upstream_blocks: input.upstream_blocks,
          downstream_blocks: input.downstream_blocks,
          priority: input.priority,
          configuration,
          color: input.color,
          require_unique_name: input.require_unique_name,
          extension_uuid: input.extension_uuid,
          executor_type: input.executor_type,
          retry_config: input.retry_config ?? null,
          timeout: input.timeout ?? null,
        }),
      );
      return itemEnvelope('block', await presentBlock(project, result.pipeline, result.block, { content: true, outputs: false }));
    },
  );

  app.put(
    '/api/pipelines/:uuid/blocks/*',
    { config: { resource: 'blocks', action: 'update' }, schema: { tags: ['blocks'], summary: 'Update a block (rename, links, configuration, content).', params: BlockParams, body: BlockUpdate } },
    async (request, reply) => {
      const { pipeline, block } = await blockOf(request.params.uuid, request.params['*']);
      const { content, uuid: _ignored, ...patch } = request.body.block;
      const updated = await editWithLinks(() => {
        // If-Match: the block file as it was loaded; checked in the same synchronous step as the writes.
        checkIfMatch(request, blockEtag(project, block), `Block ${block.uuid} of pipeline ${pipeline.uuid}`);
        const b = updateBlock(project, pipeline, block.uuid, patch);
        if (content !== undefined) writeBlockContent(project, b, content);
        return b;
      });
      sendEtag(reply, blockEtag(project, updated));
      return itemEnvelope('block', await presentBlock(project, pipeline, updated, { content: true, outputs: false }));
    },
  );

  app.delete(
    '/api/pipelines/:uuid/blocks/*',
    {
      config: { resource: 'blocks', action: 'delete' },
      schema: { tags: ['blocks'], summary: 'Remove a block from the pipeline (?force=true relinks its downstream blocks).', params: BlockParams, querystring: Type.Object({}, { additionalProperties: true }) },
    },
    async (request) => {
      const q = splitMageQuery(request.query as Record<string, unknown>);
      const { pipeline, block } = await blockOf(request.params.uuid, request.params['*']);
      const presented = await presentBlock(project, pipeline, block, { content: true, outputs: false });
      await mapProjectErrors(() => removeBlock(project, pipeline, block.uuid, { force: flag(q, 'force', false) }));
      return itemEnvelope('block', presented);
    },
  );
}
