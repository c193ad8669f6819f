/**
 * The keyword arguments a block receives, built in Mage's layers (mage-api.md §5.4, PipelineRun.get_variables
 * and Block.enrich_global_vars): pipeline globals < trigger variables < run variables, then event variables
 * for keys not already set, then the run facts (ds, hr, env, execution_date, ...) and the block facts.
 */
export interface KwargsInput {
  globalVariables?: Record<string, unknown> | null;
  triggerVariables?: Record<string, unknown> | null;
  runVariables?: Record<string, unknown> | null;
  eventVariables?: Record<string, unknown> | null;
  executionDate: Date;
  executionPartition: string;
  pipelineRunId: number | null;
  pipelineUuid: string;
  blockUuid: string;
  configuration: Record<string, unknown>;
  repoPath: string;
  triggerName?: string | null;
  /**
   * `prod` for triggered runs, as Mage's PipelineRun.get_variables. Default mageEnv(): what Mage's
   * Block.enrich_global_vars gives a block run without one (`mage run`), `dev` unless `ENV` says otherwise.
   */
  env?: string;
  /** Interval variables of time triggers (interval_start_datetime, ...), when the trigger has an interval. */
  intervalVariables?: Record<string, unknown>;
}

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * Mage's get_env (mage_ai/shared/environments.py): `test` when ENV is `test`, `test_mage` for `test_mage`,
 * `prod` for `production` or `prod`, `staging` for `staging`, and `dev` for anything else or no ENV at all.
 */
export function mageEnv(env: NodeJS.ProcessEnv = process.env): string {
  const value = env.ENV;
  if (value === 'test') return 'test';
  if (value === 'test_mage') return 'test_mage';
  if (value === 'production' || value === 'prod') return 'prod';
  if (value === 'staging') return 'staging';
  return 'dev';
}

export function buildKwargs(input: KwargsInput): Record<string, unknown> {
  const kwargs: Record<string, unknown> = {
    ...(input.globalVariables ?? {}),
    ...(input.triggerVariables ?? {}),
    ...(input.runVariables ?? {}),
  };
  const event = input.eventVariables ?? {};
  for (const [key, value] of Object.entries(event)) if (!(key in kwargs)) kwargs[key] = value;
  const d = input.executionDate;
  Object.assign(kwargs, {
    ds: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
    hr: pad(d.getUTCHours()),
    env: (input.runVariables?.env as string | undefined) ?? (input.triggerVariables?.env as string | undefined) ?? input.env ?? mageEnv(),
    event,
    execution_date: d.toISOString(),
    execution_partition: input.executionPartition,
    pipeline_run_id: input.pipelineRunId,
    trigger_name: input.triggerName ?? null,
    ...(input.intervalVariables ?? {}),
    configuration: input.configuration,
    context: {},
    pipeline_uuid: input.pipelineUuid,
    block_uuid: input.blockUuid,
    repo_path: input.repoPath,
  });
  return kwargs;
}
