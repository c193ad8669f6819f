/** The SQL block runtime: DuckDB embedded by default, PostgreSQL and MySQL through io_config.yaml profiles. */
export { SqlRuntime, SUPPORTED_PROVIDERS, type SqlRuntimeOptions } from './sql-runtime.js';
export { SqlBlockError, TemplateError } from './errors.js';
export { renderTemplate, type RenderOptions, type TemplateScope, type TemplateFunction } from './template.js';
export { loadIoConfigProfile } from './io-config.js';
export { blockTableName, cleanName } from './table-name.js';
export { splitStatements, type SqlStatement } from './statements.js';
export { SQL_TABLE_MARKER, type SqlTableMarker } from './upstream.js';
