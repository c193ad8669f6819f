/**
 * The runtime for `typescript` and `javascript` blocks. A block file default-exports its function
 * `(ctx, ...upstreamOutputs) => value`; see types/blockflow.d.ts for the authoring API. The file is transpiled
 * once per content (oxc-transform) and run on a pool of warm worker threads.
 */
import { join } from 'node:path';
import type { BlockRunRequest, BlockRunResult, BlockRuntime } from '../types.js';
import { WorkerPool, type PoolOptions } from './pool.js';
import type { RunJob } from './protocol.js';
import { BlockTranspiler, TranspileError, type TranspiledModule } from './transpile.js';

export interface TypeScriptRuntimeOptions extends PoolOptions {
  /**
   * Folder for transpiled block files. Default: `<dataDir>/.cache/ts` of each request.
   */
  cacheDir?: string;
}

/** URL of the module block files get for `import ... from 'blockflow'` (the .ts source under tsx, else .js). */
function blockflowModuleUrl(): string {
  const self = import.meta.url;
  return new URL(self.endsWith('.ts') ? './blockflow.ts' : './blockflow.js', self).href;
}

export class TypeScriptRuntime implements BlockRuntime {
  readonly languages = ['typescript', 'javascript'] as const;
  private readonly pool: WorkerPool;
  private readonly transpilers = new Map<string, BlockTranspiler>();
  private readonly blockflowUrl = blockflowModuleUrl();

  constructor(private readonly options: TypeScriptRuntimeOptions = {}) {
    this.pool = new WorkerPool(options);
  }

  warm(): Promise<void> {
    return this.pool.start();
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private transpiler(dataDir: string): BlockTranspiler {
    const cacheDir = this.options.cacheDir ?? join(dataDir, '.cache', 'ts');
    let transpiler = this.transpilers.get(cacheDir);
    if (!transpiler) {
      transpiler = new BlockTranspiler(cacheDir, this.blockflowUrl);
      this.transpilers.set(cacheDir, transpiler);
    }
    return transpiler;
  }

  async run(request: BlockRunRequest): Promise<BlockRunResult> {
    if (request.language !== 'typescript' && request.language !== 'javascript') {
      throw new Error(`the TypeScript runtime cannot run ${request.language} blocks`);
    }
    let module: TranspiledModule;
    try {
      module = this.transpiler(request.dataDir).get(request.filePath);
    } catch (error) {
      const syntax = error instanceof TranspileError;
      return {
        ok: false,
        error: {
          type: 'block_execution_failed',
          exception: syntax ? 'SyntaxError' : error instanceof Error ? error.name : 'Error',
          message: error instanceof Error ? error.message : String(error),
          traceback: [],
        },
      };
    }
    const job: RunJob = {
      moduleUrl: module.url,
      sourcePath: request.filePath,
      sourcePaths: module.dependencies.map((d) => d.path),
      pipelineUuid: request.pipelineUuid,
      blockUuid: request.blockUuid,
      mode: request.mode,
      upstreamDirs: request.upstream.map((u) => u.variablesDir),
      inlineInputs: request.inlineInputs,
      kwargs: {
        ...request.kwargs,
        pipeline_uuid: request.kwargs.pipeline_uuid ?? request.pipelineUuid,
        block_uuid: request.kwargs.block_uuid ?? request.blockUuid,
        configuration: request.kwargs.configuration ?? request.configuration,
        repo_path: request.kwargs.repo_path ?? request.projectRoot,
      },
      outputDir: request.outputDir,
      returnOutputs: request.returnOutputs,
      runTests: request.runTests,
      env: request.env,
      hasSecrets: request.getSecret !== undefined,
    };
    const result = await this.pool.run(job, {
      timeoutMs: request.timeoutMs,
      signal: request.signal,
      onLog: request.onLog,
      getSecret: request.getSecret,
    });
    return result;
  }
}

