// The GitLab edge as the rest of Backplane sees it: what it asks of GitLab, and how GitLab fails.
import { BackplaneError } from '../errors';

/** What GitLab said of a token's quota in its last answer (RateLimit-* headers); null where it did not say. */
export interface RateLimitState {
  limit: number | null;
  remaining: number | null;
  /** When the current window ends (RateLimit-Reset). */
  resetAt: Date | null;
}

/**
 * How a call to GitLab failed, in words a person can act on:
 * - UNAUTHORIZED: 401, the token is invalid, revoked or expired;
 * - FORBIDDEN: 403; NOT_FOUND: 404 (or not visible to this token);
 * - RATE_LIMITED: 429, or the quota is spent (retryAfterMs says for how long);
 * - UNREACHABLE: no answer at all (connection refused, DNS, TLS);
 * - TIMEOUT: no answer in time; SERVER_ERROR: 5xx after the retries; BAD_RESPONSE: an answer that is not what GitLab sends;
 * - ABORTED: Backplane stopped waiting, since the work the call was for stopped (the service is stopping).
 */
export type GitLabFailure =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'RATE_LIMITED'
  | 'UNREACHABLE'
  | 'TIMEOUT'
  | 'SERVER_ERROR'
  | 'BAD_RESPONSE'
  | 'ABORTED';

/** A failed call to GitLab. Its message names the method, path and status, never a token. */
export class GitLabError extends BackplaneError {
  constructor(
    readonly failure: GitLabFailure,
    message: string,
    readonly details: {
      status?: number;
      retryAfterMs?: number;
      rateLimit?: RateLimitState;
      /** GitLab's own words in the answer's body (its message or error), short, tokens removed. */
      gitlabMessage?: string;
    } = {},
  ) {
    super(`GITLAB_${failure}`, message);
  }
}

export interface TokenInfo {
  active: boolean;
  revoked: boolean;
  /** YYYY-MM-DD, or null for a token that never expires. */
  expiresAt: string | null;
  scopes: string[];
}

export interface GitLabUser {
  id: number;
  username: string;
}

export interface GitLabGroup {
  id: number;
  fullPath: string;
}

export interface GitLabProject {
  id: number;
  /** path_with_namespace */
  fullPath: string;
  name: string;
}

/** One page of a list, and the page after it (null: this was the last). */
export interface Page<T> {
  items: T[];
  nextPage: number | null;
}

/** What a metadata backup reads of a project, page by page. */
export type ProjectList = 'branches' | 'tags' | 'issues' | 'mergeRequests';

/**
 * The metadata a backup keeps of a project, read page by page as GitLab sends it. The notes are
 * those of one issue or merge request, named by its iid.
 */
export type MetadataList = 'labels' | 'milestones' | 'issues' | 'issueNotes' | 'mergeRequests' | 'mergeRequestNotes' | 'releases';

/** The project's settings as a backup keeps them (raw: GitLab's JSON as sent), with the few Backplane acts on. */
export interface ProjectSettings {
  httpUrlToRepo: string;
  wikiEnabled: boolean;
  /** null for a repository without any branch. */
  defaultBranch: string | null;
  raw: Record<string, unknown>;
}

export interface GitLabNamespace {
  id: number;
  fullPath: string;
  /** 'group' or 'user'. */
  kind: string;
}

/** A project to create: in a namespace, empty; the settings are GitLab's names (description, visibility, wiki_enabled, ...). */
export interface NewProject {
  namespaceId: number;
  path: string;
  name: string;
  settings?: Record<string, unknown>;
}

export interface CreatedProject {
  id: number;
  fullPath: string;
  httpUrlToRepo: string;
}

/** What a restore writes into a new project, each one request; GitLab's parameter names. */
export interface NewLabel {
  name: string;
  color: string;
  description?: string | null;
}

export interface NewMilestone {
  title: string;
  description?: string | null;
  due_date?: string | null;
  start_date?: string | null;
}

export interface NewIssue {
  title: string;
  description?: string | null;
  labels?: string[];
  milestone_id?: number | null;
  confidential?: boolean;
  due_date?: string | null;
}

export interface NewRelease {
  tag_name: string;
  name?: string | null;
  description?: string | null;
  released_at?: string | null;
}
