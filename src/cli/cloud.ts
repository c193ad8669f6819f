/**
 * `blockflow cloud ...`: run the control plane (`cloud start`), sign in (`cloud login`, token kept in
 * ~/.blockflow/cloud.json with mode 0600) and manage clusters (`cloud clusters ls|create|start|stop|restart|
 * env set`). The client commands speak the Cloud API over HTTP, as any other client.
 */
import type { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { mergeEnv, type EnvEntry } from '../cloud/clusterConfig.js';

interface CloudCredentials {
  url: string;
  apiKey: string;
  token: string;
  email: string;
  expires: string;
  teamId?: string;
}

export function credentialsPath(): string {
  return join(homedir(), '.blockflow', 'cloud.json');
}

function saveCredentials(creds: CloudCredentials): void {
  const file = credentialsPath();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

function loadCredentials(): CloudCredentials {
  const file = credentialsPath();
  if (!existsSync(file)) throw new CliError('not signed in: run `blockflow cloud login` first');
  return JSON.parse(readFileSync(file, 'utf8')) as CloudCredentials;
}

class CliError extends Error {}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
    const muted = rl as unknown as { _writeToOutput?: (s: string) => void };
    process.stderr.write(question);
    if (process.stdin.isTTY) muted._writeToOutput = () => undefined;
    rl.question('', (answer) => {
      rl.close();
      if (process.stdin.isTTY) process.stderr.write('\n');
      resolve(answer);
    });
  });
}

