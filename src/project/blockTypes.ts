/** Mage's block types and languages (mage_ai/data_preparation/models/constants.py), plus TypeScript/JavaScript. */

export const BLOCK_TYPES = [
  'data_loader',
  'transformer',
  'data_exporter',
  'custom',
  'sensor',
  'dbt',
  'scratchpad',
  'markdown',
  'chart',
  'callback',
  'conditional',
  'extension',
  'global_data_product',
  'dynamic_child',
  'hook',
  'group',
  'pipeline',
] as const;
export type BlockType = (typeof BLOCK_TYPES)[number];

export const BLOCK_LANGUAGES = ['python', 'sql', 'markdown', 'r', 'yaml', 'typescript', 'javascript'] as const;
export type BlockLanguage = (typeof BLOCK_LANGUAGES)[number];

/** File extension per language. */
export const LANGUAGE_EXTENSIONS: Record<BlockLanguage, string> = {
  python: 'py',
  sql: 'sql',
  markdown: 'md',
  r: 'r',
  yaml: 'yaml',
  typescript: 'ts',
  javascript: 'js',
};

export const BLOCK_STATUSES = ['not_executed', 'executed', 'failed', 'updated'] as const;
export type BlockStatus = (typeof BLOCK_STATUSES)[number];

export const BLOCK_COLORS = ['blue', 'grey', 'pink', 'purple', 'teal', 'yellow'] as const;

export const EXECUTOR_TYPES = [
  'local_python',
  'k8s',
  'ecs',
  'gcp_cloud_run',
  'azure_container_instance',
  'pyspark',
  'local_python_force',
] as const;

export const PIPELINE_TYPES = ['python', 'pyspark', 'streaming', 'integration', 'databricks', 'execution_framework'] as const;
export type PipelineType = (typeof PIPELINE_TYPES)[number];

export function isBlockType(v: unknown): v is BlockType {
  return typeof v === 'string' && (BLOCK_TYPES as readonly string[]).includes(v);
}

export function isBlockLanguage(v: unknown): v is BlockLanguage {
  return typeof v === 'string' && (BLOCK_LANGUAGES as readonly string[]).includes(v);
}
