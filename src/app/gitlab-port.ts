import type { TokenCheck } from '../domain/verification';
import type { GitLabProject, Page, ProjectList, RateLimitState, GitLabGroup } from '../gitlab/types';

/** What the use cases ask of GitLab with one token: checks and page-by-page reads. */
export interface GitLabSession {
  groupProjectsPage(groupId: number, page: number, perPage?: number): Promise<Page<GitLabProject>>;
  descendantGroupsPage(groupId: number, page: number, perPage?: number): Promise<Page<GitLabGroup>>;
  project(id: number): Promise<GitLabProject>;
  projectListPage(list: ProjectList, projectId: number, page: number, perPage?: number): Promise<Page<unknown>>;
  readonly requests: number;
}

export interface SessionOptions {
  /** 'fail': a 429 is thrown at once (a pool switches credentials); 'wait': Retry-After is honoured. */
  rateLimit?: 'wait' | 'fail';
  onResponse?: (info: { status: number; rateLimit: RateLimitState }) => void;
}

/**
 * GitLab as the built-in device "local" reaches it. Tokens come in from the password manager
 * for the call and are kept nowhere else.
 */
export interface GitLabPort {
  /** Never throws for GitLab's refusals or silence: they are outcomes, with reasons. */
  checkToken(target: { gitlabUrl: string; token: string; login: string; groupPath: string }): Promise<TokenCheck>;
  session(target: { gitlabUrl: string; token: string }, options?: SessionOptions): GitLabSession;
}
