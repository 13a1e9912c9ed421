/**
 * The /api/v4 endpoints the double serves, for a caller already authenticated. Anything not
 * visible to the caller answers 404, as GitLab hides what a user may not see.
 */
import { listOf, notesOf, STATES, type ProjectList, type WorkItemKind } from './metadata';
import type { Json, Model, StoredMetadata, Token, User } from './model';
import { filtered, keysetPage, offsetPage, reversed, type Page, type Source } from './pagination';
import { groupJson, projectJson, tokenJson, userJson } from './resources';
import { serveWrite } from './writes';

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
  /** GET when not given. */
  method?: string;
  /** A write's parameters, from its JSON or form body. */
  body?: Record<string, unknown>;
}

const READ_API = ['api', 'read_api'];

export function notFound(what = ''): Answer {
  return { status: 404, body: { message: `404 ${what ? `${what} ` : ''}Not Found` } };
}

export function serveApi(model: Model, request: ApiRequest): Answer {
  const { segments: s, caller } = request;
  const method = request.method ?? 'GET';
  if (method === 'POST' || method === 'PUT') return s[0] === 'projects' ? (scoped(caller.token, ['api']) ?? serveWrite(model, request)) : notFound();
  if ((request.method ?? 'GET') !== 'GET') return notFound();
  if (s.length === 2 && s[0] === 'personal_access_tokens' && s[1] === 'self') {
    // An OAuth access token is no personal access token: GitLab does not find it there.
    return caller.token.kind === 'personal' ? ok(tokenJson(caller.token, model, request.now)) : notFound();
  }
  if (s.length === 1 && s[0] === 'user') return scoped(caller.token, [...READ_API, 'read_user']) ?? ok(userJson(caller.user, request.baseUrl));
  if (s.length === 2 && s[0] === 'namespaces') return scoped(caller.token, READ_API) ?? namespaceRoute(model, request, s[1]!);
  if (s[0] === 'groups' && s.length >= 2) return scoped(caller.token, READ_API) ?? groupRoute(model, request);
  if (s[0] === 'projects' && s.length >= 2) return scoped(caller.token, READ_API) ?? projectRoute(model, request);
  return notFound();
}

/** GET /namespaces/:id_or_path: a group as a namespace (the double has no user namespaces), hidden when not visible. */
function namespaceRoute(model: Model, request: ApiRequest, idOrPath: string): Answer {
  const group = model.findGroup(idOrPath, request.caller.user.username);
  if (!group) return notFound();
  const json = groupJson(group, request.baseUrl);
  return ok({ id: json.id, name: json.name, path: json.path, kind: 'group', full_path: json.full_path, parent_id: json.parent_id, web_url: json.web_url });
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
  labels: 'labels',
  milestones: 'milestones',
  releases: 'releases',
};

/**
 * The query parameters a list checks, with GitLab's defaults (first of each) and its 400 for a
 * value it does not know. The double orders by creation only: updated_at and released_at follow
 * the same order in what it makes up.
 */
const PARAMETERS: Partial<Record<ProjectList | 'notes', Record<string, readonly string[]>>> = {
  issues: { state: ['all', ...STATES.issue], order_by: ['created_at', 'updated_at'], sort: ['desc', 'asc'] },
  merge_requests: { state: ['all', ...STATES.merge_request], order_by: ['created_at', 'updated_at'], sort: ['desc', 'asc'] },
  milestones: { state: ['all', 'active', 'closed'] },
  releases: { order_by: ['released_at', 'created_at'], sort: ['desc', 'asc'] },
  notes: { order_by: ['created_at', 'updated_at'], sort: ['desc', 'asc'] },
};

function projectRoute(model: Model, request: ApiRequest): Answer {
  const [, id, ...rest] = request.segments;
  const project = model.findProject(id, request.caller.user.username);
  if (!project) return notFound('Project');
  if (rest.length === 0) return ok(projectJson(project, request.baseUrl));
  if (rest.length === 3 && rest[2] === 'notes' && (rest[0] === 'issues' || rest[0] === 'merge_requests')) {
    const kind: WorkItemKind = rest[0] === 'issues' ? 'issue' : 'merge_request';
    // The iid is typed by GitLab's route: anything but a number is refused before it is looked for.
    if (!/^\d+$/.test(rest[1]!)) return { status: 400, body: { error: 'noteable_id is invalid' } };
    const notes = project.stored ? storedNotes(project.stored, kind, Number(rest[1])) : notesOf(project, kind, Number(rest[1]));
    if (!notes) return notFound(kind === 'issue' ? 'Issue' : 'MergeRequest');
    return listAnswer(notes, 'notes', request);
  }
  const list = PROJECT_LISTS[rest.join('/')];
  if (!list) return notFound();
  const source = (project.stored && storedList(project.stored, list)) || listOf(project, list, request.baseUrl);
  return listAnswer(selected(request.query, source), list, request);
}

/** What was written into a project made through the API; undefined for what cannot be written (its git refs, merge requests). */
function storedList(stored: StoredMetadata, list: ProjectList): Source<Json> | undefined {
  const items = list === 'labels' || list === 'milestones' || list === 'issues' || list === 'releases' ? stored[list] : undefined;
  return items && { length: items.length, get: (i) => items[i]! };
}

function storedNotes(stored: StoredMetadata, kind: WorkItemKind, iid: number): Source<Json> | undefined {
  if (kind !== 'issue' || !stored.issues.some((issue) => issue.iid === iid)) return undefined;
  const notes = stored.issueNotes.get(iid) ?? [];
  return { length: notes.length, get: (i) => notes[i]! };
}

/** The items of that state alone, when a state is asked for. */
function selected(query: Record<string, string>, source: Source<Json>): Source<Json> {
  const state = query.state;
  return state === undefined || state === 'all' ? source : filtered(source, (i) => source.get(i).state === state);
}

/** One offset page of a list held oldest first, in the order asked for (GitLab's default: newest first). */
function listAnswer<T>(source: Source<T>, list: ProjectList | 'notes', request: ApiRequest): Answer {
  const parameters = PARAMETERS[list] ?? {};
  for (const [name, values] of Object.entries(parameters)) {
    const given = request.query[name];
    if (given !== undefined && !values.includes(given)) return { status: 400, body: { error: `${name} does not have a valid value` } };
  }
  const newestFirst = parameters.sort !== undefined && (request.query.sort ?? 'desc') === 'desc';
  return paged(offsetPage(newestFirst ? reversed(source) : source, request.query, request.linkBase, (item) => item));
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
