/**
 * The POST endpoints a restore uses: a new project, then its labels, milestones, issues, their
 * notes and releases. Only a project made through the API takes writes (the made-up ones hold
 * nothing to add to); what is written is kept as GitLab's JSON and served back by the GETs.
 * Refusals are GitLab's: 400 with Grape's `error` for a missing or malformed parameter, 400 with
 * a `message` of field errors for a failed validation, 409 for a label or release that exists.
 */
import { notFound, type Answer, type ApiRequest } from './api';
import { fullPathOf, type Json, type Model, type Project, type StoredMetadata } from './model';
import { projectJson } from './resources';

/** Settings a new project takes from its request, as GitLab's POST /projects does. */
const PROJECT_SETTINGS: Record<string, 'string' | 'boolean' | 'array'> = {
  description: 'string',
  visibility: 'string',
  topics: 'array',
  wiki_enabled: 'boolean',
  issues_enabled: 'boolean',
  merge_requests_enabled: 'boolean',
  jobs_enabled: 'boolean',
  snippets_enabled: 'boolean',
  lfs_enabled: 'boolean',
  request_access_enabled: 'boolean',
  merge_method: 'string',
  squash_option: 'string',
  only_allow_merge_if_pipeline_succeeds: 'boolean',
  only_allow_merge_if_all_discussions_are_resolved: 'boolean',
  remove_source_branch_after_merge: 'boolean',
};

const PATH_RULE = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$/;
const PATH_MESSAGE = "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'";
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const COLOR = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;
/** The colour GitLab gives a label an issue brings into being. */
const NEW_LABEL_COLOR = '#6699cc';

export function serveWrite(model: Model, request: ApiRequest): Answer {
  const [first, id, ...rest] = request.segments;
  const body = request.body ?? {};
  if (first === 'projects' && id === undefined) return createProject(model, request, body);
  if (first !== 'projects' || id === undefined) return notFound();
  const project = model.findProject(id, request.caller.user.username);
  if (!project) return notFound('Project');
  const stored = project.stored;
  if (!stored) return { status: 403, body: { message: '403 Forbidden' } };
  const route = rest.join('/');
  const at = new Date(request.now).toISOString();
  if (request.method === 'PUT') {
    if (rest.length === 2 && rest[0] === 'issues') return changeState(stored.issues, 'iid', rest[1]!, body, ISSUE_STATES, 'Issue', at);
    if (rest.length === 2 && rest[0] === 'milestones') return changeState(stored.milestones, 'id', rest[1]!, body, MILESTONE_STATES, 'Milestone', at);
    return notFound();
  }
  if (route === 'labels') return createLabel(model, project, stored, body);
  if (route === 'milestones') return createMilestone(model, project, stored, body, request.baseUrl, at);
  if (route === 'issues') return createIssue(model, project, stored, body, request, at);
  if (route === 'releases') return createRelease(project, stored, body, request, at);
  if (rest.length === 3 && rest[0] === 'issues' && rest[2] === 'notes') return createNote(model, project, stored, rest[1]!, body, request, at);
  return notFound();
}

function createProject(model: Model, request: ApiRequest, body: Json): Answer {
  const given = { name: text(body.name), path: text(body.path) };
  if (!given.name && !given.path) return missing(['name', 'path'], ', at least one parameter must be provided');
  const namespaceId = text(body.namespace_id);
  if (!namespaceId) return missing(['namespace_id']);
  const group = model.findGroup(namespaceId, request.caller.user.username);
  if (!group) return notFound('Namespace');
  const name = given.name ?? given.path!;
  const path = given.path ?? name.toLowerCase().replace(/[^a-z0-9_.-]+/g, '-');
  const errors: Record<string, string[]> = {};
  if (!PATH_RULE.test(path) || /\.(git|atom)$/.test(path)) errors.path = [PATH_MESSAGE];
  if (model.projectNamed(group, 'name', name)) errors.name = ['has already been taken'];
  if (model.projectNamed(group, 'path', path)) errors.path = [...(errors.path ?? []), 'has already been taken'];
  if (Object.keys(errors).length > 0) return invalid(errors);
  for (const [key, type] of Object.entries(PROJECT_SETTINGS)) {
    const value = body[key];
    if (value !== undefined && (type === 'array' ? !Array.isArray(value) : typeof value !== type)) return { status: 400, body: { error: `${key} is invalid` } };
  }
  const project = model.createProject(group, path, name);
  const settings = Object.fromEntries(Object.keys(PROJECT_SETTINGS).flatMap((key) => (body[key] === undefined ? [] : [[key, body[key]]])));
  project.stored!.settings = settings;
  return { status: 201, body: projectJson(project, request.baseUrl) };
}

