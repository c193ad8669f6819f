/**
 * Mage's `git_branches` (mage-pro-api.md §11.1) on the project's own repository. Git failures answer 200 with
 * `error` set, as Mage; a path outside the repository is an `error` too, and git never sees it.
 * Built so far: list (local heads), detail (`_format=with_logs`: the last 12 commits), create/switch, and PUT
 * actions status, commit, push, pull, fetch, add, checkout, reset, add_remote/remove_remote, merge. No stored credentials yet: remotes are used as git is configured.
 */
import { Type } from 'typebox';
import type { App } from '../app.js';
import type { AppContext } from '../context.js';
import { itemEnvelope, listEnvelope } from '../envelope.js';
import {
  addFiles, addRemote, checkoutFiles, commit, currentBranch, fetch, GitPathError, merge, pull, push, removeRemote, resetFiles, resetHard, status,
  type GitActionResult,
} from '../../git/branches.js';
import { runGitRaw } from '../../git/git.js';

const COMMITTER = { GIT_AUTHOR_NAME: 'Blockflow', GIT_AUTHOR_EMAIL: 'blockflow@localhost', GIT_COMMITTER_NAME: 'Blockflow', GIT_COMMITTER_EMAIL: 'blockflow@localhost' };

async function identityEnv(repo: string): Promise<NodeJS.ProcessEnv | undefined> {
  const r = await runGitRaw(['config', 'user.email'], { cwd: repo });
  return r.code === 0 && r.stdout.trim() ? undefined : COMMITTER;
}

async function logs(repo: string): Promise<Array<{ author: { email: string; name: string }; date: string; message: string }>> {
  const r = await runGitRaw(['log', '-n', '12', '--format=%an%x1f%ae%x1f%aI%x1f%s%x1e'], { cwd: repo });
  if (r.code !== 0) return [];
  return r.stdout
    .split('\x1e')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [name = '', email = '', date = '', message = ''] = s.split('\x1f');
      return { author: { email, name }, date, message };
    });
}

function present(r: GitActionResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { error: null, progress: null, ...r, ...extra };
}

const Params = Type.Object({ id: Type.String() });
const Body = Type.Object({ git_branch: Type.Optional(Type.Record(Type.String(), Type.Unknown())) });

export default async function gitBranchRoutes(app: App, ctx: AppContext): Promise<void> {
  const repo = (): string => ctx.project.root;

  app.get('/api/git_branches', { config: { resource: 'git_branches', action: 'list' }, schema: { tags: ['git'], summary: 'List local branches.' } }, async () => {
    const r = await runGitRaw(['for-each-ref', '--format=%(refname:short)', 'refs/heads'], { cwd: repo() });
    const names = r.code === 0 ? r.stdout.split('\n').map((s) => s.trim()).filter(Boolean) : [];
    return listEnvelope('git_branches', names.map((name) => ({ name })));
  });

  app.get('/api/git_branches/:id', { config: { resource: 'git_branches', action: 'detail' }, schema: { tags: ['git'], summary: 'The current branch (pk ignored, as Mage).', params: Params } }, async (req) => {
    const q = req.query as Record<string, unknown>;
    const s = await status(repo());
    const extra = q._format === 'with_logs' ? { logs: await logs(repo()) } : {};
    return itemEnvelope('git_branch', present(s, extra));
  });

  app.post('/api/git_branches', { config: { resource: 'git_branches', action: 'create' }, schema: { tags: ['git'], summary: 'Switch to a branch, creating it when missing.', body: Body } }, async (req) => {
    const body = (req.body ?? {}) as { git_branch?: { name?: unknown; remote?: unknown } };
    const name = body.git_branch?.name;
    const remote = body.git_branch?.remote;
    if (typeof name !== 'string' || !name || name.startsWith('-')) return itemEnvelope('git_branch', present({ name: await currentBranch(repo()), error: 'Branch name is missing or invalid.' }));
    const exists = (await runGitRaw(['rev-parse', '--verify', '-q', `refs/heads/${name}`], { cwd: repo() })).code === 0;
    const args = exists
      ? ['switch', name]
      : typeof remote === 'string' && remote && !remote.startsWith('-')
        ? ['switch', '-c', name, '--track', `${remote}/${name}`]
        : ['switch', '-c', name];
    const r = await runGitRaw(args, { cwd: repo() });
    return itemEnvelope('git_branch', present({ name: await currentBranch(repo()), ...(r.code !== 0 ? { error: r.stderr.trim() } : {}) }));
  });

  app.put('/api/git_branches/:id', { config: { resource: 'git_branches', action: 'update' }, schema: { tags: ['git'], summary: 'Run a git action (Mage action_type).', params: Params, body: Body } }, async (req) => {
    const body = ((req.body ?? {}) as { git_branch?: Record<string, unknown> }).git_branch ?? {};
    const action = body.action_type;
    const payload = (body.action_payload ?? {}) as Record<string, unknown>;
    const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
    const files = Array.isArray(body.files) ? body.files.filter((f): f is string => typeof f === 'string') : undefined;
    const base = { action_type: action ?? null, message: body.message ?? null, files: files ?? null, action_payload: body.action_payload ?? null };
    let r: GitActionResult;
    try {
      switch (action) {
        case 'status':
          r = await status(repo());
          break;
        case 'commit':
          r = await commit(repo(), str(body.message), files, await identityEnv(repo()));
          break;
        case 'push':
          r = await push(repo(), str(payload.remote) ?? 'origin', str(payload.branch));
          break;
        case 'pull':
          r = await pull(repo(), str(payload.remote) ?? 'origin', str(payload.branch), await identityEnv(repo()));
          break;
        case 'fetch':
          r = await fetch(repo(), str(payload.remote));
          break;
        case 'add':
          r = await addFiles(repo(), files);
          break;
        case 'checkout':
          r = await checkoutFiles(repo(), files);
          break;
        case 'reset':
          r = files && files.length ? await resetFiles(repo(), files) : await resetHard(repo(), str(payload.remote), str(payload.branch));
          break;
        case 'add_remote':
          r = await addRemote(repo(), str(payload.name), str(payload.url));
          break;
        case 'remove_remote':
          r = await removeRemote(repo(), str(payload.name));
          break;
        case 'merge':
          r = await merge(repo(), str(payload.base_branch), str(body.message), await identityEnv(repo()));
          break;
        default:
          r = { name: await currentBranch(repo()), error: `Unsupported action_type ${JSON.stringify(action ?? null)}.` };
      }
    } catch (e) {
      if (!(e instanceof GitPathError)) throw e;
      r = { name: await currentBranch(repo()), error: e.message };
    }
    return itemEnvelope('git_branch', present(r, base));
  });
}
