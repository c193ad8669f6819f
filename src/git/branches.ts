// The git actions behind Mage's GitBranchResource (mage-pro-api.md §11.1) on the project's own repository, with no
// HTTP: each action answers Mage's presenter fields, and a git failure is put in `error` (the HTTP layer keeps
// status 200, as Mage). Paths from requests are checked to stay inside the repository before git sees them.
import { isAbsolute, relative, resolve } from 'node:path';
import { runGitRaw } from './git.js';

export const RESERVED_REMOTE = 'mage-repo';

export interface GitActionResult {
  name: string | null;
  status?: string;
  modified_files?: string[];
  staged_files?: string[];
  untracked_files?: string[];
  progress?: string[];
  error?: string;
}

export class GitPathError extends Error {}

/** A user-given path as a repository-relative path; throws GitPathError when it leaves the repository. */
export function repoRelativePath(repoDir: string, file: string): string {
  if (typeof file !== 'string' || file === '' || file.includes('\0')) throw new GitPathError('invalid file path');
  const abs = resolve(repoDir, file);
  const rel = relative(repoDir, abs);
  if (rel === '' ) return '.';
  if (rel.startsWith('..') || isAbsolute(rel)) throw new GitPathError(`path ${JSON.stringify(file)} is outside the repository`);
  return rel;
}

const git = (repo: string, args: string[], env?: NodeJS.ProcessEnv) => runGitRaw(args, { cwd: repo, env });
const lines = (s: string): string[] => s.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');

export async function currentBranch(repo: string): Promise<string | null> {
  const r = await git(repo, ['rev-parse', '--abbrev-ref', 'HEAD']);
  return r.code === 0 ? r.stdout.trim() : null;
}

export async function status(repo: string): Promise<GitActionResult> {
  const r = await git(repo, ['status', '--porcelain=v1', '-uall']);
  const name = await currentBranch(repo);
  if (r.code !== 0) return { name, error: r.stderr.trim() };
  const modified: string[] = [];
  const staged: string[] = [];
  const untracked: string[] = [];
  for (const l of lines(r.stdout)) {
    const x = l[0];
    const y = l[1];
    const path = l.slice(3);
    if (x === '?' && y === '?') untracked.push(path);
    else {
      if (x !== ' ') staged.push(path);
      if (y !== ' ') modified.push(path);
    }
  }
  const long = await git(repo, ['status']);
  return { name, status: long.stdout, modified_files: modified, staged_files: staged, untracked_files: untracked };
}

export async function commit(repo: string, message: string | undefined, files: string[] | undefined, env?: NodeJS.ProcessEnv): Promise<GitActionResult> {
  const name = await currentBranch(repo);
  if (!message) return { name, error: 'Message is empty, please add a message for your commit.' };
  if (files && files.length > 0) {
    const rels = files.map((f) => repoRelativePath(repo, f));
    const a = await git(repo, ['add', '--', ...rels]);
    if (a.code !== 0) return { name, error: a.stderr.trim() };
  }
  const c = await git(repo, ['commit', '-m', message], env);
  if (c.code !== 0) return { name, error: (c.stderr || c.stdout).trim() };
  return { name, progress: lines(c.stdout) };
}

async function remoteOp(repo: string, args: string[], env?: NodeJS.ProcessEnv): Promise<GitActionResult> {
  const name = await currentBranch(repo);
  const r = await git(repo, args, env);
  const progress = [...lines(r.stdout), ...lines(r.stderr)];
  if (r.code !== 0) return { name, progress, error: r.stderr.trim() || r.stdout.trim() || `git ${args[0]} failed` };
  return { name, progress };
}

const checkRef = (s: string, what: string): string | undefined => (s.startsWith('-') || s.includes('\0') ? `invalid ${what}` : undefined);

export async function push(repo: string, remote: string, branch: string | undefined, env?: NodeJS.ProcessEnv): Promise<GitActionResult> {
  const bad = checkRef(remote, 'remote') ?? (branch ? checkRef(branch, 'branch') : undefined);
  if (bad) return { name: await currentBranch(repo), error: bad };
  return remoteOp(repo, ['push', '--porcelain', remote, branch ?? 'HEAD'], env);
}

