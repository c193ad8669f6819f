import assert from 'node:assert/strict';
import { chmod, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commit, fetch, GitPathError, pull, push, repoRelativePath, status } from './branches.js';
import { runGit } from './git.js';

const ident = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };

describe('git branch actions on real repositories', () => {
  let root: string;
  let remote: string;
  let repo: string;
  let other: string;

  before(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), 'bf-branches-')));
    remote = join(root, 'remote.git');
    repo = join(root, 'repo');
    other = join(root, 'other');
    await runGit(['init', '-q', '--bare', '-b', 'main', remote], { cwd: root });
    await runGit(['init', '-q', '-b', 'main', repo], { cwd: root });
    await runGit(['remote', 'add', 'origin', remote], { cwd: repo });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('status lists untracked, commit needs a message, commit and push reach the bare remote', async () => {
    await writeFile(join(repo, 'a.txt'), 'one\n');
    const s = await status(repo);
    assert.deepEqual(s.untracked_files, ['a.txt']);
    assert.equal(s.error, undefined);
    assert.match((await commit(repo, '', ['a.txt'], ident)).error!, /Message is empty/);
    const c = await commit(repo, 'first', ['a.txt'], ident);
    assert.equal(c.error, undefined, c.error);
    const p = await push(repo, 'origin', 'main');
    assert.equal(p.error, undefined, p.error);
    const log = await runGit(['log', '--format=%s', 'main'], { cwd: remote });
    assert.equal(log.trim(), 'first');
    assert.match((await fetch(repo, undefined)).error!, /specify a remote/);
  });

  it('refuses paths outside the repository', async () => {
    assert.throws(() => repoRelativePath(repo, '../x'), GitPathError);
    assert.throws(() => repoRelativePath(repo, '/etc/passwd'), GitPathError);
    assert.equal(repoRelativePath(repo, 'sub/../a.txt'), 'a.txt');
  });

  it('a conflicting pull is reported in error', async () => {
    await runGit(['clone', '-q', remote, other], { cwd: root });
    await writeFile(join(other, 'a.txt'), 'theirs\n');
    await runGit(['commit', '-q', '-am', 'theirs'], { cwd: other, env: ident });
    await runGit(['push', '-q', 'origin', 'main'], { cwd: other });
    await writeFile(join(repo, 'a.txt'), 'ours\n');
    assert.equal((await commit(repo, 'ours', ['a.txt'], ident)).error, undefined);
    const r = await pull(repo, 'origin', 'main', ident);
    assert.ok(r.error, 'a conflict is an error');
    assert.match(r.error + (r.progress ?? []).join('\n'), /CONFLICT|conflict/);
    await runGit(['merge', '--abort'], { cwd: repo });
  });

  it('a push refused by a pre-receive hook is reported in error', async () => {
    const hook = join(remote, 'hooks', 'pre-receive');
    await writeFile(hook, '#!/bin/sh\necho "refused by policy" >&2\nexit 1\n');
    await chmod(hook, 0o755);
    const r = await push(repo, 'origin', 'main');
    assert.ok(r.error);
    assert.match(r.error! + (r.progress ?? []).join('\n'), /refused by policy|rejected/);
  });
});
