/**
 * What a project holds besides its settings, in GitLab's JSON: branches, tags, issues, merge
 * requests, their notes, labels, milestones and releases. Each is made up from its index in the
 * project, so that a project can have many of them without holding any; every list here is in
 * creation order (oldest first), and ids are unique across projects, as GitLab's are.
 */
import { createHash } from 'node:crypto';
import { fullPathOf, type Project } from './model';
import type { Source } from './pagination';

export type ProjectList = 'branches' | 'tags' | 'issues' | 'merge_requests' | 'labels' | 'milestones' | 'releases';
export type WorkItemKind = 'issue' | 'merge_request';

/** Every date is an offset from here, so that answers are the same from one run to the next. */
const EPOCH = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const COLORS = ['#d9534f', '#5cb85c', '#428bca', '#f0ad4e', '#8e44ad', '#34495e'];

/** Who wrote every issue, merge request, note and release: GitLab's stand-in for a user it no longer has. */
const AUTHOR = { id: 2_000_000_000, username: 'ghost', name: 'Ghost User', state: 'active', avatar_url: null };

export function projectCreatedAt(project: Project): string {
  return iso(EPOCH + project.id * HOUR);
}

export function projectLastActivityAt(project: Project): string {
  return iso(EPOCH + project.id * HOUR + Math.max(project.counts.issues, project.counts.mergeRequests, 1) * DAY);
}

/** The project's list of that kind, made on demand, oldest first. */
export function listOf(project: Project, list: ProjectList, baseUrl: string): Source<Record<string, unknown>> {
  const { counts } = project;
  switch (list) {
    case 'branches':
      return { length: counts.branches, get: (i) => refJson(project, branchName(i), i === 0) };
    case 'tags':
      return { length: counts.tags, get: (i) => refJson(project, tagName(i), false) };
    case 'issues':
      return { length: counts.issues, get: (i) => issueJson(project, i + 1, baseUrl) };
    case 'merge_requests':
      return { length: counts.mergeRequests, get: (i) => mergeRequestJson(project, i + 1, baseUrl) };
    case 'labels':
      return { length: counts.labels, get: (i) => labelJson(project, i) };
    case 'milestones':
      return { length: counts.milestones, get: (i) => milestoneJson(project, i + 1, baseUrl) };
    case 'releases':
      return { length: Math.min(counts.releases, counts.tags), get: (i) => releaseJson(project, i, baseUrl) };
  }
}

/** The notes of one issue or merge request, oldest first; undefined when the project has no such one. */
export function notesOf(project: Project, kind: WorkItemKind, iid: number): Source<Record<string, unknown>> | undefined {
  const count = kind === 'issue' ? project.counts.issues : project.counts.mergeRequests;
  if (!Number.isInteger(iid) || iid < 1 || iid > count) return undefined;
  return { length: project.counts.notes, get: (i) => noteJson(project, kind, iid, i + 1) };
}

/** The states a work item of that kind can be in; the double gives them in turn by iid. */
export const STATES: Record<WorkItemKind, readonly string[]> = {
  issue: ['opened', 'closed'],
  merge_request: ['opened', 'closed', 'locked', 'merged'],
};

export function stateOf(kind: WorkItemKind, iid: number): string {
  // Every third is done: closed for an issue, merged for a merge request; the first is always open.
  if (iid % 3 !== 0) return 'opened';
  return kind === 'issue' ? 'closed' : 'merged';
}

/** How many of a project's first `count` issues are closed. */
export function closedIssues(count: number): number {
  return Math.floor(count / 3);
}

function branchName(index: number): string {
  return index === 0 ? 'main' : `branch-${index}`;
}

function tagName(index: number): string {
  return `v1.${index}.0`;
}