function createLabel(model: Model, project: Project, stored: StoredMetadata, body: Json): Answer {
  const name = text(body.name);
  const color = text(body.color);
  const absent = [...(name ? [] : ['name']), ...(color ? [] : ['color'])];
  if (absent.length > 0) return missing(absent);
  if (!COLOR.test(color!)) return invalid({ color: ['must be a valid color code'] });
  if (stored.labels.some((label) => label.name === name)) return { status: 409, body: { message: 'Label already exists' } };
  const label = labelJson(model, project, name!, color!, text(body.description) ?? null);
  stored.labels.push(label);
  return { status: 201, body: label };
}

function labelJson(model: Model, project: Project, name: string, color: string, description: string | null): Json {
  return {
    id: model.itemId(),
    name,
    color,
    text_color: '#FFFFFF',
    description,
    description_html: description ?? '',
    priority: null,
    subscribed: false,
    is_project_label: true,
    project_id: project.id,
  };
}

function createMilestone(model: Model, project: Project, stored: StoredMetadata, body: Json, baseUrl: string, at: string): Answer {
  const title = text(body.title);
  if (!title) return missing(['title']);
  for (const field of ['due_date', 'start_date']) {
    const value = text(body[field]);
    if (value !== undefined && !DATE.test(value)) return { status: 400, body: { error: `${field} is invalid` } };
  }
  if (stored.milestones.some((m) => m.title === title)) return invalid({ title: ['already being used for another group or project milestone.'] });
  const iid = stored.milestones.length + 1;
  const dueDate = text(body.due_date) ?? null;
  const milestone: Json = {
    id: model.itemId(),
    iid,
    project_id: project.id,
    title,
    description: text(body.description) ?? null,
    state: 'active',
    created_at: at,
    updated_at: at,
    due_date: dueDate,
    start_date: text(body.start_date) ?? null,
    expired: dueDate !== null && dueDate < at.slice(0, 10),
    web_url: `${baseUrl}/${fullPathOf(project)}/-/milestones/${iid}`,
  };
  stored.milestones.push(milestone);
  return { status: 201, body: milestone };
}

function createIssue(model: Model, project: Project, stored: StoredMetadata, body: Json, request: ApiRequest, at: string): Answer {
  const title = text(body.title);
  if (!title) return missing(['title']);
  const createdAt = timestamp(body.created_at);
  if (createdAt === null) return { status: 400, body: { error: 'created_at is invalid' } };
  const names = (Array.isArray(body.labels) ? body.labels.map(String) : (text(body.labels) ?? '').split(','))
    .map((name) => name.trim())
    .filter((name) => name !== '');
  // Labels not yet in the project are made for the issue, as GitLab does.
  for (const name of names) if (!stored.labels.some((label) => label.name === name)) stored.labels.push(labelJson(model, project, name, NEW_LABEL_COLOR, null));
  // A milestone that is not the project's is left out, not refused, as GitLab does.
  const milestone = stored.milestones.find((m) => String(m.id) === text(body.milestone_id)) ?? null;
  const iid = stored.issues.length + 1;
  const author = { id: request.caller.user.id, username: request.caller.user.username, name: request.caller.user.username, state: 'active' };
  const issue: Json = {
    id: model.itemId(),
    iid,
    project_id: project.id,
    title,
    description: text(body.description) ?? null,
    state: 'opened',
    created_at: createdAt ?? at,
    updated_at: at,
    closed_at: null,
    closed_by: null,
    labels: [...new Set(names)],
    milestone,
    assignees: [],
    assignee: null,
    author,
    type: 'ISSUE',
    issue_type: 'issue',
    user_notes_count: 0,
    merge_requests_count: 0,
    upvotes: 0,
    downvotes: 0,
    due_date: text(body.due_date) ?? null,
    confidential: body.confidential === true || body.confidential === 'true',
    discussion_locked: null,
    web_url: `${request.baseUrl}/${fullPathOf(project)}/-/issues/${iid}`,
    references: { short: `#${iid}`, relative: `#${iid}`, full: `${fullPathOf(project)}#${iid}` },
  };
  stored.issues.push(issue);
  return { status: 201, body: issue };
}

