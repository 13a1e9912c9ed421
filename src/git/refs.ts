import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runGit } from './run';

export interface GitRef {
  name: string;
  sha: string;
}

/** Every ref of a repository, by name; HEAD is not one (it names a branch, see headOf). */
export async function listRefs(dir: string): Promise<GitRef[]> {
  const { stdout } = await runGit(['for-each-ref', '--format=%(objectname) %(refname)'], { gitDir: dir, operation: `listing the refs of ${dir}` });
  return parseRefLines(stdout.toString('utf8'));
}

/** Lines of `<sha> <name>` (or a tab between), as for-each-ref, ls-remote and bundle list-heads write them. */
export function parseRefLines(text: string): GitRef[] {
  const refs: GitRef[] = [];
  for (const line of text.split('\n')) {
    const match = line.match(/^([0-9a-f]{40,64})[ \t](\S+)$/);
    // ls-remote also lists what an annotated tag points to, as `<tag>^{}`: not a ref.
    if (match && !match[2].endsWith('^{}')) refs.push({ sha: match[1], name: match[2] });
  }
  return refs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function sameRefs(a: GitRef[], b: GitRef[]): boolean {
  return a.length === b.length && a.every((ref, index) => ref.name === b[index].name && ref.sha === b[index].sha);
}

/**
 * The refs of a repository whose every ref sits in its packed-refs file, as a fresh clone leaves
 * them, read without starting git (each git process costs a fork of this large one). Null when
 * any ref is loose, or the file is missing or not in the format git documents (gitrepository-layout):
 * the caller then asks git.
 */
export async function packedRefsOnly(dir: string): Promise<GitRef[] | null> {
  if (await holdsAnyFile(join(dir, 'refs'))) return null;
  let text: string;
  try {
    text = await readFile(join(dir, 'packed-refs'), 'utf8');
  } catch {
    return null;
  }
  const refs: GitRef[] = [];
  for (const line of text.split('\n')) {
    // The header names the file's traits; `^` lines are what the annotated tag above peels to.
    if (line === '' || line.startsWith('# pack-refs with:') || /^\^[0-9a-f]{40,64}$/.test(line)) continue;
    const match = line.match(/^([0-9a-f]{40,64}) (refs\/\S+)$/);
    if (!match) return null;
    refs.push({ sha: match[1], name: match[2] });
  }
  return refs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Whether the folder, or one below it, holds anything but folders (a folder that is not there holds nothing). */
async function holdsAnyFile(folder: string): Promise<boolean> {
  let entries: Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    return true;
  }
  for (const entry of entries) if (!entry.isDirectory() || (await holdsAnyFile(join(folder, entry.name)))) return true;
  return false;
}

/**
 * The ref HEAD names, read from the HEAD file without starting git: null when HEAD is not the
 * plain symbolic ref of the files backend (detached, or another format), where git is asked instead.
 */
export async function symbolicHead(dir: string): Promise<string | null> {
  const text = await readFile(join(dir, 'HEAD'), 'utf8').catch(() => '');
  return text.match(/^ref: (refs\/heads\/\S+)\n?$/)?.[1] ?? null;
}
