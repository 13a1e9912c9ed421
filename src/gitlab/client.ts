// One client per credential: the few questions Backplane asks GitLab, answered in our types.
import { Gitlab } from '@gitbeaker/rest';
import { createRequester, type RequestObserver, type ResponseInfo } from './requester';
import { BackplaneError } from '../errors';
import {
  type CreatedProject,
  GitLabError,
  type GitLabGroup,
  type GitLabNamespace,
  type GitLabProject,
  type GitLabUser,
  type MetadataList,
  type NewIssue,
  type NewLabel,
  type NewMilestone,
  type NewProject,
  type NewRelease,
  type Page,
  type ProjectList,
  type ProjectSettings,
  type RateLimitState,
  type TokenInfo,
} from './types';

export interface GitLabAuth {
  /** The GitLab instance, e.g. https://gitlab.com (a trailing /api/v4 is tolerated). */
  baseUrl: string;
  token: string;
  /** A personal (or project/group) access token, or an OAuth access token. Default: personal. */
  kind?: 'personal' | 'oauth';
}

export interface GitLabClientOptions {
  /** What a 429 does: wait for Retry-After and try again, or fail at once with RATE_LIMITED (for a pool). */
  rateLimit?: 'wait' | 'fail';
  /** The most one HTTP attempt may take. */
  timeoutMs?: number;
  /** How long 5xx answers, connection errors and timeouts are retried before a call fails. */
  maxRetryMs?: number;
  onResponse?: (info: { status: number; rateLimit: RateLimitState }) => void;
  /** Told how each request ended (the metrics). */
  observer?: RequestObserver;
  /** Aborted: every call ends at once with ABORTED, waits and requests in flight included. */
  signal?: AbortSignal;
  /** Runs before each retry of a call; what it throws ends the call (a token no longer to be used). */
  beforeRetry?: () => Promise<void>;
}

/** What a credential pool needs of a client: the page-level calls, one HTTP request each. */
export interface GitLabPageClient {
  groupProjectsPage(groupId: number, page: number, perPage?: number): Promise<Page<GitLabProject>>;
  descendantGroupsPage(groupId: number, page: number, perPage?: number): Promise<Page<GitLabGroup>>;
  project(id: number): Promise<GitLabProject>;
  projectListPage(list: ProjectList, projectId: number, page: number, perPage?: number): Promise<Page<unknown>>;
}

export const DEFAULT_PER_PAGE = 100;

/** What GitLab's 400 on POST /projects says of a path or name in use, among its field errors. */
const TAKEN = /has already been taken/;

// The slice of gitbeaker's resources used here. Its generic signatures (camelize, showExpanded,
// pagination) add nothing once answers are mapped to our own types below.
type Call = (...args: unknown[]) => Promise<unknown>;
interface Api {
  PersonalAccessTokens: { show: Call };
  Users: { showCurrentUser: Call };
  Namespaces: { show: Call };
  Groups: { show: Call; allProjects: Call; allDescendantGroups: Call };
  Projects: { show: Call; create: Call };
  Branches: { all: Call };
  Tags: { all: Call };
  Issues: { all: Call; create: Call; edit: Call };
  MergeRequests: { all: Call };
  ProjectLabels: { all: Call; create: Call };
  ProjectMilestones: { all: Call; create: Call; edit: Call };
  IssueNotes: { all: Call; create: Call };
  MergeRequestNotes: { all: Call };
  ProjectReleases: { all: Call; create: Call };
}

type Raw = Record<string, unknown>;

export class GitLabClient implements GitLabPageClient {
  /** The instance's address, without a trailing slash, as named in messages. */
  readonly baseUrl: string;
  // Private fields, so that neither JSON nor util.inspect of a client shows anything token-bearing.
  #api: Api;
  #requests = 0;
  #rateLimit: RateLimitState = { limit: null, remaining: null, resetAt: null };

