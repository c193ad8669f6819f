// Atomic deploy of one commit into a served directory (docs/architecture.md "Git deploys").
//
// Layout under `deploymentsDir` (inside the data folder, never served by the file API):
//   repo.git/          a bare cache of the remote: every deploy fetches into it
//   trees/<sha>/       one full checkout per deployed commit, prepared beside and renamed into place
// `linkPath` (the deploy target) is a symlink to trees/<sha>; the switch is one rename of a new symlink over it,
// so a reader resolves either the old tree or the new one, never half a checkout. Trees are kept after a switch:
// a run that resolved the link when it started keeps reading its own tree until it ends.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { GitError, headSha, isSha, runGit, runGitRaw } from './git.js';

export interface DeployRequest {
  remoteUrl: string;
  /** Branch on the remote that holds the commit (Mage's source.head.name). */
  headName: string;
  sha: string;
  /** Local branch name created at the commit in the prepared tree (Mage's stage.branch.name). */
  stageBranch: string;
  deploymentsDir: string;
  linkPath: string;
  /** Extra check of the prepared tree before the switch (e.g. pipeline metadata readable); throws to refuse. */
  check?: (treeDir: string) => Promise<void>;
  env?: NodeJS.ProcessEnv;
}

export interface DeployOutcome {
  ok: boolean;
  sha: string;
  previousSha: string | null;
  treeDir: string | null;
  log: string;
  error?: string;
}

const tmpSuffix = (): string => `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** The sha currently served at linkPath (HEAD of the tree it points to), or null. */
export async function currentDeployedSha(linkPath: string): Promise<string | null> {
  try {
    const st = await lstat(linkPath);
    if (!st.isSymbolicLink() && !st.isDirectory()) return null;
  } catch {
    return null;
  }
  return headSha(linkPath);
}

export async function deployCommit(req: DeployRequest): Promise<DeployOutcome> {
  const lines: string[] = [];
  const log = (s: string): void => {
    lines.push(`${new Date().toISOString()} ${s}`);
  };
  const sha = req.sha.toLowerCase();
  const previousSha = await currentDeployedSha(req.linkPath);
  const fail = (error: string): DeployOutcome => {
    log(`FAILED: ${error}; ${previousSha ? `${previousSha} keeps serving` : 'nothing was switched'}`);
    return { ok: false, sha, previousSha, treeDir: null, log: lines.join('\n'), error };
  };
  if (!isSha(sha) || sha.length !== 40) return fail(`source.version must be a full 40-character commit sha, got ${JSON.stringify(req.sha)}`);
  if (req.headName.startsWith('-') || req.stageBranch.startsWith('-')) return fail('branch names may not start with "-"');
  const env = req.env;
  try {
    // The target must be a symlink we manage (or absent): a real directory there is refused, never replaced.
    if (await exists(req.linkPath)) {
      const st = await lstat(req.linkPath);
      if (!st.isSymbolicLink()) return fail(`target ${req.linkPath} exists and is not a deploy symlink`);
    }
    const bare = join(req.deploymentsDir, 'repo.git');
    const trees = join(req.deploymentsDir, 'trees');
    await mkdir(trees, { recursive: true });
    if (!(await exists(join(bare, 'HEAD')))) {
      log(`init ${bare}`);
      await runGit(['init', '--bare', '-q', bare], { cwd: req.deploymentsDir, env });
    }
    log(`fetch ${req.remoteUrl} ${req.headName}`);
    const fetched = await runGitRaw(['fetch', '--no-tags', '--', req.remoteUrl, `+refs/heads/${req.headName}:refs/remotes/source/${req.headName}`], { cwd: bare, env });
    if (fetched.stderr.trim()) log(fetched.stderr.trim());
    if (fetched.code !== 0) return fail(`fetch failed (exit ${fetched.code})`);
    let has = await runGitRaw(['cat-file', '-e', `${sha}^{commit}`], { cwd: bare, env });
    if (has.code !== 0) {
      // The commit may no longer be on the branch (a rollback after a force push): ask for it by sha.
      log(`commit ${sha} not on ${req.headName}; fetching it by sha`);
      const bySha = await runGitRaw(['fetch', '--no-tags', '--', req.remoteUrl, sha], { cwd: bare, env });
      if (bySha.stderr.trim()) log(bySha.stderr.trim());
      has = await runGitRaw(['cat-file', '-e', `${sha}^{commit}`], { cwd: bare, env });
    }
    if (has.code !== 0) return fail(`commit ${sha} does not exist on the remote`);
    const treeDir = join(trees, sha);
    if (!(await exists(treeDir))) {
      const tmp = treeDir + tmpSuffix();
      try {
        log(`checkout ${sha} into ${tmp}`);
        await runGit(['clone', '-q', '--no-checkout', '--', bare, tmp], { cwd: req.deploymentsDir, env });
        await runGit(['checkout', '-q', '-B', req.stageBranch, sha], { cwd: tmp, env });
        if ((await headSha(tmp)) !== sha) throw new Error(`checkout of ${sha} did not land on it`);
        if (req.check) await req.check(tmp);
        await rename(tmp, treeDir);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
    } else {
      log(`tree for ${sha} already prepared`);
      if (req.check) await req.check(treeDir);
    }
    // The switch: a new symlink beside the target, renamed over it (atomic on POSIX).
    await mkdir(dirname(resolve(req.linkPath)), { recursive: true });
    const newLink = req.linkPath + tmpSuffix();
    await symlink(treeDir, newLink, 'dir');
    try {
      await rename(newLink, req.linkPath);
    } catch (e) {
      await rm(newLink, { force: true });
      throw e;
    }
    log(`switched ${req.linkPath} -> ${treeDir} (previous ${previousSha ?? 'none'})`);
    return { ok: true, sha, previousSha, treeDir, log: lines.join('\n') };
  } catch (e) {
    const msg = e instanceof GitError ? e.message : e instanceof Error ? e.message : String(e);
    return fail(msg);
  }
}

/** The tree the target points to now (resolve once at run start and keep it for the run's whole life). */
export async function resolveDeployedTree(linkPath: string): Promise<string | null> {
  try {
    const target = await readlink(linkPath);
    return resolve(dirname(linkPath), target);
  } catch {
    return null;
  }
}
