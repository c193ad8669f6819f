/**
 * The runtime side of the `blockflow` module that block files import (its types are published in
 * types/blockflow.d.ts). Block files get this module whatever their `import ... from 'blockflow'` says.
 */
export { tableFromRows as table, type ColumnTypeName } from '../../variables/arrowValues.js';
export { Table, tableFromArrays, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
