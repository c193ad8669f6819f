/**
 * The text a new block file starts with, per type and language. Python templates are Mage's default
 * templates as rendered (mage_ai/data_preparation/templates/**); TypeScript and JavaScript blocks
 * default-export their function, which receives the block context and then one positional argument per
 * upstream block; exported functions named `test*` receive the output.
 */
import type { BlockLanguage, BlockType } from './blockTypes.js';

const TEST_IMPORT = `if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test
`;

const TEST_FUNCTION = `

@test
def test_output(output, *args) -> None:
    """
    Template code for testing the output of the block.
    """
    assert output is not None, 'The output is undefined'
`;

function decoratorImport(name: string): string {
  return `if '${name}' not in globals():
    from mage_ai.data_preparation.decorators import ${name}
`;
}

const PYTHON: Partial<Record<BlockType, string>> = {
  data_loader: `${decoratorImport('data_loader')}${TEST_IMPORT}

@data_loader
def load_data(*args, **kwargs):
    """
    Template code for loading data from any source.

    Returns:
        Anything (e.g. data frame, dictionary, array, int, str, etc.)
    """
    # Specify your data loading logic here

    return {}
${TEST_FUNCTION}`,
  transformer: `${decoratorImport('transformer')}${TEST_IMPORT}

@transformer
def transform(data, *args, **kwargs):
    """
    Template code for a transformer block.

    Add more parameters to this function if this block has multiple parent blocks.
    There should be one parameter for each output variable from each parent block.

    Args:
        data: The output from the upstream parent block
        args: The output from any additional upstream blocks (if applicable)

    Returns:
        Anything (e.g. data frame, dictionary, array, int, str, etc.)
    """
    # Specify your transformation logic here

    return data
${TEST_FUNCTION}`,
  data_exporter: `${decoratorImport('data_exporter')}

@data_exporter
def export_data(data, *args, **kwargs):
    """
    Exports data to some source.

    Args:
        data: The output from the upstream parent block
        args: The output from any additional upstream blocks (if applicable)

    Output (optional):
        Optionally return any object and it'll be logged and
        displayed when inspecting the block run.
    """
    # Specify your data exporting logic here

`,
  custom: `${decoratorImport('custom')}${TEST_IMPORT}

@custom
def transform_custom(*args, **kwargs):
    """
    args: The output from any upstream parent blocks (if applicable)

    Returns:
        Anything (e.g. data frame, dictionary, array, int, str, etc.)
    """
    # Specify your custom logic here

    return {}
${TEST_FUNCTION}`,
  sensor: `from mage_ai.orchestration.run_status_checker import check_status

${decoratorImport('sensor')}

@sensor
def check_condition(*args, **kwargs) -> bool:
    """
    Template code for checking if block or pipeline run completed.
    """
    return check_status(
        'pipeline_uuid',
        kwargs['execution_date'],
        block_uuid='block_uuid',  # optional if you want the sensor to wait on a specific block
        hours=24,  # optional if you want to check for a specific time window. Default is 24 hours.
    )
`,
  callback: `${decoratorImport('callback')}

@callback('success')
def success_callback(parent_block_data, **kwargs):
    pass


@callback('failure')
def failure_callback(parent_block_data, **kwargs):
    pass
`,
  conditional: `${decoratorImport('condition')}

@condition
def evaluate_condition(*args, **kwargs) -> bool:
    return True
`,
};

const SQL: Partial<Record<BlockType, string>> = {
  data_loader: `-- Docs: https://docs.mage.ai/guides/sql-blocks
SELECT 1 AS id
`,
  transformer: `-- Docs: https://docs.mage.ai/guides/sql-blocks
-- {{ df_1 }} is the output of the first upstream block.
SELECT *
FROM {{ df_1 }}
`,
  data_exporter: `-- Docs: https://docs.mage.ai/guides/sql-blocks
-- {{ df_1 }} is the output of the first upstream block.
SELECT *
FROM {{ df_1 }}
`,
  custom: `SELECT 1 AS id
`,
};

const R: Partial<Record<BlockType, string>> = {
  data_loader: `load_data <- function() {
    # Specify your data loading logic here
    # Return value: loaded dataframe
    data.frame(id = 1)
}
`,
  transformer: `transform <- function(df_1, ...) {
    # Specify your transformation logic here
    # Return value: transformed dataframe
    df_1
}
`,
  data_exporter: `export_data <- function(df_1, ...) {
    # Specify your data exporting logic here
    # Return value: exported dataframe
    df_1
}
`,
};

interface ScriptShape {
  fn: string;
  params: string;
  body: string;
  returnType?: string;
}

const SCRIPT: Partial<Record<BlockType, ScriptShape>> = {
  data_loader: { fn: 'loadData', params: '', body: "  return { hello: 'world' };" },
  transformer: { fn: 'transform', params: ', data: unknown', body: '  return data;' },
  data_exporter: { fn: 'exportData', params: ', data: unknown', body: '  console.log(data);' },
  custom: { fn: 'run', params: ', ...upstream: unknown[]', body: '  return {};' },
  sensor: { fn: 'checkCondition', params: '', body: '  return true;', returnType: 'boolean' },
  conditional: { fn: 'evaluateCondition', params: ', ...upstream: unknown[]', body: '  return true;', returnType: 'boolean' },
};

function typescriptTemplate(type: BlockType): string {
  if (type === 'callback') {
    return `import type { BlockContext } from 'blockflow';

export async function onSuccess(ctx: BlockContext, ...upstream: unknown[]) {}

export async function onFailure(ctx: BlockContext, ...upstream: unknown[]) {}
`;
  }
  const shape = SCRIPT[type];
  if (!shape) return '';
  const ret = shape.returnType ? `: Promise<${shape.returnType}>` : '';
  return `import type { BlockContext } from 'blockflow';

export default async function ${shape.fn}(ctx: BlockContext${shape.params})${ret} {
${shape.body}
}
`;
}

function javascriptTemplate(type: BlockType): string {
  const header = "/** @typedef {import('blockflow').BlockContext} BlockContext */\n\n";
  if (type === 'callback') {
    return `${header}/** @param {BlockContext} ctx */
export async function onSuccess(ctx, ...upstream) {}

/** @param {BlockContext} ctx */
export async function onFailure(ctx, ...upstream) {}
`;
  }
  const shape = SCRIPT[type];
  if (!shape) return '';
  const params = shape.params.replace(/: unknown(\[\])?/g, '');
  return `${header}/** @param {BlockContext} ctx */
export default async function ${shape.fn}(ctx${params}) {
${shape.body}
}
`;
}

/** The initial content of a new block file; '' for types with no template (markdown, scratchpad, chart...). */
export function blockTemplate(type: BlockType, language: BlockLanguage): string {
  switch (language) {
    case 'python':
      return PYTHON[type] ?? '';
    case 'sql':
      return SQL[type] ?? '';
    case 'r':
      return R[type] ?? '';
    case 'typescript':
      return typescriptTemplate(type);
    case 'javascript':
      return javascriptTemplate(type);
    default:
      return '';
  }
}
