/**
 * `blockflow run <project> <pipeline> [--var k=v]`: runs a pipeline once in this process and shows live
 * progress per block. Exit code 0 when the run completes, 1 when it fails or is cancelled, 2 on bad input.
 */
import { loadProject } from '../project/projectConfig.js';
import { loadPipeline } from '../project/pipeline.js';
import { openStore, resolveDatabaseUrl } from '../store/db.js';
import { createEngineStack } from '../engine/stack.js';
import { runnableBlocks, type EngineEvent } from '../engine/engine.js';
import { ProgressView } from './progress.js';
import { runVariableProblem } from '../engine/runVariables.js';

export async function runPipelineCommand(projectDir: string, pipelineUuid: string, variables: Record<string, string>): Promise<number> {
  let project;
  let pipeline;
  try {
    project = loadProject(projectDir);
    pipeline = loadPipeline(project, pipelineUuid);
    const refused = runVariableProblem(variables);
    if (refused) throw refused;
  } catch (err) {
    console.error(`Error: ${(err as Error).message}`);
    return 2;
  }
  const store = await openStore({ url: resolveDatabaseUrl(process.env, project.dataDir) });
  const stack = await createEngineStack({ project, store, instanceId: `cli-${process.pid}`, adopt: false });
  const blocks = runnableBlocks(pipeline).map((b) => b.uuid);
  const view = new ProgressView(pipeline.uuid, blocks, process.stdout);
  const onSignal = () => void stack.engine.cancelRun(runId);
  let runId = -1;
  try {
    stack.engine.on('event', (event: EngineEvent) => {
      if (event.type === 'block' && event.runId === runId) view.update(event.blockUuid, event.status, event.error);
    });
    const run = await stack.engine.createRun({ pipelineUuid: pipeline.uuid, variables, start: false });
    runId = run.id;
    view.start(run.id);
    process.once('SIGINT', onSignal);
    await stack.engine.startRun(run.id);
    const status = await stack.engine.waitForRun(run.id);
    view.finish(status);
    // A run failed before any block ran (it could not be set up) says why in its metrics.
    const reason = (await store.pipelineRuns.get(run.id))?.metrics?.error;
    if (status === 'failed' && reason && typeof reason === 'object' && 'message' in reason) console.error(`Error: ${String(reason.message)}`);
    return status === 'completed' ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    await stack.close();
    await store.close();
  }
}
