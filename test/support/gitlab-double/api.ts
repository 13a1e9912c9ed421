/**
 * The /api/v4 endpoints the double serves, for a caller already authenticated. Anything not
 * visible to the caller answers 404, as GitLab hides what a user may not see.
 */
import type { Model, Token, User } from './model';
import { keysetPage, offsetPage, type Page } from './pagination';
import { groupJson, listOf, projectJson, tokenJson, userJson, type ProjectList } from './resources';

export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface ApiRequest {
  /** The path after /api/v4/, split on '/' and each segment decoded ('acme%2Fplatform' is one segment). */
  segments: string[];
  query: Record<string, string>;
  /** The double's URL and the request's path, for links. */
  baseUrl: string;
  linkBase: string;
  caller: { user: User; token: Token };
  now: number;
}

const READ_API = ['api', 'read_api'];

export function notFound(what = ''): Answer {
  return { status: 404, body: { message: `404 ${what ? `${what} ` : ''}Not Found` } };
}

export function serveApi(model: Model, request: ApiRequest): Answer {
  const { segments: s, caller } = request;
  if (s.length === 2 && s[0] === 'personal_access_tokens' && s[1] === 'self') {
    // An OAuth access token is no personal access token: GitLab does not find it there.
    return caller.token.kind === 'personal' ? ok(tokenJson(caller.token, model, request.now)) : notFound();
  }
  if (s.length === 1 && s[0] === 'user') return scoped(caller.token, [...READ_API, 'read_user']) ?? ok(userJson(caller.user, request.baseUrl));
  if (s[0] === 'groups' && s.length >= 2) return scoped(caller.token, READ_API) ?? groupRoute(model, request);
  if (s[0] === 'projects' && s.length >= 2) return scoped(caller.token, READ_API) ?? projectRoute(model, request);
  return notFound();
}

function groupRoute(model: Model, request: ApiRequest): Answer {
  const [, id, list, ...rest] = request.segments;
  if (rest.length > 0) return notFound();
  const group = model.findGroup(id, request.caller.user.username);
  if (!group) return notFound('Group');
  if (list === undefined) return ok(groupJson(group, request.baseUrl));
  if (list === 'descendant_groups') {
    const groups = model.descendants(group);
    return paged(offsetPage({ length: groups.length, get: (i) => groups[i] }, request.query, request.linkBase, (g) => groupJson(g, request.baseUrl)));
  }
  if (list === 'projects') {
    const projects = model.projectsOf(group, request.query.include_subgroups === 'true');
    const render = (p: (typeof projects)[number]) => projectJson(p, request.baseUrl);
    if (request.query.pagination === 'keyset') {
      const page = keysetPage(projects, request.query, request.linkBase, render);
      return 'error' in page ? { status: 405, body: { message: page.error } } : paged(page);
    }
    return paged(offsetPage({ length: projects.length, get: (i) => projects[i] }, request.query, request.linkBase, render));
  }
  return notFound();
}

const PROJECT_LISTS: Record<string, ProjectList> = {
  'repository/branches': 'branches',
  'repository/tags': 'tags',
  issues: 'issues',
  merge_requests: 'merge_requests',
};

function projectRoute(model: Model, request: ApiRequest): Answer {
  const [, id, ...rest] = request.segments;
  const project = model.findProject(id, request.caller.user.username);
  if (!project) return notFound('Project');
  if (rest.length === 0) return ok(projectJson(project, request.baseUrl));
  const list = PROJECT_LISTS[rest.join('/')];
  if (!list) return notFound();
  return paged(offsetPage(listOf(project, list), request.query, request.linkBase, (item) => item));
}

/** 403 when the token has none of the scopes the endpoint accepts, with GitLab's body. */
function scoped(token: Token, accepted: string[]): Answer | undefined {
  if (token.scopes.some((scope) => accepted.includes(scope))) return undefined;
  return {
    status: 403,
    body: {
      error: 'insufficient_scope',
      error_description: 'The request requires higher privileges than provided by the access token.',
      scope: accepted.join(' '),
    },
  };
}

function ok(body: unknown): Answer {
  return { status: 200, body };
}

function paged(page: Page): Answer {
  return { status: 200, body: page.items, headers: page.headers };
}