export async function pull(repo: string, remote: string, branch: string | undefined, env?: NodeJS.ProcessEnv): Promise<GitActionResult> {
  const bad = checkRef(remote, 'remote') ?? (branch ? checkRef(branch, 'branch') : undefined);
  if (bad) return { name: await currentBranch(repo), error: bad };
  if (!branch) return remoteOp(repo, ['fetch', remote], env);
  return remoteOp(repo, ['pull', '--no-rebase', '--no-edit', remote, branch], env);
}

export async function fetch(repo: string, remote: string | undefined, env?: NodeJS.ProcessEnv): Promise<GitActionResult> {
  if (!remote) return { name: await currentBranch(repo), error: 'Please specify a remote to fetch from.' };
  const bad = checkRef(remote, 'remote');
  if (bad) return { name: await currentBranch(repo), error: bad };
  return remoteOp(repo, ['fetch', remote], env);
}

async function fileOp(repo: string, args: string[], files: string[] | undefined): Promise<GitActionResult> {
  const name = await currentBranch(repo);
  if (!files || files.length === 0) return { name, error: 'Files are missing.' };
  const rels = files.map((f) => repoRelativePath(repo, f));
  const r = await git(repo, [...args, '--', ...rels]);
  return r.code !== 0 ? { name, error: r.stderr.trim() } : { name, progress: lines(r.stdout) };
}

/** `git add -f` each file (Mage's `add`). */
export const addFiles = (repo: string, files: string[] | undefined) => fileOp(repo, ['add', '-f'], files);
/** Discards working-tree changes to each file (Mage's `checkout`). */
export const checkoutFiles = (repo: string, files: string[] | undefined) => fileOp(repo, ['checkout'], files);
/** Unstages each file (Mage's `reset` with files). */
export const resetFiles = (repo: string, files: string[] | undefined) => fileOp(repo, ['reset', '-q'], files);

/** `reset --hard <remote>/<branch>` (Mage's `reset` without files). */
export async function resetHard(repo: string, remote: string | undefined, branch: string | undefined): Promise<GitActionResult> {
  const name = await currentBranch(repo);
  if (!remote || !branch) return { name, error: 'Remote and branch are required to reset.' };
  const bad = checkRef(remote, 'remote') ?? checkRef(branch, 'branch');
  if (bad) return { name, error: bad };
  return remoteOp(repo, ['reset', '--hard', `${remote}/${branch}`]);
}

export async function addRemote(repo: string, remoteName: string | undefined, url: string | undefined): Promise<GitActionResult> {
  const name = await currentBranch(repo);
  if (!remoteName || !url) return { name, error: 'Remote is missing name/url.' };
  if (remoteName === RESERVED_REMOTE) return { name, error: `Remote name ${RESERVED_REMOTE} is reserved.` };
  const bad = checkRef(remoteName, 'remote') ?? checkRef(url, 'url');
  if (bad) return { name, error: bad };
  return remoteOp(repo, ['remote', 'add', '--', remoteName, url]);
}

export async function removeRemote(repo: string, remoteName: string | undefined): Promise<GitActionResult> {
  const name = await currentBranch(repo);
  if (!remoteName) return { name, error: 'Remote is missing name/url.' };
  if (remoteName === RESERVED_REMOTE) return { name, error: `Remote name ${RESERVED_REMOTE} is reserved.` };
  const bad = checkRef(remoteName, 'remote');
  if (bad) return { name, error: bad };
  return remoteOp(repo, ['remote', 'remove', '--', remoteName]);
}

/** Merges base_branch into the current branch; a conflict is aborted and reported. */
export async function merge(repo: string, baseBranch: string | undefined, message: string | undefined, env?: NodeJS.ProcessEnv): Promise<GitActionResult> {
  const name = await currentBranch(repo);
  if (!baseBranch) return { name, error: 'Base branch is missing.' };
  const bad = checkRef(baseBranch, 'branch');
  if (bad) return { name, error: bad };
  const r = await remoteOp(repo, ['merge', '--no-edit', ...(message ? ['-m', message] : []), baseBranch], env);
  if (r.error) await git(repo, ['merge', '--abort']);
  return r;
}
