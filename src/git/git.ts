// The real `git` CLI through execFile with an argument array (no shell). Every git call in Blockflow goes through
// runGit so that the environment is the same everywhere: no terminal prompts, no user/system config surprises
// for identity, and a bounded output buffer.
import { execFile } from 'node:child_process';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class GitError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly result: GitResult,
  ) {
    super(`git ${args.join(' ')} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim()}`);
    this.name = 'GitError';
  }
}

export interface GitOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

const MAX_BUFFER = 32 * 1024 * 1024;

/** Runs git; resolves with the exit code and output whatever the code (never throws for a non-zero exit). */
export function runGitRaw(args: readonly string[], opts: GitOptions): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...args],
      {
        cwd: opts.cwd,
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'echo', LC_ALL: 'C', ...opts.env },
        maxBuffer: MAX_BUFFER,
        timeout: opts.timeoutMs ?? 120_000,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
          reject(err); // git missing, cwd missing: not a git failure
          return;
        }
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Runs git and throws GitError on a non-zero exit. */
export async function runGit(args: readonly string[], opts: GitOptions): Promise<string> {
  const r = await runGitRaw(args, opts);
  if (r.code !== 0) throw new GitError(args, r);
  return r.stdout;
}

const SHA_RE = /^[0-9a-f]{7,64}$/i;
export function isSha(value: string): boolean {
  return SHA_RE.test(value);
}

/** HEAD's sha of the checkout at dir, or null when dir is not a git checkout. */
export async function headSha(dir: string): Promise<string | null> {
  try {
    const r = await runGitRaw(['rev-parse', '--verify', '-q', 'HEAD'], { cwd: dir });
    return r.code === 0 ? r.stdout.trim() : null;
  } catch {
    return null;
  }
}
