/**
 * `git_branches` over real HTTP (mage-pro-api.md §11.1) on the project's own repository with a bare repository
 * on disk as the remote: status, commit, push, a push refused by a pre-receive hook and a conflicting pull are
 * 200 with `error`, a path outside the repository is refused. Git only; the database is not involved (SQLite).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runGit } from '../../src/git/git.js';

const ident = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };

describe('git_branches resource', () => {
  let t: TestServer;
  let remote: string;
  const put = (git_branch: unknown) => t.call('PUT', '/api/git_branches/x', { git_branch }, t.ownerToken);

  before(async () => {
    t = await startTestServer({ dialect: 'sqlite' });
    remote = join(t.projectDir, '..', 'remote.git');
    await runGit(['init', '-q', '--bare', '-b', 'main', remote], { cwd: t.projectDir });
    await runGit(['init', '-q', '-b', 'main'], { cwd: t.projectDir });
    await runGit(['remote', 'add', 'origin', remote], { cwd: t.projectDir });
  });
  after(async () => {
    await t?.close();
  });

  test('status, commit, push to the bare remote, detail with logs, list', async () => {
    await writeFile(join(t.projectDir, 'notes.txt'), 'one\n');
    const s = await put({ action_type: 'status' });
    assert.equal(s.status, 200);
    assert.ok(s.body.git_branch.untracked_files.includes('notes.txt'));
    assert.equal(s.body.git_branch.error, null);
    const empty = await put({ action_type: 'commit', message: '', files: ['notes.txt'] });
    assert.equal(empty.status, 200);
    assert.match(empty.body.git_branch.error, /Message is empty/);
    const c = await put({ action_type: 'commit', message: 'add notes', files: ['notes.txt'] });
    assert.equal(c.body.git_branch.error, null, c.body.git_branch.error);
    const p = await put({ action_type: 'push', action_payload: { remote: 'origin', branch: 'main' } });
    assert.equal(p.body.git_branch.error, null, p.body.git_branch.error);
    assert.equal((await runGit(['log', '--format=%s', 'main'], { cwd: remote })).trim(), 'add notes');
    const d = await t.call('GET', '/api/git_branches/x?_format=with_logs', undefined, t.ownerToken);
    assert.equal(d.status, 200);
    assert.equal(d.body.git_branch.name, 'main');
    assert.equal(d.body.git_branch.logs[0].message, 'add notes');
    const l = await t.call('GET', '/api/git_branches', undefined, t.ownerToken);
    assert.deepEqual(l.body.git_branches, [{ name: 'main' }]);
  });

  test('a path outside the repository is an error and git never sees it', async () => {
    const r = await put({ action_type: 'commit', message: 'x', files: ['../remote.git/config'] });
    assert.equal(r.status, 200);
    assert.match(r.body.git_branch.error, /outside the repository/);
  });

  test('a conflicting pull is reported in error', async () => {
    const other = join(t.projectDir, '..', 'other');
    await runGit(['clone', '-q', remote, other], { cwd: t.projectDir });
    await writeFile(join(other, 'notes.txt'), 'theirs\n');
    await runGit(['commit', '-q', '-am', 'theirs'], { cwd: other, env: ident });
    await runGit(['push', '-q', 'origin', 'main'], { cwd: other });
    await writeFile(join(t.projectDir, 'notes.txt'), 'ours\n');
    assert.equal((await put({ action_type: 'commit', message: 'ours', files: ['notes.txt'] })).body.git_branch.error, null);
    const r = await put({ action_type: 'pull', action_payload: { remote: 'origin', branch: 'main' } });
    assert.equal(r.status, 200);
    assert.ok(r.body.git_branch.error);
    assert.match(r.body.git_branch.error + (r.body.git_branch.progress ?? []).join('\n'), /conflict/i);
    await runGit(['merge', '--abort'], { cwd: t.projectDir });
  });

  test('a push refused by a pre-receive hook is reported in error', async () => {
    const hook = join(remote, 'hooks', 'pre-receive');
    await writeFile(hook, '#!/bin/sh\necho "refused by policy" >&2\nexit 1\n');
    await chmod(hook, 0o755);
    await runGit(['pull', '-q', '--no-rebase', '-X', 'ours', '--no-edit', 'origin', 'main'], { cwd: t.projectDir, env: ident });
    const r = await put({ action_type: 'push', action_payload: { remote: 'origin', branch: 'main' } });
    assert.equal(r.status, 200);
    assert.match(r.body.git_branch.error + (r.body.git_branch.progress ?? []).join('\n'), /refused by policy|pre-receive/);
  });

  test('create switches to a new branch', async () => {
    const r = await t.call('POST', '/api/git_branches', { git_branch: { name: 'feature' } }, t.ownerToken);
    assert.equal(r.status, 200);
    assert.equal(r.body.git_branch.name, 'feature');
  });
  test('add, checkout, reset, remotes (mage-repo reserved) and merge', async () => {
    const branch = (await put({ action_type: 'status' })).body.git_branch.name;
    await writeFile(join(t.projectDir, 'scratch.txt'), 'x\n');
    assert.equal((await put({ action_type: 'add', files: ['scratch.txt'] })).body.git_branch.error, null);
    assert.ok((await put({ action_type: 'status' })).body.git_branch.staged_files.includes('scratch.txt'));
    assert.equal((await put({ action_type: 'reset', files: ['scratch.txt'] })).body.git_branch.error, null);
    assert.ok((await put({ action_type: 'status' })).body.git_branch.untracked_files.includes('scratch.txt'));
    await writeFile(join(t.projectDir, 'notes.txt'), 'changed\n');
    assert.equal((await put({ action_type: 'checkout', files: ['notes.txt'] })).body.git_branch.error, null);
    assert.ok(!(await put({ action_type: 'status' })).body.git_branch.modified_files.includes('notes.txt'));
    assert.match((await put({ action_type: 'add_remote', action_payload: { name: 'mage-repo', url: remote } })).body.git_branch.error, /reserved/);
    assert.match((await put({ action_type: 'add_remote', action_payload: { name: 'x' } })).body.git_branch.error, /missing name\/url/);
    assert.equal((await put({ action_type: 'add_remote', action_payload: { name: 'second', url: remote } })).body.git_branch.error, null);
    assert.equal((await put({ action_type: 'remove_remote', action_payload: { name: 'second' } })).body.git_branch.error, null);
    await runGit(['switch', '-q', '-c', 'side'], { cwd: t.projectDir });
    await writeFile(join(t.projectDir, 'side.txt'), 'side\n');
    await runGit(['add', 'side.txt'], { cwd: t.projectDir });
    await runGit(['commit', '-q', '-m', 'side'], { cwd: t.projectDir, env: ident });
    await runGit(['switch', '-q', branch], { cwd: t.projectDir });
    const m = await put({ action_type: 'merge', action_payload: { base_branch: 'side' }, message: 'merge side' });
    assert.equal(m.body.git_branch.error, null, m.body.git_branch.error);
    assert.match(await runGit(['log', '--format=%s', '-n', '3'], { cwd: t.projectDir }), /side/);
  });
});
