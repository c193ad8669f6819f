/** Mage's names for tables SQL blocks write (`Block.table_name`). */

/** Mage's `clean_name`: non-word characters become `_`, a leading digit gets a `letter_` prefix, lower case. */
export function cleanName(name: string): string {
  let out = name.replace(/[\ufeff\u200b\xa0]/g, '').replace(/\W/g, '_');
  if (/^\d/.test(out)) out = `letter_${out}`;
  return out.toLowerCase();
}

/**
 * `configuration.data_provider_table` when set, else `<pipeline_uuid>_<clean block uuid>_v1`, prefixed with
 * `dev_` when kwargs.env is `dev` and `test_` when it is `test` (Mage's rule; pipelines are at version 1).
 */
export function blockTableName(pipelineUuid: string, blockUuid: string, env: unknown, configuredTable?: unknown): string {
  if (typeof configuredTable === 'string' && configuredTable.length > 0) return configuredTable;
  const name = `${pipelineUuid}_${cleanName(blockUuid)}_v1`;
  if (env === 'dev') return `dev_${name}`;
  if (env === 'test') return `test_${name}`;
  return name;
}