  constructor(auth: GitLabAuth, options: GitLabClientOptions = {}) {
    this.baseUrl = auth.baseUrl.replace(/\/+$/, '').replace(/\/api\/v4$/, '');
    const requesterFn = createRequester({
      rateLimit: options.rateLimit ?? 'wait',
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      ...(options.maxRetryMs !== undefined && { maxRetryMs: options.maxRetryMs }),
      ...(options.signal !== undefined && { signal: options.signal }),
      ...(options.beforeRetry !== undefined && { beforeRetry: options.beforeRetry }),
      ...(options.observer !== undefined && { observer: options.observer }),
      onAttempt: () => {
        this.#requests += 1;
      },
      onResponse: (info: ResponseInfo) => {
        this.#rateLimit = info.rateLimit;
        options.onResponse?.({ status: info.status, rateLimit: info.rateLimit });
      },
    });
    const common = {
      host: this.baseUrl,
      requesterFn,
      // No client-side limiter (gitbeaker's default is one per endpoint glob): GitLab's own
      // answers pace us. No whole-call timeout either: ours is per attempt, in the requester.
      rateLimits: {},
      queryTimeout: null,
    };
    const gitlab = auth.kind === 'oauth' ? new Gitlab({ ...common, oauthToken: auth.token }) : new Gitlab({ ...common, token: auth.token });
    this.#api = gitlab as unknown as Api;
  }

  /** HTTP requests this client made, each attempt counted. */
  get requests(): number {
    return this.#requests;
  }

  /** What GitLab said of this token's quota in its last answer. */
  get rateLimit(): RateLimitState {
    return this.#rateLimit;
  }