function sha(project: Project, ref: string): string {
  return createHash('sha1').update(`${project.id}/${ref}`).digest('hex');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function refJson(project: Project, name: string, isDefault: boolean) {
  const id = sha(project, name);
  return { name, commit: { id, short_id: id.slice(0, 8), title: `Commit on ${name}` }, merged: false, protected: isDefault, default: isDefault };
}

function workItemId(project: Project, kind: WorkItemKind, iid: number): number {
  // Issues take the lower half of the project's block of ids, merge requests the upper half.
  return project.id * 2_000_000 + (kind === 'issue' ? 0 : 1_000_000) + iid;
}

function workItemCreatedAt(project: Project, iid: number): number {
  return EPOCH + project.id * HOUR + iid * HOUR;
}

function labelName(index: number): string {
  return `label-${String(index + 1).padStart(5, '0')}`;
}

function labelsOf(project: Project, iid: number): string[] {
  return project.counts.labels === 0 ? [] : [labelName((iid - 1) % project.counts.labels)];
}

function milestoneOf(project: Project, iid: number, baseUrl: string) {
  return project.counts.milestones === 0 ? null : milestoneJson(project, ((iid - 1) % project.counts.milestones) + 1, baseUrl);
}

function references(project: Project, sign: string, iid: number) {
  return { short: `${sign}${iid}`, relative: `${sign}${iid}`, full: `${fullPathOf(project)}${sign}${iid}` };
}

function issueJson(project: Project, iid: number, baseUrl: string) {
  const created = workItemCreatedAt(project, iid);
  const state = stateOf('issue', iid);
  const closed = state === 'closed';
  return {
    id: workItemId(project, 'issue', iid),
    iid,
    project_id: project.id,
    title: `The issue ${iid}`,
    description: `What the issue ${iid} is about.`,
    state,
    created_at: iso(created),
    updated_at: iso(created + HOUR / 2),
    closed_at: closed ? iso(created + HOUR / 2) : null,
    closed_by: closed ? AUTHOR : null,
    labels: labelsOf(project, iid),
    milestone: milestoneOf(project, iid, baseUrl),
    assignees: [],
    assignee: null,
    author: AUTHOR,
    type: 'ISSUE',
    issue_type: 'issue',
    user_notes_count: userNotes(project),
    merge_requests_count: 0,
    upvotes: 0,
    downvotes: 0,
    due_date: null,
    confidential: false,
    discussion_locked: null,
    web_url: `${baseUrl}/${fullPathOf(project)}/-/issues/${iid}`,
    references: references(project, '#', iid),
  };
}

function mergeRequestJson(project: Project, iid: number, baseUrl: string) {
  const created = workItemCreatedAt(project, iid);
  const state = stateOf('merge_request', iid);
  const merged = state === 'merged';
  const { branches } = project.counts;
  // Open ones come from a branch the project has; a merged one's branch may be gone, as GitLab removes it.
  const sourceBranch = branches > 1 ? branchName(((iid - 1) % (branches - 1)) + 1) : `feature-${iid}`;
  return {
    id: workItemId(project, 'merge_request', iid),
    iid,
    project_id: project.id,
    title: `The merge request ${iid}`,
    description: `What the merge request ${iid} changes.`,
    state,
    created_at: iso(created),
    updated_at: iso(created + HOUR / 2),
    merged_by: merged ? AUTHOR : null,
    merge_user: merged ? AUTHOR : null,
    merged_at: merged ? iso(created + HOUR / 2) : null,
    closed_by: null,
    closed_at: null,
    target_branch: branchName(0),
    source_branch: sourceBranch,
    source_project_id: project.id,
    target_project_id: project.id,
    labels: labelsOf(project, iid),
    milestone: milestoneOf(project, iid, baseUrl),
    author: AUTHOR,
    assignees: [],
    assignee: null,
    reviewers: [],
    user_notes_count: userNotes(project),
    upvotes: 0,
    downvotes: 0,
    draft: false,
    work_in_progress: false,
    merge_when_pipeline_succeeds: false,
    merge_status: 'can_be_merged',
    detailed_merge_status: merged ? 'not_open' : 'mergeable',
    sha: sha(project, `merge-request-${iid}`),
    merge_commit_sha: merged ? sha(project, `merge-${iid}`) : null,
    squash_commit_sha: null,
    squash: false,
    discussion_locked: null,
    should_remove_source_branch: null,
    force_remove_source_branch: true,
    web_url: `${baseUrl}/${fullPathOf(project)}/-/merge_requests/${iid}`,
    references: references(project, '!', iid),
  };
}

/** Every second note is a system note (GitLab's record of a change), as GitLab mixes them in. */
function isSystemNote(n: number): boolean {
  return n % 2 === 0;
}

function userNotes(project: Project): number {
  return Math.ceil(project.counts.notes / 2);
}

function noteJson(project: Project, kind: WorkItemKind, iid: number, n: number) {
  const parentId = workItemId(project, kind, iid);
  const created = workItemCreatedAt(project, iid) + n * 60_000;
  const system = isSystemNote(n);
  return {
    id: parentId * 1_000 + n,
    type: null,
    body: system ? 'changed the description' : `Comment ${n} on ${kind === 'issue' ? '#' : '!'}${iid}.`,
    attachment: null,
    author: AUTHOR,
    created_at: iso(created),
    updated_at: iso(created),
    system,
    noteable_id: parentId,
    noteable_type: kind === 'issue' ? 'Issue' : 'MergeRequest',
    noteable_iid: iid,
    project_id: project.id,
    resolvable: false,
    confidential: false,
    // The third note of each issue or merge request is internal: seen by project members only.
    internal: n === 3,
  };
}

function labelJson(project: Project, index: number) {
  return {
    id: project.id * 100_000 + index + 1,
    name: labelName(index),
    color: COLORS[index % COLORS.length],
    text_color: '#FFFFFF',
    description: `What the label ${index + 1} marks.`,
    description_html: `What the label ${index + 1} marks.`,
    priority: null,
    subscribed: false,
    is_project_label: true,
  };
}

function milestoneJson(project: Project, iid: number, baseUrl: string) {
  const created = EPOCH + project.id * HOUR + iid * DAY;
  return {
    id: project.id * 100_000 + iid,
    iid,
    project_id: project.id,
    title: `Milestone ${iid}`,
    description: `What the milestone ${iid} is for.`,
    state: 'active',
    created_at: iso(created),
    updated_at: iso(created),
    start_date: iso(created).slice(0, 10),
    due_date: iso(created + 30 * DAY).slice(0, 10),
    expired: true,
    web_url: `${baseUrl}/${fullPathOf(project)}/-/milestones/${iid}`,
  };
}

function releaseJson(project: Project, index: number, baseUrl: string) {
  const tag = tagName(index);
  const commit = sha(project, tag);
  const created = EPOCH + project.id * HOUR + (index + 1) * DAY;
  const projectUrl = `${baseUrl}/${fullPathOf(project)}`;
  return {
    tag_name: tag,
    name: `Release ${tag}`,
    description: `What changed in ${tag}.`,
    created_at: iso(created),
    released_at: iso(created),
    upcoming_release: false,
    author: AUTHOR,
    commit: { id: commit, short_id: commit.slice(0, 8), title: `Commit on ${tag}`, created_at: iso(created) },
    milestones: [],
    commit_path: `/${fullPathOf(project)}/-/commit/${commit}`,
    tag_path: `/${fullPathOf(project)}/-/tags/${tag}`,
    assets: {
      count: 2,
      sources: ['zip', 'tar.gz'].map((format) => ({ format, url: `${projectUrl}/-/archive/${tag}/${project.path}-${tag}.${format}` })),
      links: [],
    },
    evidences: [],
    _links: { self: `${projectUrl}/-/releases/${tag}` },
  };
}
