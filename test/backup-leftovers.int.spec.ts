import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweepLeftovers } from '../src/backup-leftovers';

const HOUR = 60 * 60_000;

describe('the sweep of leftovers in the backups folder', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'backplane-leftovers-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** Writes the file (and its folders) and dates it, and its folders, `ageMs` back. */
  async function file(path: string, ageMs: number): Promise<string> {
    const full = join(root, path);
    await mkdir(join(full, '..'), { recursive: true });
    await writeFile(full, 'x');
    const at = new Date(Date.now() - ageMs);
    for (let at_ = full; at_.startsWith(root) && at_ !== root; at_ = join(at_, '..')) await utimes(at_, at, at);
    return full;
  }

  it('removes old scratch folders, half-made mirrors and half-written objects, and nothing else', async () => {
    await file('scratch/bundle-old/repository.bundle', 3 * HOUR);
    await file('scratch/restore-new/repository.bundle', 5 * 60_000);
    await file('mirrors/t1/.abc123.building/HEAD', 3 * HOUR);
    await file('mirrors/t1/repository-1/HEAD', 3 * HOUR);
    await file('storage/t1/ab/~tmp-0123456789abcdef', 3 * HOUR);
    await file('storage/t1/ab/~tmp-fedcba9876543210', 60_000);
    await file('storage/t1/ab/abcdef', 3 * HOUR);

    expect(await sweepLeftovers(root, 2 * HOUR)).toBe(3);

    expect(await readdir(join(root, 'scratch'))).toEqual(['restore-new']);
    expect(await readdir(join(root, 'mirrors/t1'))).toEqual(['repository-1']);
    expect((await readdir(join(root, 'storage/t1/ab'))).sort()).toEqual(['abcdef', '~tmp-fedcba9876543210']);
  });

  it('keeps a scratch folder whose folder is old but whose files are being written', async () => {
    await file('scratch/bundle-busy/repository.bundle', 3 * HOUR);
    // The bundle grows now: the folder's own date says nothing of it.
    await writeFile(join(root, 'scratch/bundle-busy/repository.bundle'), 'more');
    expect(await sweepLeftovers(root, 2 * HOUR)).toBe(0);
    expect(await readdir(join(root, 'scratch'))).toEqual(['bundle-busy']);
  });

  it('finds nothing to do in a backups folder that does not exist yet', async () => {
    expect(await sweepLeftovers(join(root, 'none'), HOUR)).toBe(0);
  });
});