  async tokenSelf(): Promise<TokenInfo> {
    const raw = object(await this.#api.PersonalAccessTokens.show(), 'GET /personal_access_tokens/self');
    const scopes = raw.scopes;
    return {
      active: raw.active !== false,
      revoked: raw.revoked === true,
      expiresAt: typeof raw.expires_at === 'string' ? raw.expires_at : null,
      scopes: Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : [],
    };
  }

  async currentUser(): Promise<GitLabUser> {
    return toUser(object(await this.#api.Users.showCurrentUser(), 'GET /user'), 'GET /user');
  }

  async group(fullPath: string): Promise<GitLabGroup> {
    const what = `GET /groups/${fullPath}`;
    return toGroup(object(await this.#api.Groups.show(fullPath), what), what);
  }

  /** Projects of a group and of all its subgroups, oldest first, so that pages stay stable while projects are added. */
  async groupProjectsPage(groupId: number, page: number, perPage = DEFAULT_PER_PAGE): Promise<Page<GitLabProject>> {
    const what = `GET /groups/${groupId}/projects`;
    const answer = await this.#api.Groups.allProjects(groupId, {
      includeSubgroups: true,
      // Projects shared into the group from elsewhere belong to another group's backup.
      withShared: false,
      orderBy: 'id',
      sort: 'asc',
      simple: true,
      ...paging(page, perPage),
    });
    return toPage(answer, what, (raw) => toProject(raw, what));
  }

  async descendantGroupsPage(groupId: number, page: number, perPage = DEFAULT_PER_PAGE): Promise<Page<GitLabGroup>> {
    const what = `GET /groups/${groupId}/descendant_groups`;
    const answer = await this.#api.Groups.allDescendantGroups(groupId, { orderBy: 'id', sort: 'asc', ...paging(page, perPage) });
    return toPage(answer, what, (raw) => toGroup(raw, what));
  }

  async project(id: number): Promise<GitLabProject> {
    const what = `GET /projects/${id}`;
    return toProject(object(await this.#api.Projects.show(id), what), what);
  }

  /** One page of a project's branches, tags, issues or merge requests, as GitLab sends them. */
  async projectListPage(list: ProjectList, projectId: number, page: number, perPage = DEFAULT_PER_PAGE): Promise<Page<unknown>> {
    const options = paging(page, perPage);
    let answer: unknown;
    let what: string;
    switch (list) {
      case 'branches':
        what = `GET /projects/${projectId}/repository/branches`;
        answer = await this.#api.Branches.all(projectId, options);
        break;
      case 'tags':
        what = `GET /projects/${projectId}/repository/tags`;
        answer = await this.#api.Tags.all(projectId, options);
        break;
      case 'issues':
        what = `GET /projects/${projectId}/issues`;
        answer = await this.#api.Issues.all({ projectId, orderBy: 'created_at', sort: 'asc', ...options });
        break;
      case 'mergeRequests':
        what = `GET /projects/${projectId}/merge_requests`;
        answer = await this.#api.MergeRequests.all({ projectId, orderBy: 'created_at', sort: 'asc', ...options });
        break;
    }
    return toPage(answer, what, (raw) => raw);
  }

  /** The project as GitLab describes it, settings included, for a backup to keep. */
  async projectSettings(id: number): Promise<ProjectSettings> {
    const what = `GET /projects/${id}`;
    const raw = object(await this.#api.Projects.show(id), what);
    const defaultBranch = raw.default_branch;
    return {
      httpUrlToRepo: text(raw, 'http_url_to_repo', what),
      wikiEnabled: raw.wiki_enabled === true,
      defaultBranch: typeof defaultBranch === 'string' && defaultBranch !== '' ? defaultBranch : null,
      raw,
    };
  }

  /**
   * One page of a project's metadata, each item GitLab's JSON as sent. Issues, merge requests,
   * notes and releases come oldest first (GitLab's default is newest first), so that what is
   * added while a backup pages through them lands on the last page instead of shifting the
   * others; issues and merge requests in every state, GitLab's default. parentIid: the issue's
   * or merge request's iid, for their notes.
   */
  async metadataPage(list: MetadataList, projectId: number, page: number, perPage = DEFAULT_PER_PAGE, parentIid?: number): Promise<Page<Raw>> {
    const options = paging(page, perPage);
    const oldestFirst = { orderBy: 'created_at', sort: 'asc' };
    let answer: unknown;
    let what: string;
    switch (list) {
      case 'labels':
        what = `GET /projects/${projectId}/labels`;
        answer = await this.#api.ProjectLabels.all(projectId, options);
        break;
      case 'milestones':
        what = `GET /projects/${projectId}/milestones`;
        answer = await this.#api.ProjectMilestones.all(projectId, options);
        break;
      case 'issues':
        what = `GET /projects/${projectId}/issues`;
        answer = await this.#api.Issues.all({ projectId, ...oldestFirst, ...options });
        break;
      case 'mergeRequests':
        what = `GET /projects/${projectId}/merge_requests`;
        answer = await this.#api.MergeRequests.all({ projectId, ...oldestFirst, ...options });
        break;
      case 'issueNotes':
        what = `GET /projects/${projectId}/issues/${iidOf(list, parentIid)}/notes`;
        answer = await this.#api.IssueNotes.all(projectId, iidOf(list, parentIid), { ...oldestFirst, ...options });
        break;
      case 'mergeRequestNotes':
        what = `GET /projects/${projectId}/merge_requests/${iidOf(list, parentIid)}/notes`;
        answer = await this.#api.MergeRequestNotes.all(projectId, iidOf(list, parentIid), { ...oldestFirst, ...options });
        break;
      case 'releases':
        what = `GET /projects/${projectId}/releases`;
        answer = await this.#api.ProjectReleases.all(projectId, { ...oldestFirst, ...options });
        break;
    }
    return toPage(answer, what, (raw) => raw);
  }

  // The restore's writes: one HTTP request each, GitLab's answer mapped to what the restore needs next.

  /** GET /projects/:path: the project there, or null when there is none this token can see. */
  async findProject(fullPath: string): Promise<GitLabProject | null> {
    const what = `GET /projects/${fullPath}`;
    try {
      return toProject(object(await this.#api.Projects.show(fullPath), what), what);
    } catch (error) {
      if (error instanceof GitLabError && error.failure === 'NOT_FOUND') return null;
      throw error;
    }
  }

  /** GET /namespaces/:id_or_path: a group (or user) a project can be created in. */
  async namespace(fullPath: string): Promise<GitLabNamespace> {
    const what = `GET /namespaces/${fullPath}`;
    const raw = object(await this.#api.Namespaces.show(fullPath), what);
    return { id: id(raw, what), fullPath: text(raw, 'full_path', what), kind: text(raw, 'kind', what) };
  }

  /**
   * POST /projects: a new, empty project. A path or name in use is GitLab's 400 'has already
   * been taken', answered CONFLICT: a restore never writes into a project that exists.
   */
  async createProject(project: NewProject): Promise<CreatedProject> {
    const what = 'POST /projects';
    let raw: Raw;
    try {
      raw = object(await this.#api.Projects.create({ ...project.settings, namespace_id: project.namespaceId, path: project.path, name: project.name }), what);
    } catch (error) {
      if (error instanceof GitLabError && error.details.status === 400 && TAKEN.test(error.details.gitlabMessage ?? '')) {
        throw new BackplaneError('CONFLICT', `a project named ${project.path} exists in the namespace: a restore never overwrites a project`);
      }
      throw error;
    }
    return { id: id(raw, what), fullPath: text(raw, 'path_with_namespace', what), httpUrlToRepo: text(raw, 'http_url_to_repo', what) };
  }

  async createLabel(projectId: number, label: NewLabel): Promise<{ id: number }> {
    const what = `POST /projects/${projectId}/labels`;
    const { name, color, ...rest } = label;
    return { id: id(object(await this.#api.ProjectLabels.create(projectId, name, color, rest), what), what) };
  }

  async createMilestone(projectId: number, milestone: NewMilestone): Promise<{ id: number }> {
    const what = `POST /projects/${projectId}/milestones`;
    const { title, ...rest } = milestone;
    return { id: id(object(await this.#api.ProjectMilestones.create(projectId, title, rest), what), what) };
  }

  async createIssue(projectId: number, issue: NewIssue): Promise<{ id: number; iid: number }> {
    const what = `POST /projects/${projectId}/issues`;
    const { title, labels, ...rest } = issue;
    const raw = object(await this.#api.Issues.create(projectId, title, { ...rest, ...(labels && { labels: labels.join(',') }) }), what);
    const iid = raw.iid;
    if (typeof iid !== 'number' || !Number.isInteger(iid)) throw badResponse(what, 'the issue has no iid');
    return { id: id(raw, what), iid };
  }

  async createIssueNote(projectId: number, issueIid: number, body: string, internal = false): Promise<{ id: number }> {
    const what = `POST /projects/${projectId}/issues/${issueIid}/notes`;
    return { id: id(object(await this.#api.IssueNotes.create(projectId, issueIid, body, internal ? { internal: true } : {}), what), what) };
  }

  /** PUT /projects/:id/issues/:iid with state_event close or reopen. */
  async setIssueState(projectId: number, issueIid: number, event: 'close' | 'reopen'): Promise<void> {
    object(await this.#api.Issues.edit(projectId, issueIid, { stateEvent: event }), `PUT /projects/${projectId}/issues/${issueIid}`);
  }

  /** PUT /projects/:id/milestones/:milestone_id with state_event close or activate. */
  async setMilestoneState(projectId: number, milestoneId: number, event: 'close' | 'activate'): Promise<void> {
    object(await this.#api.ProjectMilestones.edit(projectId, milestoneId, { stateEvent: event }), `PUT /projects/${projectId}/milestones/${milestoneId}`);
  }

  async createRelease(projectId: number, release: NewRelease): Promise<{ tagName: string }> {
    const what = `POST /projects/${projectId}/releases`;
    return { tagName: text(object(await this.#api.ProjectReleases.create(projectId, release), what), 'tag_name', what) };
  }
}

/** The iid a list of notes hangs on; a call without one is a mistake of the caller, not of GitLab. */
function iidOf(list: MetadataList, parentIid: number | undefined): number {
  if (parentIid === undefined || !Number.isInteger(parentIid) || parentIid < 1) throw new RangeError(`${list} needs the iid of its parent, got ${parentIid}`);
  return parentIid;
}

// With `page` given, gitbeaker asks for that page alone instead of following the Link header;
// showExpanded returns the page's pagination headers with it.
function paging(page: number, perPage: number) {
  return { page, perPage, showExpanded: true };
}

function toPage<T>(answer: unknown, what: string, map: (raw: Raw) => T): Page<T> {
  const expanded = answer as { data?: unknown; paginationInfo?: { next?: unknown } } | null;
  if (!expanded || !Array.isArray(expanded.data)) throw badResponse(what, 'a list was expected');
  const next = expanded.paginationInfo?.next;
  return {
    items: expanded.data.map((item) => map(object(item, what))),
    nextPage: typeof next === 'number' && Number.isInteger(next) && next > 0 ? next : null,
  };
}

function object(value: unknown, what: string): Raw {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badResponse(what, 'an object was expected');
  return value as Raw;
}

function toUser(raw: Raw, what: string): GitLabUser {
  return { id: id(raw, what), username: text(raw, 'username', what) };
}

function toGroup(raw: Raw, what: string): GitLabGroup {
  return { id: id(raw, what), fullPath: text(raw, 'full_path', what) };
}

function toProject(raw: Raw, what: string): GitLabProject {
  return { id: id(raw, what), fullPath: text(raw, 'path_with_namespace', what), name: text(raw, 'name', what) };
}

function id(raw: Raw, what: string): number {
  const value = raw.id;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw badResponse(what, 'an item has no numeric id');
  return value;
}

function text(raw: Raw, field: string, what: string): string {
  const value = raw[field];
  if (typeof value !== 'string') throw badResponse(what, `an item has no ${field}`);
  return value;
}

function badResponse(what: string, why: string): GitLabError {
  return new GitLabError('BAD_RESPONSE', `GitLab's answer to ${what} is not what GitLab sends: ${why}`);
}
