import assert from 'node:assert/strict';
import { mkdtemp, readFile, realpath, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deployCommit, resolveDeployedTree } from './deployTree.js';
import { headSha, runGit } from './git.js';

const ident = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };

describe('deployCommit against a real bare remote', () => {
  let root: string;
  let remote: string;
  let work: string;
  const shas: string[] = [];

  async function commit(content: string): Promise<string> {
    await mkdir(join(work, 'pipelines', 'p'), { recursive: true });
    await writeFile(join(work, 'pipelines', 'p', 'metadata.yaml'), content);
    await runGit(['add', '-A'], { cwd: work });
    await runGit(['commit', '-q', '-m', content], { cwd: work, env: ident });
    await runGit(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    return (await headSha(work))!;
  }

  before(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), 'bf-deploy-')));
    remote = join(root, 'remote.git');
    work = join(root, 'work');
    await runGit(['init', '-q', '--bare', remote], { cwd: root });
    await runGit(['init', '-q', '-b', 'main', work], { cwd: root });
    await runGit(['remote', 'add', 'origin', remote], { cwd: work });
    shas.push(await commit('name: v1\n'));
    shas.push(await commit('name: v2\n'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const req = (sha: string) => ({
    remoteUrl: remote,
    headName: 'main',
    sha,
    stageBranch: 'deploy-main',
    deploymentsDir: join(root, 'data', 'deployments'),
    linkPath: join(root, 'served'),
  });
  const served = () => readFile(join(root, 'served', 'pipelines', 'p', 'metadata.yaml'), 'utf8');

  it('deploys a sha, deploys another, rolls back, and keeps the old tree for runs in flight', async () => {
    const a = await deployCommit(req(shas[1]!));
    assert.equal(a.ok, true, a.log);
    assert.equal(a.previousSha, null);
    assert.equal(await served(), 'name: v2\n');
    const inFlight = (await resolveDeployedTree(join(root, 'served')))!;

    const b = await deployCommit(req(shas[0]!));
    assert.equal(b.ok, true, b.log);
    assert.equal(b.previousSha, shas[1]);
    assert.equal(await served(), 'name: v1\n');
    assert.equal(await headSha(join(root, 'served')), shas[0]);
    // A run that resolved the tree before the switch still reads its version.
    assert.equal(await readFile(join(inFlight, 'pipelines', 'p', 'metadata.yaml'), 'utf8'), 'name: v2\n');
  });

  it('a missing sha fails with a log and the old version keeps serving', async () => {
    const before = await served();
    const r = await deployCommit(req('0123456789abcdef0123456789abcdef01234567'));
    assert.equal(r.ok, false);
    assert.match(r.error!, /does not exist/);
    assert.match(r.log, /keeps serving/);
    assert.equal(await served(), before);
  });

  it('a failed check or an unreachable remote switches nothing', async () => {
    const before = await served();
    const r = await deployCommit({ ...req(shas[1]!), check: async () => { throw new Error('pipeline metadata unreadable'); } });
    // shas[1]'s tree is already prepared, so the check runs on it and refuses the switch.
    assert.equal(r.ok, false);
    assert.match(r.error!, /unreadable/);
    assert.equal(await served(), before);
    const bad = await deployCommit({ ...req(shas[1]!), remoteUrl: join(root, 'nope.git') });
    assert.equal(bad.ok, false);
    assert.match(bad.error!, /fetch failed/);
    assert.equal(await served(), before);
  });

  it('refuses a target that is a real directory and a short sha', async () => {
    await mkdir(join(root, 'realdir'), { recursive: true });
    const r = await deployCommit({ ...req(shas[0]!), linkPath: join(root, 'realdir') });
    assert.equal(r.ok, false);
    assert.match(r.error!, /not a deploy symlink/);
    const s = await deployCommit(req(shas[0]!.slice(0, 8)));
    assert.equal(s.ok, false);
  });
});