async function api<T = any>(creds: Pick<CloudCredentials, 'url' | 'apiKey'> & { token?: string }, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T; etag: string | null }> {
  let res: Response;
  try {
    res = await fetch(creds.url.replace(/\/$/, '') + path, {
      method,
      headers: {
        'content-type': 'application/json',
        'x-api-key': creds.apiKey,
        ...(creds.token ? { authorization: `Bearer ${creds.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new CliError(`cannot reach the control plane at ${creds.url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : null;
  return { status: res.status, body: parsed as T, etag: res.headers.get('etag') };
}

function check<T>(answer: { status: number; body: any }, what: string): T {
  if (answer.status >= 400) {
    const e = answer.body?.error;
    const details = Array.isArray(e?.errors) && e.errors.length > 1 ? `\n  - ${e.errors.join('\n  - ')}` : '';
    if (answer.status === 401) throw new CliError(`${what}: ${e?.message ?? 'unauthorised'} (run \`blockflow cloud login\`)`);
    throw new CliError(`${what}: ${e?.message ?? `HTTP ${answer.status}`}${details}`);
  }
  return answer.body as T;
}

function teamOf(creds: CloudCredentials, opts: { team?: string }): string {
  const team = opts.team ?? creds.teamId;
  if (!team) throw new CliError('no team: pass --team <team_id>');
  return team;
}

/** A cluster given by id or by name. */
async function resolveCluster(creds: CloudCredentials, teamId: string, ref: string): Promise<any> {
  const list = check<{ clusters: any[] }>(await api(creds, 'GET', `/api/v1/teams/${teamId}/clusters`), 'listing clusters').clusters;
  const byId = list.find((c) => c.id === ref);
  if (byId) return byId;
  const byName = list.filter((c) => c.name === ref);
  if (byName.length === 1) return byName[0];
  if (byName.length > 1) throw new CliError(`several clusters are named ${ref}; use the id`);
  throw new CliError(`no cluster ${ref} in team ${teamId}`);
}

function parseAssignments(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new CliError(`expected NAME=VALUE, got ${pair}`);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}

function printClusters(clusters: any[]): void {
  const rows = [['ID', 'NAME', 'STATUS', 'OBSERVED', 'READY', 'URL']];
  for (const c of clusters) {
    const o = c.observed ?? {};
    rows.push([c.id, c.name, c.status, o.status ?? '-', `${o.readyReplicas ?? 0}/${c.config?.replicaCount ?? 0}`, o.url ?? '-']);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const r of rows) console.log(r.map((cell, i) => String(cell).padEnd(widths[i])).join('  ').trimEnd());
}

/** Wraps an action so a CliError prints its message and sets exit code 1 instead of a stack trace. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      console.error(`error: ${err.message}`);
      process.exitCode = 1;
    }
  };
}

export function registerCloudCommands(program: Command): void {
  const cloud = program.command('cloud').description('the Cloud API control plane: sign in, start, stop, restart and configure clusters');

  cloud
    .command('start')
    .description('run the control plane (Cloud API on /api/v1)')
    .option('--port <port>', 'port to listen on', '6790')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--data-dir <dir>', 'database, master key and local clusters (default ~/.blockflow/cloud)')
    .option('--database-url <url>', 'postgres://... to keep the control plane state in PostgreSQL')
    .option('--provider <name>', 'where clusters run: local or kubernetes', 'local')
    .option('--admin-email <email>', 'create this user (password from BLOCKFLOW_CLOUD_ADMIN_PASSWORD, else generated) as owner of a first team')
    .option('--team-name <name>', 'name of the first team', 'Default')
    .option('--stop-clusters-on-exit', 'stop local clusters when the control plane exits (default: keep them for re-adoption)')
    .action(
      action(async (opts: { port: string; host: string; dataDir?: string; databaseUrl?: string; provider: string; adminEmail?: string; teamName: string; stopClustersOnExit?: boolean }) => {
        const { startCloudServer, defaultCloudDataDir } = await import('../cloud/server.js');
        const port = Number(opts.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be a port number, got ${opts.port}`);
        if (opts.provider !== 'local' && opts.provider !== 'kubernetes') throw new CliError(`--provider must be local or kubernetes, got ${opts.provider}`);
        let kubernetes;
        if (opts.provider === 'kubernetes') {
          const { KubeConfig } = await import('@kubernetes/client-node');
          const kubeConfig = new KubeConfig();
          kubeConfig.loadFromDefault();
          kubernetes = { kubeConfig };
        }
        let adminPassword: string | undefined;
        if (opts.adminEmail) adminPassword = process.env.BLOCKFLOW_CLOUD_ADMIN_PASSWORD || randomBytes(12).toString('base64url');
        const dataDir = opts.dataDir ?? defaultCloudDataDir();
        const server = await startCloudServer({
          port,
          host: opts.host,
          dataDir,
          databaseUrl: opts.databaseUrl,
          provider: opts.provider as 'local' | 'kubernetes',
          kubernetes,
          bootstrap: opts.adminEmail
            ? {
                users: [{ email: opts.adminEmail, password: adminPassword! }],
                teams: [{ id: 'default', name: opts.teamName, members: [{ email: opts.adminEmail, role: 'owner' }] }],
              }
            : undefined,
        });
        console.log(`Blockflow Cloud API listening on ${server.url}/api/v1 (data in ${dataDir})`);
        if (server.generatedApiKey) console.log(`Client API key (X-API-KEY): ${server.generatedApiKey}  (also in ${join(dataDir, 'client-api-key')})`);
        if (opts.adminEmail && !process.env.BLOCKFLOW_CLOUD_ADMIN_PASSWORD) console.log(`Admin ${opts.adminEmail} password (if newly created): ${adminPassword}`);
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            void server.close({ stopClusters: opts.stopClustersOnExit ?? false }).then(resolve);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
      }),
    );

  cloud
    .command('login')
    .description('sign in and keep the session token in ~/.blockflow/cloud.json (mode 0600)')
    .option('--url <url>', 'control plane URL', 'http://127.0.0.1:6790')
    .option('--email <email>', 'account email')
    .option('--password <password>', 'password (default: BLOCKFLOW_CLOUD_PASSWORD, else asked)')
    .option('--api-key <key>', 'client API key (default: BLOCKFLOW_CLOUD_API_KEY, else ~/.blockflow/cloud/client-api-key)')
    .option('--team <team_id>', 'default team for the cluster commands (default: your first team)')
    .action(
      action(async (opts: { url: string; email?: string; password?: string; apiKey?: string; team?: string }) => {
        const keyFile = join(homedir(), '.blockflow', 'cloud', 'client-api-key');
        const apiKey = opts.apiKey ?? process.env.BLOCKFLOW_CLOUD_API_KEY ?? (existsSync(keyFile) ? readFileSync(keyFile, 'utf8').trim() : undefined);
        if (!apiKey) throw new CliError('no client API key: pass --api-key or set BLOCKFLOW_CLOUD_API_KEY');
        const email = opts.email ?? (await promptHidden('Email: '));
        const password = opts.password ?? process.env.BLOCKFLOW_CLOUD_PASSWORD ?? (await promptHidden('Password: '));
        const base = { url: opts.url, apiKey };
        const session = check<{ session: { token: string; expires: string; user: { email: string } } }>(
          await api(base, 'POST', '/api/v1/sessions', { session: { email, password } }),
          'sign-in failed',
        ).session;
        const me = check<{ user: { teams: Array<{ id: string; name: string }> } }>(await api({ ...base, token: session.token }, 'GET', '/api/v1/users/me'), 'reading your teams').user;
        const teamId = opts.team ?? me.teams[0]?.id;
        saveCredentials({ url: opts.url, apiKey, token: session.token, email: session.user.email, expires: session.expires, teamId });
        console.log(`Signed in as ${session.user.email}${teamId ? ` (team ${teamId})` : ''}; session until ${session.expires}`);
      }),
    );

  const clusters = cloud.command('clusters').description('list and manage the clusters of a team');
  const teamOption = ['--team <team_id>', 'team (default: the one chosen at login)'] as const;

  clusters
    .command('ls')
    .description('list clusters with desired and observed status')
    .option(...teamOption)
    .action(
      action(async (opts: { team?: string }) => {
        const creds = loadCredentials();
        const teamId = teamOf(creds, opts);
        printClusters(check<{ clusters: any[] }>(await api(creds, 'GET', `/api/v1/teams/${teamId}/clusters`), 'listing clusters').clusters);
      }),
    );

  clusters
    .command('create <name>')
    .description('create a cluster (started unless --stopped)')
    .option('--replicas <n>', 'replica count', '1')
    .option('--stopped', 'create it stopped')
    .option('--env <NAME=VALUE...>', 'environment variables (extraEnvs)')
    .option('--image <repository:tag>', 'image (Kubernetes provider)')
    .option(...teamOption)
    .action(
      action(async (name: string, opts: { replicas: string; stopped?: boolean; env?: string[]; image?: string; team?: string }) => {
        const creds = loadCredentials();
        const teamId = teamOf(creds, opts);
        const replicas = Number(opts.replicas);
        const config: Record<string, unknown> = {
          replicaCount: opts.stopped ? 0 : replicas,
          extraEnvs: Object.entries(parseAssignments(opts.env ?? [])).map(([k, v]) => ({ name: k, value: v })),
        };
        if (opts.image) {
          const [repository, tag] = opts.image.split(':');
          config.image = { repository, tag: tag ?? 'latest' };
        }
        const cluster = check<{ cluster: any }>(await api(creds, 'POST', `/api/v1/teams/${teamId}/clusters`, { cluster: { name, config } }), 'creating the cluster').cluster;
        console.log(`Created cluster ${cluster.name} (${cluster.id}), ${cluster.status}`);
      }),
    );

  for (const [verb, status] of [['start', 'Active'], ['stop', 'Stopped']] as const) {
    clusters
      .command(`${verb} <cluster>`)
      .description(`${verb} a cluster (id or name)`)
      .option(...teamOption)
      .action(
        action(async (ref: string, opts: { team?: string }) => {
          const creds = loadCredentials();
          const teamId = teamOf(creds, opts);
          const cluster = await resolveCluster(creds, teamId, ref);
          check(await api(creds, 'PUT', `/api/v1/teams/${teamId}/clusters/${cluster.id}`, { cluster: { status } }), `${verb} failed`);
          console.log(`Cluster ${cluster.name} is now ${status === 'Active' ? 'starting' : 'stopping'}.`);
        }),
      );
  }

  clusters
    .command('restart <cluster>')
    .description('rolling restart of a cluster (id or name)')
    .option(...teamOption)
    .action(
      action(async (ref: string, opts: { team?: string }) => {
        const creds = loadCredentials();
        const teamId = teamOf(creds, opts);
        const cluster = await resolveCluster(creds, teamId, ref);
        check(await api(creds, 'POST', `/api/v1/teams/${teamId}/clusters/${cluster.id}/restart`), 'restart failed');
        console.log(`Cluster ${cluster.name} is restarting.`);
      }),
    );

  clusters
    .command('env')
    .description('environment variables of a cluster')
    .command('set <cluster> <assignments...>')
    .description('set NAME=VALUE variables (others, valueFrom entries included, are kept); the replicas roll')
    .option(...teamOption)
    .action(
      action(async (ref: string, assignments: string[], opts: { team?: string }) => {
        const creds = loadCredentials();
        const teamId = teamOf(creds, opts);
        const updates = parseAssignments(assignments);
        const { id } = await resolveCluster(creds, teamId, ref);
        // Read-modify-write under If-Match: a concurrent change makes the PUT fail with 409, and it is redone.
        for (let attempt = 1; ; attempt++) {
          const got = await api<{ cluster: any }>(creds, 'GET', `/api/v1/teams/${teamId}/clusters/${id}`);
          const cluster = check<{ cluster: any }>(got, 'reading the cluster').cluster;
          const config = { ...cluster.config, extraEnvs: mergeEnv(cluster.config.extraEnvs as EnvEntry[] | undefined, updates) };
          const put = await api(creds, 'PUT', `/api/v1/teams/${teamId}/clusters/${id}`, { cluster: { config } }, got.etag ? { 'if-match': got.etag } : {});
          if (put.status === 409 && attempt < 5) continue;
          check(put, 'updating the environment');
          console.log(`Set ${Object.keys(updates).join(', ')} on cluster ${cluster.name}; its replicas roll onto the new environment.`);
          return;
        }
      }),
    );
}
