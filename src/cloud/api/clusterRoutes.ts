/**
 * /api/v1/teams/{team_id}/clusters[/{cluster_id}[/restart]]. Every lookup is scoped by the team in the same
 * query; another team's cluster answers 404. Viewers read (secret values hidden), members start, stop and
 * restart, admins and owners change config, create and delete.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VERSION_KEY } from '../clusterConfig.js';
import type { ClusterChange } from '../clusterService.js';
import { bodyObject, ifMatchVersion, requireRole, requireUser, setEtag, type CloudApiContext } from './context.js';
import { CloudApiError } from './errors.js';

type ClusterParams = { Params: { team_id: string; cluster_id: string } };

/** The version the client read: If-Match, else `cluster.version`, else `cluster.config._version`. */
function expectedVersion(req: FastifyRequest, cluster: Record<string, unknown> | undefined): number | undefined {
  const fromHeader = ifMatchVersion(req);
  if (fromHeader !== undefined) return fromHeader;
  const candidates = [cluster?.version, (cluster?.config as Record<string, unknown> | undefined)?.[VERSION_KEY]];
  for (const v of candidates) {
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new CloudApiError(422, `cluster version must be an integer, got ${JSON.stringify(v)}`, 'invalid_config');
    return v;
  }
  return undefined;
}

function changeOf(cluster: Record<string, unknown>): ClusterChange {
  return { name: cluster.name, status: cluster.status, config: cluster.config };
}

export function registerClusterRoutes(app: FastifyInstance, ctx: CloudApiContext): void {
  const { service } = ctx;

  app.get<{ Params: { team_id: string } }>('/api/v1/teams/:team_id/clusters', async (req) => {
    const userId = await requireUser(ctx, req);
    const role = await requireRole(ctx, userId, req.params.team_id, 'viewer');
    const rows = await service.list(req.params.team_id);
    return { clusters: rows.map((r) => service.view(r, role === 'viewer')) };
  });

  app.post<{ Params: { team_id: string } }>('/api/v1/teams/:team_id/clusters', async (req, reply) => {
    const userId = await requireUser(ctx, req);
    await requireRole(ctx, userId, req.params.team_id, 'admin');
    const row = await service.create(userId, req.params.team_id, changeOf(bodyObject(req, 'cluster')));
    setEtag(reply, row.version);
    void reply.status(201);
    return { cluster: service.view(row) };
  });

  app.get<ClusterParams>('/api/v1/teams/:team_id/clusters/:cluster_id', async (req, reply) => {
    const userId = await requireUser(ctx, req);
    const role = await requireRole(ctx, userId, req.params.team_id, 'viewer');
    const row = await service.get(req.params.team_id, req.params.cluster_id);
    setEtag(reply, row.version);
    return { cluster: service.view(row, role === 'viewer') };
  });

  app.put<ClusterParams>('/api/v1/teams/:team_id/clusters/:cluster_id', async (req, reply) => {
    const { team_id: teamId, cluster_id: id } = req.params;
    const userId = await requireUser(ctx, req);
    const role = await requireRole(ctx, userId, teamId, 'member');
    const cluster = bodyObject(req, 'cluster');
    const current = await service.get(teamId, id);
    const change = changeOf(cluster);
    if (role === 'member' && service.changesConfig(current, change)) {
      throw new CloudApiError(403, 'changing a cluster config needs the admin role; members may only start and stop', 'forbidden');
    }
    const row = await service.update(userId, teamId, id, change, expectedVersion(req, cluster));
    setEtag(reply, row.version);
    return { cluster: service.view(row) };
  });

  app.post<ClusterParams>('/api/v1/teams/:team_id/clusters/:cluster_id/restart', async (req, reply) => {
    const { team_id: teamId, cluster_id: id } = req.params;
    const userId = await requireUser(ctx, req);
    await requireRole(ctx, userId, teamId, 'member');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const row = await service.restart(userId, teamId, id, expectedVersion(req, body.cluster as Record<string, unknown> | undefined));
    setEtag(reply, row.version);
    return { cluster: service.view(row) };
  });

  app.delete<ClusterParams>('/api/v1/teams/:team_id/clusters/:cluster_id', async (req) => {
    const { team_id: teamId, cluster_id: id } = req.params;
    const userId = await requireUser(ctx, req);
    await requireRole(ctx, userId, teamId, 'admin');
    await service.remove(userId, teamId, id, ifMatchVersion(req));
    return { cluster: { id, deleted: true } };
  });
}
