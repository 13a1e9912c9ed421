import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleRefs, bundleStream, bundleTo, checkRepository, cloneBundle, verifyBundle } from '../../src/git/bundle';
import { GitError } from '../../src/git/errors';
import { fetchMirror } from '../../src/git/mirror';
import { pushMirror } from '../../src/git/push';
import { listRefs, packedRefsOnly } from '../../src/git/refs';
import { GitLabError } from '../../src/gitlab/types';
import { GitLabDouble } from '../support/gitlab-double';

describe('bundles, and a push of one into a new project', () => {
  let double: GitLabDouble;
  let token: string;
  let work: string;
  let mirror: string;
  let feature: string;

  beforeAll(async () => {
    double = await GitLabDouble.start();
    double.addUser('alice');
    token = double.addToken('alice');
    double.addGroup('acme', { members: ['alice'] });
    const project = double.addProject('acme', 'web');
    work = mkdtempSync(join(tmpdir(), 'git-bundle-spec-'));
    mirror = join(work, 'web.git');
    // Several fetches of a few objects each, which git keeps loose: the case where delta search runs at bundling.
    for (let i = 0; i < 6; i++) {
      await double.commit(project.id, { files: { 'README.md': `# web ${i}\n${'line\n'.repeat(50 * i)}`, [`src/${i}.ts`]: `export const n = ${i};\n` } });
      await fetchMirror({ url: `${double.url}/acme/web.git`, dir: mirror, token });
    }
    feature = await double.commit(project.id, { branch: 'feature', files: { 'a.txt': 'a\n' } });
    await double.tag(project.id, 'v1.0');
    await double.setRef(project.id, 'refs/merge-requests/1/head', feature);
    await double.setRef(project.id, 'refs/pipelines/7', feature);
    await double.setRef(project.id, 'refs/notes/commits', feature);
    await fetchMirror({ url: `${double.url}/acme/web.git`, dir: mirror, token });
  });

  afterAll(async () => {
    await double.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('bundles every ref, and a clone of the bundle has the same refs, HEAD, and passes fsck', async () => {
    const file = join(work, 'web.bundle');
    const made = await bundleTo(mirror, file);
    const refs = await listRefs(mirror);
    expect(made).toEqual({ refs });
    expect(refs.map((ref) => ref.name)).toEqual(
      expect.arrayContaining(['refs/heads/main', 'refs/heads/feature', 'refs/tags/v1.0', 'refs/merge-requests/1/head', 'refs/pipelines/7']),
    );
    await verifyBundle(file);
    expect((await bundleRefs(file)).filter((ref) => ref.name !== 'HEAD')).toEqual(refs);

    const clone = join(work, 'clone.git');
    await cloneBundle(file, clone);
    expect(await listRefs(clone)).toEqual(refs);
    expect(readFileSync(join(clone, 'HEAD'), 'utf8').trim()).toBe('ref: refs/heads/main');
    await checkRepository(clone);
    const log = execFileSync('git', ['log', '--format=%s', 'refs/heads/main'], { env: { PATH: process.env.PATH, GIT_DIR: clone } }).toString();
    expect(log.trim().split('\n')).toHaveLength(6);
  });

  it('bundles a fresh clone with the header git writes and the pack the clone fetched, as it is; once fetched into, git bundles it', async () => {
    const fresh = join(work, 'first-clone.git');
    await fetchMirror({ url: `${double.url}/acme/web.git`, dir: fresh, token });
    const refs = await listRefs(fresh);
    // A clone packs every ref: they are read without git.
    expect(await packedRefsOnly(fresh)).toEqual(refs);
    const ours = join(work, 'fresh.bundle');
    expect(await bundleTo(fresh, ours)).toEqual({ refs });
    const packs = readdirSync(join(fresh, 'objects', 'pack')).filter((name) => name.endsWith('.pack'));
    expect(packs).toHaveLength(1);
    const bytes = readFileSync(ours);
    const pack = readFileSync(join(fresh, 'objects', 'pack', packs[0]));
    expect(bytes.subarray(bytes.length - pack.length).equals(pack)).toBe(true);
    // What git itself writes for the same repository.
    const theirs = join(work, 'fresh-by-git.bundle');
    execFileSync('git', ['-c', 'pack.threads=1', 'bundle', 'create', '--quiet', theirs, '--all'], { env: { PATH: process.env.PATH, GIT_DIR: fresh } });
    const byGit = readFileSync(theirs);
    const headerOf = (bundle: Buffer) => bundle.subarray(0, bundle.indexOf('\n\n') + 2).toString('utf8');
    expect(headerOf(bytes)).toBe(headerOf(byGit));
    await verifyBundle(ours);
    const clone = join(work, 'fresh-clone.git');
    await cloneBundle(ours, clone);
    expect(await listRefs(clone)).toEqual(refs);
    expect(readFileSync(join(clone, 'HEAD'), 'utf8').trim()).toBe('ref: refs/heads/main');
    await checkRepository(clone);
    // The same objects as the mirror holds; their order and deltas in the pack are the server's.
    const objectsOf = (gitDir: string) =>
      execFileSync('git', ['cat-file', '--batch-all-objects', '--batch-check'], { env: { PATH: process.env.PATH, GIT_DIR: gitDir } }).toString();
    expect(objectsOf(clone)).toBe(objectsOf(fresh));

    // A fetch brings a second pack and loose refs: git reads the refs, and git makes the bundle.
    const project = double.addProject('acme', 'later');
    const later = join(work, 'later.git');
    await double.commit(project.id, { files: { 'a.txt': 'a\n' } });
    await fetchMirror({ url: `${double.url}/acme/later.git`, dir: later, token });
    await double.commit(project.id, { files: { 'b.txt': 'b\n' } });
    await fetchMirror({ url: `${double.url}/acme/later.git`, dir: later, token });
    expect(await packedRefsOnly(later)).toBeNull();
    const laterBundle = join(work, 'later.bundle');
    expect(await bundleTo(later, laterBundle)).toEqual({ refs: await listRefs(later) });
    const laterClone = join(work, 'later-clone.git');
    await cloneBundle(laterBundle, laterClone);
    expect(await listRefs(laterClone)).toEqual(await listRefs(later));
    await checkRepository(laterClone);
  });

  it('makes byte-identical bundles of an unchanged mirror', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((name) => join(work, `${name}.bundle`));
    for (const file of [a, b, c]) await bundleTo(mirror, file);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).equals(readFileSync(c))).toBe(true);
  });

  it('streams the same bytes as it writes to a file', async () => {
    const file = join(work, 'file.bundle');
    await bundleTo(mirror, file);
    const stream = await bundleStream(mirror);
    const chunks: Buffer[] = [];
    for await (const chunk of stream!.stdout) chunks.push(chunk as Buffer);
    await stream!.done;
    expect(Buffer.concat(chunks).equals(readFileSync(file))).toBe(true);
    expect(stream!.refs).toEqual(await listRefs(mirror));
  });

  it('makes no bundle of a repository without refs', async () => {
    const empty = join(work, 'empty.git');
    execFileSync('git', ['init', '--quiet', '--bare', empty]);
    expect(await bundleTo(empty, join(work, 'empty.bundle'))).toBeNull();
    expect(await bundleStream(empty)).toBeNull();
    expect(existsSync(join(work, 'empty.bundle'))).toBe(false);
  });

  it('finds a file that is not a bundle, or a cut one', async () => {
    const junk = join(work, 'junk.bundle');
    writeFileSync(junk, 'not a bundle\n');
    await expect(verifyBundle(junk)).rejects.toBeInstanceOf(GitError);
    const whole = readFileSync(join(work, 'a.bundle'));
    const cut = join(work, 'cut.bundle');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    await expect(cloneBundle(cut, join(work, 'cut.git'))).rejects.toBeInstanceOf(GitError);
  });

  it('pushes branches, tags and notes into an empty project, and names the refs GitLab keeps to itself as left out', async () => {
    const file = join(work, 'restore.bundle');
    await bundleTo(mirror, file);
    const restoredFrom = join(work, 'restore.git');
    await cloneBundle(file, restoredFrom);
    const target = double.addProject('acme', 'web-restored');
    const url = `${double.url}/${target.fullPath}.git`;
    double.resetRequests();
    const result = await pushMirror({ dir: restoredFrom, url, token });
    expect(result.leftOut.sort()).toEqual(['refs/merge-requests/1/head', 'refs/pipelines/7']);
    expect(result.pushed.map((ref) => ref.name)).toEqual(['refs/heads/feature', 'refs/heads/main', 'refs/notes/commits', 'refs/tags/v1.0']);
    expect(double.requests.length).toBeGreaterThan(0);
    expect(double.requests.every((request) => request.username === 'alice')).toBe(true);

    const fresh = await fetchMirror({ url, dir: join(work, 'fresh.git'), token });
    const source = await listRefs(mirror);
    const kept = (refs: { name: string }[]) => refs.filter((ref) => /^refs\/(heads|tags|notes)\//.test(ref.name));
    expect(fresh.refs).toEqual(kept(source));
    expect(fresh.head).toBe('main');
    await checkRepository(join(work, 'fresh.git'));
  });

  it('refuses to push into a project that has refs, and sends nothing', async () => {
    const target = double.addProject('acme', 'web-used');
    const before = await double.commit(target.id, { files: { 'kept.txt': 'kept\n' } });
    const url = `${double.url}/${target.fullPath}.git`;
    const error = await pushMirror({ dir: mirror, url, token }).catch((caught) => caught);
    expect(error).toBeInstanceOf(GitError);
    expect(error.message).toContain(`${url} is not empty`);
    const after = await fetchMirror({ url, dir: join(work, 'used.git'), token });
    expect(after.refs).toEqual([{ name: 'refs/heads/main', sha: before }]);
  });

  it('fails FORBIDDEN when the token may read but not write, with no token in the message', async () => {
    const reader = double.addToken('alice', { scopes: ['read_repository'] });
    const target = double.addProject('acme', 'web-readonly');
    const error = await pushMirror({ dir: mirror, url: `${double.url}/${target.fullPath}.git`, token: reader }).catch((caught) => caught);
    expect(error).toBeInstanceOf(GitLabError);
    expect(error.failure).toBe('FORBIDDEN');
    expect(error.message).toContain('acme/web-readonly.git');
    expect(error.message).not.toContain(reader);
  });
});
