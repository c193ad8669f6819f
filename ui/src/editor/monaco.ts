/**
 * Monaco, bundled (no CDN: @monaco-editor/react's loader is pointed at this copy, ui.md §6.3 trap 2), with the
 * slim 0.57 entry points (trap 3), the editor worker wired by hand (trap 4), the block languages, and the
 * `blockflow` authoring types loaded for TypeScript/JavaScript completion. Imported by the lazy editor chunk
 * before any <Editor> renders.
 */
import * as monaco from 'monaco-editor/editor';
import 'monaco-editor/features/register.all';
import 'monaco-editor/languages/definitions/python/register';
import 'monaco-editor/languages/definitions/sql/register';
import 'monaco-editor/languages/definitions/yaml/register';
import 'monaco-editor/languages/definitions/markdown/register';
import 'monaco-editor/languages/definitions/typescript/register';
import 'monaco-editor/languages/definitions/javascript/register';
import 'monaco-editor/languages/definitions/r/register';
import { javascriptDefaults, ModuleKind, ModuleResolutionKind, ScriptTarget, typescriptDefaults } from 'monaco-editor/languages/features/typescript/register';
import { loader } from '@monaco-editor/react';
import EditorWorker from 'monaco-editor/editor/editor.worker?worker';
import TsWorker from 'monaco-editor/languages/features/typescript/ts.worker?worker';
import blockflowTypes from '../../../types/blockflow.d.ts?raw';

// With getWorker defined Monaco asks it for every worker, the TypeScript language worker included (answering
// the editor worker there breaks completion and diagnostics with "Missing requestHandler").
self.MonacoEnvironment = {
  getWorker: (_moduleId: string, label: string) => (label === 'typescript' || label === 'javascript' ? new TsWorker() : new EditorWorker()),
};
loader.config({ monaco });

/**
 * `apache-arrow` is not shipped to the browser; block code only needs the names `blockflow` re-exports, so a
 * small declaration stands in for it.
 */
const ARROW_STUB = `declare module 'apache-arrow' {
  export class Table<T = any> {
    readonly numRows: number;
    readonly numCols: number;
    readonly schema: { fields: { name: string; type: unknown }[] };
    toArray(): any[];
    getChild(name: string): { toArray(): any[]; get(i: number): any } | null;
    select(...names: string[]): Table;
    slice(begin?: number, end?: number): Table;
  }
  export function tableFromArrays(input: Record<string, ArrayLike<unknown>>): Table;
  export function tableFromIPC(input: Uint8Array | ArrayBuffer): Table;
  export function tableToIPC(table: Table, type?: 'file' | 'stream'): Uint8Array;
  export function vectorFromArray(values: readonly unknown[]): { toArray(): any[]; length: number };
}
`;

for (const defaults of [typescriptDefaults, javascriptDefaults]) {
  defaults.setCompilerOptions({
    target: ScriptTarget.ES2020,
    module: ModuleKind.ESNext,
    moduleResolution: ModuleResolutionKind.NodeJs,
    allowNonTsExtensions: true,
    allowJs: true,
    strict: true,
    noEmit: true,
    esModuleInterop: true,
    lib: ['es2022'],
  });
  defaults.addExtraLib(blockflowTypes, 'file:///node_modules/@types/blockflow/index.d.ts');
  defaults.addExtraLib(ARROW_STUB, 'file:///node_modules/@types/apache-arrow/index.d.ts');
  // Node globals (console, process) that block code uses, without shipping @types/node.
  defaults.addExtraLib('declare const console: { log(...a: unknown[]): void; error(...a: unknown[]): void; warn(...a: unknown[]): void; info(...a: unknown[]): void };\ndeclare const process: { env: Record<string, string | undefined> };\n', 'file:///globals.d.ts');
}

/** Monaco's language id for a block language. */
export function monacoLanguage(language: string): string {
  return ['python', 'sql', 'yaml', 'markdown', 'typescript', 'javascript', 'r'].includes(language) ? language : 'plaintext';
}

const EXT: Record<string, string> = { python: 'py', sql: 'sql', yaml: 'yaml', markdown: 'md', typescript: 'ts', javascript: 'js', r: 'r' };
/** A model path per block, so TypeScript sees `.ts` modules and each cell keeps its own undo history. */
export function modelPath(pipeline: string, block: string, language: string): string {
  return `file:///${encodeURIComponent(pipeline)}/${block.split('/').map(encodeURIComponent).join('/')}.${EXT[language] ?? 'txt'}`;
}

monaco.editor.defineTheme('blockflow-dark', {
  base: 'vs-dark',
  inherit: true,
  rules: [],
  colors: { 'editor.background': '#161a22', 'editor.lineHighlightBackground': '#1d2230', 'editorGutter.background': '#161a22' },
});

export { monaco };
