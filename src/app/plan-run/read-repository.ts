import type { RepositoryCounts } from '../../domain/task';
import type { ProjectList } from '../../gitlab/types';
import type { RepositoryView } from '../../queries/repositories';
import type { GitLabSession } from '../gitlab-port';

const LISTS: ProjectList[] = ['branches', 'tags', 'issues', 'mergeRequests'];
/** GitLab's largest page: the fewest requests for a list. */
const PER_PAGE = 100;

/** Sends one request with whichever member the run hands it. */
export type Call = <T>(send: (session: GitLabSession) => Promise<T>) => Promise<T>;

/** What a run reads of a repository on GitLab: the project, then every page of each list it counts. */
export async function readRepository(repository: RepositoryView, call: Call): Promise<RepositoryCounts> {
  await call((session) => session.project(repository.gitlabId));
  const found: RepositoryCounts = { branches: 0, tags: 0, issues: 0, mergeRequests: 0 };
  for (const list of LISTS) {
    for (let page: number | null = 1; page !== null; ) {
      const at: number = page;
      const answer = await call((session) => session.projectListPage(list, repository.gitlabId, at, PER_PAGE));
      found[list] += answer.items.length;
      page = answer.nextPage;
    }
  }
  return found;
}
