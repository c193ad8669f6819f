/**
 * `variables` under a pipeline (mage-api.md §3.7): global variables live in the pipeline's metadata.yaml
 * under `variables:`; the list also shows each block's notebook output variables.
 */
import { Type } from 'typebox';
import { existsSync, readdirSync } from 'node:fs';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { notFound, recordInvalid } from '../errors.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import { flag, splitMageQuery } from '../query.js';
import { mapProjectErrors } from '../projectErrors.js';
import { loadPipeline, savePipeline, type PipelineConfig } from '../../project/pipeline.js';
import { blockVariablesDir } from '../../variables/layout.js';

const Name = Type.String({ minLength: 1, maxLength: 255 });
const VariableBody = Type.Object(
  {
    variable: Type.Object({ name: Type.Optional(Name), value: Type.Unknown() }, { additionalProperties: false }),
    api_key: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function typeName(value: unknown): string {
  if (value === null) return "<class 'NoneType'>";
  if (typeof value === 'string') return "<class 'str'>";
  if (typeof value === 'boolean') return "<class 'bool'>";
  if (typeof value === 'number') return Number.isInteger(value) ? "<class 'int'>" : "<class 'float'>";
  if (Array.isArray(value)) return "<class 'list'>";
  return "<class 'dict'>";
}

/**
 * The global item: in a list each variable is `{uuid, type, value}`; the answer to a create, update or delete
 * holds only the names (Mage's VariableResource, mage-api.md §3.7).
 */
function globalItem(pipeline: PipelineConfig, name: string | null, value: unknown, names = false) {
  const vars = (pipeline.variables ?? {}) as Record<string, unknown>;
  return {
    block: { uuid: 'global' },
    pipeline: { uuid: pipeline.uuid },
    name,
    value,
    variables: names ? Object.keys(vars) : Object.entries(vars).map(([uuid, v]) => ({ uuid, type: typeName(v), value: v })),
  };
}

function checkValue(name: string, value: unknown): void {
  if (!IDENTIFIER.test(name)) throw recordInvalid(`Variable name ${JSON.stringify(name)} must be a valid identifier (letters, digits, underscores; not starting with a digit).`);
  if (value === undefined || value === null) throw recordInvalid(`Variable ${name} needs a value (null is not allowed).`);
}

export default async function variableRoutes(app: App, ctx: AppContext): Promise<void> {
  const { project } = ctx;
  const load = (uuid: string) => mapProjectErrors(() => loadPipeline(project, uuid));

  app.get(
    '/api/pipelines/:uuid/variables',
    {
      config: { resource: 'variables', action: 'list' },
      schema: { tags: ['variables'], summary: 'Global variables and block output variables.', params: Type.Object({ uuid: Name }), querystring: Type.Object({}, { additionalProperties: true }) },
    },
    async (request) => {
      const q = splitMageQuery(request.query as Record<string, unknown>);
      const pipeline = await load(request.params.uuid);
      const items: unknown[] = [];
      if (!flag(q, 'global_only', false)) {
        for (const block of pipeline.blocks) {
          const dir = blockVariablesDir(project.dataDir, pipeline.uuid, '', block.uuid);
          if (!existsSync(dir)) continue;
          const outputs = readdirSync(dir).filter((n) => n === 'df' || n.startsWith('output')).sort();
          if (!outputs.length) continue;
          items.push({ block: { uuid: block.uuid }, pipeline: { uuid: pipeline.uuid }, name: null, value: null, variables: outputs.map((uuid) => ({ uuid, type: 'output' })) });
        }
      }
      items.push(globalItem(pipeline, null, null));
      return listEnvelope('variables', items);
    },
  );

  const upsert = async (pipelineUuid: string, name: string, value: unknown, mustExist: boolean) => {
    checkValue(name, value);
    const pipeline = await load(pipelineUuid);
    const vars = { ...((pipeline.variables ?? {}) as Record<string, unknown>) };
    if (mustExist && !(name in vars)) throw notFound(`Variable ${name} not found in pipeline ${pipeline.uuid}.`);
    vars[name] = value;
    pipeline.variables = vars;
    await mapProjectErrors(() => savePipeline(project, pipeline));
    return itemEnvelope('variable', globalItem(pipeline, name, value, true));
  };

  app.post(
    '/api/pipelines/:uuid/variables',
    { config: { resource: 'variables', action: 'create' }, schema: { tags: ['variables'], summary: 'Create or set a global variable.', params: Type.Object({ uuid: Name }), body: VariableBody } },
    async (request) => {
      const { name, value } = request.body.variable;
      if (!name) throw recordInvalid('variable.name is required.');
      return upsert(request.params.uuid, name, value, false);
    },
  );

  app.put(
    '/api/pipelines/:uuid/variables/:name',
    { config: { resource: 'variables', action: 'update' }, schema: { tags: ['variables'], summary: 'Change a global variable.', params: Type.Object({ uuid: Name, name: Name }), body: VariableBody } },
    async (request) => upsert(request.params.uuid, request.params.name, request.body.variable.value, true),
  );

  app.delete(
    '/api/pipelines/:uuid/variables/:name',
    { config: { resource: 'variables', action: 'delete' }, schema: { tags: ['variables'], summary: 'Delete a global variable.', params: Type.Object({ uuid: Name, name: Name }) } },
    async (request) => {
      const pipeline = await load(request.params.uuid);
      const vars = { ...((pipeline.variables ?? {}) as Record<string, unknown>) };
      if (!(request.params.name in vars)) throw notFound(`Variable ${request.params.name} not found in pipeline ${pipeline.uuid}.`);
      const value = vars[request.params.name];
      delete vars[request.params.name];
      pipeline.variables = Object.keys(vars).length ? vars : null;
      await mapProjectErrors(() => savePipeline(project, pipeline));
      return itemEnvelope('variable', globalItem(pipeline, request.params.name, value, true));
    },
  );
}
