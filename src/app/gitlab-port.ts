import type { TokenCheck } from '../domain/verification';
import type { OAuthApplication, OAuthTokens } from '../gitlab/oauth';
import type {
  CreatedProject,
  GitLabGroup,
  GitLabNamespace,
  GitLabProject,
  MetadataList,
  NewIssue,
  NewLabel,
  NewMilestone,
  NewProject,
  NewRelease,
  Page,
  ProjectList,
  ProjectSettings,
  RateLimitState,
} from '../gitlab/types';

/** A personal (or group/project) access token, or the access token of an OAuth authorization (SSO). */
export type TokenKind = 'personal' | 'oauth';

/** What the use cases ask of GitLab with one token: checks and page-by-page reads. */
export interface GitLabSession {
  groupProjectsPage(groupId: number, page: number, perPage?: number): Promise<Page<GitLabProject>>;
  descendantGroupsPage(groupId: number, page: number, perPage?: number): Promise<Page<GitLabGroup>>;
  project(id: number): Promise<GitLabProject>;
  projectListPage(list: ProjectList, projectId: number, page: number, perPage?: number): Promise<Page<unknown>>;
  /** GET /projects/:id: the settings a backup keeps; BAD_RESPONSE when GitLab names no repository URL. */
  projectSettings(id: number): Promise<ProjectSettings>;
  /** One page of labels, milestones, issues, merge requests, their notes (parentIid: the issue's or merge request's iid) or releases, as GitLab sent them. */
  metadataPage(list: MetadataList, projectId: number, page: number, perPage?: number, parentIid?: number): Promise<Page<Record<string, unknown>>>;
  /**
   * Brings the bare mirror in `dir` up to the repository at `url` (every ref, pruned), creating
   * it when missing, with the session's token; its git HTTP requests count in `requests`.
   * Aborted by `signal` (or the session's own), git is stopped and the call ends with ABORTED.
   */
  fetchMirror(target: { url: string; dir: string; signal?: AbortSignal }): Promise<{ refs: { name: string; sha: string }[] }>;
  /** HTTP requests made, API and git, each attempt counted. */
  readonly requests: number;
  /** GET /user: whose the token is. */
  currentUser(): Promise<{ id: number; username: string }>;
  /** GET /namespaces/:id_or_path. */
  namespace(fullPath: string): Promise<GitLabNamespace>;
  /** POST /projects: a new, empty project; CONFLICT when its path or name is taken in the namespace. */
  createProject(project: NewProject): Promise<CreatedProject>;
  createLabel(projectId: number, label: NewLabel): Promise<{ id: number }>;
  createMilestone(projectId: number, milestone: NewMilestone): Promise<{ id: number }>;
  createIssue(projectId: number, issue: NewIssue): Promise<{ id: number; iid: number }>;
  /** internal: seen by project members only, as the original note was. */
  createIssueNote(projectId: number, issueIid: number, body: string, internal?: boolean): Promise<{ id: number }>;
  createRelease(projectId: number, release: NewRelease): Promise<{ tagName: string }>;
  setIssueState(projectId: number, issueIid: number, event: 'close' | 'reopen'): Promise<void>;
  setMilestoneState(projectId: number, milestoneId: number, event: 'close' | 'activate'): Promise<void>;
  /**
   * Pushes the branches, tags and notes of the repository in `dir` to the empty repository at
   * `url`, all or none, with the session's token; refused when it has refs. leftOut: the refs
   * GitLab keeps for itself (merge requests', ...), not sent.
   */
  pushMirror(source: { dir: string; url: string }): Promise<{ pushed: { name: string; sha: string }[]; leftOut: string[] }>;
  /** pushMirror of a git bundle's content, cloned first into `dir` (which must not exist, and is removed after). */
  pushBundle(source: { file: string; dir: string; url: string }): Promise<{ pushed: { name: string; sha: string }[]; leftOut: string[] }>;
  /** GET /projects/:path; null when GitLab has none there that the token can see. */
  findProject(fullPath: string): Promise<GitLabProject | null>;
}

export interface SessionOptions {
  /** 'fail': a 429 is thrown at once (a pool switches credentials); 'wait': Retry-After is honoured. */
  rateLimit?: 'wait' | 'fail';
  onResponse?: (info: { status: number; rateLimit: RateLimitState }) => void;
  /** Aborted: the session's calls end at once (GitLabError ABORTED), however long GitLab asked to wait. */
  signal?: AbortSignal;
  /** Runs before each retry of a call (5xx, timeout, 429 in 'wait' mode); what it throws ends the call. */
  beforeRetry?: () => Promise<void>;
}

/**
 * GitLab as the built-in device "local" reaches it. Tokens come in from the password manager
 * for the call and are kept nowhere else.
 */
export interface GitLabPort {
  /**
   * Never throws for GitLab's refusals or silence: they are outcomes, with reasons. An OAuth token
   * answers for whoever signed in: its check names that user (login) rather than comparing it;
   * its scopes are those the authorization granted, as the caller knows them.
   */
  checkToken(target: {
    gitlabUrl: string;
    token: string;
    kind?: TokenKind;
    login: string | null;
    groupPath: string;
    scopes?: string[];
  }): Promise<TokenCheck & { login?: string }>;
  /** login: whose token it is, when known (it labels the metrics of its requests). */
  session(target: { gitlabUrl: string; token: string; kind?: TokenKind; login?: string | null }, options?: SessionOptions): GitLabSession;
  /** GitLab's token endpoint; throws OAuthGrantError when GitLab refuses or does not answer. */
  exchangeCode(target: { gitlabUrl: string; app: OAuthApplication; code: string; redirectUri: string; verifier: string }): Promise<OAuthTokens>;
  refreshTokens(target: { gitlabUrl: string; app: OAuthApplication; refreshToken: string }): Promise<OAuthTokens>;
}
