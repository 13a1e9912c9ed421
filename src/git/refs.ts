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
