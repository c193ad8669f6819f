/** Every resource module, in registration order. */
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import statusRoutes from './status.js';
import sessionRoutes from './sessions.js';
import userRoutes from './users.js';
import pipelineRoutes from './pipelines.js';
import blockRoutes from './blocks.js';
import fileContentRoutes from './fileContents.js';
import variableRoutes from './variables.js';
import secretRoutes from './secrets.js';
import pipelineRunRoutes from './pipelineRuns.js';
import blockRunRoutes from './blockRuns.js';
import logRoutes from './logs.js';
import pipelineScheduleRoutes from './pipelineSchedules.js';
import apiTriggerRoutes from './apiTrigger.js';
import eventRoutes from './events.js';
import eventMatcherRoutes from './eventMatchers.js';
import backfillRoutes from './backfills.js';
import schedulerRoutes from './schedulers.js';
import pipelineTriggerRoutes from './pipelineTriggers.js';
import runRoutes from './runs.js';
import executionRoutes from './executions.js';
import gitBranchRoutes from './gitBranches.js';

export type ResourceModule = (app: App, ctx: AppContext) => Promise<void>;

export const resourceModules: ResourceModule[] = [
  statusRoutes,
  sessionRoutes,
  userRoutes,
  pipelineRoutes,
  blockRoutes,
  fileContentRoutes,
  variableRoutes,
  secretRoutes,
  pipelineRunRoutes,
  blockRunRoutes,
  logRoutes,
  pipelineScheduleRoutes,
  apiTriggerRoutes,
  eventRoutes,
  eventMatcherRoutes,
  backfillRoutes,
  schedulerRoutes,
  pipelineTriggerRoutes,
  runRoutes,
  executionRoutes,
  gitBranchRoutes,
];
