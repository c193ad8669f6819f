/** `GET /api/status` (alias `/api/statuses`): the health check, no authentication (mage-api.md §3.12). */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { listEnvelope } from '../envelope.js';
import { splitMageQuery } from '../query.js';

export const startedAt = new Date();
let lastUserRequest: Date | null = null;

export function noteUserRequest(): void {
  lastUserRequest = new Date();
}

/** Env var names listed in BLOCKFLOW_STATUS_ECHO_ENV are echoed, so a control plane can check a replica's env. */
function echoedEnv(): Record<string, string | null> | undefined {
  const names = (process.env.BLOCKFLOW_STATUS_ECHO_ENV ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!names.length) return undefined;
  return Object.fromEntries(names.map((n) => [n, process.env[n] ?? null]));
}

export async function statusItem(ctx: AppContext, withActivity: boolean): Promise<Record<string, unknown>> {
  const scheduler = ctx.services.scheduler as { status(): string; pid?: number; lastActivity?(): Date | null } | undefined;
  const item: Record<string, unknown> = {
    is_instance_manager: false,
    repo_path: ctx.project.root,
    repo_path_relative: ctx.project.name,
    repo_path_relative_root: ctx.project.name,
    repo_path_root: ctx.project.root,
    server_process_id: process.pid,
    scheduler_process_id: scheduler ? process.pid : null,
    scheduler_status: scheduler ? scheduler.status() : 'stopped',
    // Mage reports INSTANCE_TYPE as set, null when unset (checked against mage-ai 0.9.80).
    instance_type: process.env.INSTANCE_TYPE || null,
    disable_pipeline_edit_access: false,
    max_print_output_lines: 1000,
    require_user_authentication: ctx.settings.requireAuth,
    require_user_permissions: false,
    project_type: ctx.project.projectType,
    project_uuid: ctx.project.projectUuid,
    version: '0.1.0',
    uptime_seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
  };
  const env = echoedEnv();
  if (env) item.env = env;
  if (withActivity) {
    const counts = await ctx.store.pipelineRuns.countByStatus(['running']);
    item.active_pipeline_run_count = counts;
    item.last_scheduler_activity = scheduler?.lastActivity?.()?.toISOString() ?? null;
    item.last_user_request = lastUserRequest?.toISOString() ?? null;
  }
  return item;
}

export default async function statusRoutes(app: App, ctx: AppContext): Promise<void> {
  const schema = {
    tags: ['status'],
    summary: 'Health check and server facts (no authentication).',
    querystring: Type.Object({ _format: Type.Optional(Type.String()) }, { additionalProperties: true }),
  };
  const handler = async (request: { query: unknown }) => {
    const q = splitMageQuery(request.query as Record<string, unknown>);
    const item = await statusItem(ctx, q.meta._format === 'with_activity_details');
    return listEnvelope('statuses', [item]);
  };
  for (const url of ['/api/status', '/api/statuses']) {
    app.get(url, { config: { public: true }, schema }, handler);
    app.post(url, { config: { public: true }, schema }, handler);
  }
}