function createNote(model: Model, project: Project, stored: StoredMetadata, iidText: string, body: Json, request: ApiRequest, at: string): Answer {
  if (!/^\d+$/.test(iidText)) return { status: 400, body: { error: 'noteable_id is invalid' } };
  const issue = stored.issues.find((i) => i.iid === Number(iidText));
  if (!issue) return notFound('Issue');
  const said = text(body.body);
  if (!said) return missing(['body']);
  const createdAt = timestamp(body.created_at);
  if (createdAt === null) return { status: 400, body: { error: 'created_at is invalid' } };
  const note: Json = {
    id: model.itemId(),
    type: null,
    body: said,
    attachment: null,
    author: { id: request.caller.user.id, username: request.caller.user.username, name: request.caller.user.username, state: 'active' },
    created_at: createdAt ?? at,
    updated_at: at,
    system: false,
    noteable_id: issue.id,
    noteable_type: 'Issue',
    noteable_iid: issue.iid,
    project_id: project.id,
    resolvable: false,
    confidential: false,
    internal: body.internal === true || body.internal === 'true',
  };
  const notes = stored.issueNotes.get(issue.iid as number) ?? [];
  notes.push(note);
  stored.issueNotes.set(issue.iid as number, notes);
  issue.user_notes_count = notes.length;
  return { status: 201, body: note };
}

function createRelease(project: Project, stored: StoredMetadata, body: Json, request: ApiRequest, at: string): Answer {
  const tag = text(body.tag_name);
  if (!tag) return missing(['tag_name']);
  if (stored.releases.some((r) => r.tag_name === tag)) return { status: 409, body: { message: 'Release already exists' } };
  const releasedAt = timestamp(body.released_at);
  if (releasedAt === null) return { status: 400, body: { error: 'released_at is invalid' } };
  const projectUrl = `${request.baseUrl}/${fullPathOf(project)}`;
  const release: Json = {
    tag_name: tag,
    name: text(body.name) ?? tag,
    description: text(body.description) ?? null,
    created_at: at,
    released_at: releasedAt ?? at,
    upcoming_release: false,
    author: { id: request.caller.user.id, username: request.caller.user.username, name: request.caller.user.username, state: 'active' },
    milestones: [],
    tag_path: `/${fullPathOf(project)}/-/tags/${tag}`,
    assets: { count: 0, sources: [], links: [] },
    evidences: [],
    _links: { self: `${projectUrl}/-/releases/${tag}` },
  };
  stored.releases.push(release);
  return { status: 201, body: release };
}

/** What PUT's state_event does to an issue and to a milestone. */
const ISSUE_STATES: Record<string, string> = { close: 'closed', reopen: 'opened' };
const MILESTONE_STATES: Record<string, string> = { close: 'closed', activate: 'active' };

/** PUT .../issues/:iid or .../milestones/:id with a state_event (the only edit a restore makes); 404 for one not in the project. */
function changeState(items: Json[], key: 'iid' | 'id', idText: string, body: Json, states: Record<string, string>, what: string, at: string): Answer {
  if (!/^\d+$/.test(idText)) return { status: 400, body: { error: `${key === 'iid' ? 'issue_iid' : 'milestone_id'} is invalid` } };
  const item = items.find((candidate) => candidate[key] === Number(idText));
  if (!item) return notFound(what);
  const event = text(body.state_event);
  if (event !== undefined && !(event in states)) return { status: 400, body: { error: 'state_event does not have a valid value' } };
  if (event !== undefined) {
    item.state = states[event];
    item.updated_at = at;
    if (what === 'Issue') item.closed_at = item.state === 'closed' ? at : null;
  }
  return { status: 200, body: item };
}

/** A parameter as text: JSON bodies carry numbers and strings alike; empty is absent. */
function text(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** An ISO 8601 time as GitLab stores it; undefined when not given, null when not a time. */
function timestamp(value: unknown): string | undefined | null {
  const given = text(value);
  if (given === undefined) return undefined;
  const ms = Date.parse(given);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** Grape's words for required parameters that are absent. */
function missing(names: string[], tail = ''): Answer {
  return { status: 400, body: { error: `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} missing${tail}` } };
}

/** A record that failed validation: GitLab's `message` maps each field to what is wrong with it. */
function invalid(errors: Record<string, string[]>): Answer {
  return { status: 400, body: { message: errors } };
}
