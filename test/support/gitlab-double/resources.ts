/**
 * The JSON GitLab answers with, in its snake_case, for the fields clients read. Branches, tags,
 * issues and merge requests are made up from their index in the project, so that a project can
 * have many of them without holding any.
 */
import { createHash } from 'node:crypto';
import { fullPathOf, type Group, type Model, type Project, type Token, type User } from './model';
import type { Source } from './pagination';

export function userJson(user: User, baseUrl: string) {
  return { id: user.id, username: user.username, name: user.username, state: 'active', web_url: `${baseUrl}/${user.username}` };
}

export function tokenJson(token: Token, model: Model, now: number) {
  return {
    id: token.id,
    name: token.name,
    revoked: token.revoked,
    created_at: token.createdAt,
    scopes: token.scopes,
    user_id: token.userId,
    last_used_at: token.lastUsedAt === null ? null : new Date(token.lastUsedAt).toISOString(),
    active: model.isUsable(token, now),
    expires_at: token.expiresAt,
  };
}

export function groupJson(group: Group, baseUrl: string) {
  return {
    id: group.id,
    name: group.path,
    path: group.path,
    full_name: group.fullPath.split('/').join(' / '),
    full_path: group.fullPath,
    parent_id: group.parent?.id ?? null,
    visibility: 'private',
    web_url: `${baseUrl}/groups/${group.fullPath}`,
  };
}

export function projectJson(project: Project, baseUrl: string) {
  const fullPath = fullPathOf(project);
  return {
    id: project.id,
    name: project.path,
    path: project.path,
    name_with_namespace: fullPath.split('/').join(' / '),
    path_with_namespace: fullPath,
    namespace: { id: project.group.id, name: project.group.path, path: project.group.path, kind: 'group', full_path: project.group.fullPath },
    default_branch: 'main',
    archived: false,
    visibility: 'private',
    web_url: `${baseUrl}/${fullPath}`,
    http_url_to_repo: `${baseUrl}/${fullPath}.git`,
  };
}

export type ProjectList = 'branches' | 'tags' | 'issues' | 'merge_requests';

/** The project's list of that kind, made on demand. */
export function listOf(project: Project, list: ProjectList): Source<unknown> {
  switch (list) {
    case 'branches':
      return { length: project.counts.branches, get: (i) => refJson(project, i === 0 ? 'main' : `branch-${i}`, i === 0) };
    case 'tags':
      return { length: project.counts.tags, get: (i) => refJson(project, `v1.${i}.0`, false) };
    case 'issues':
      return { length: project.counts.issues, get: (i) => workItemJson(project, i + 1, 'issue') };
    case 'merge_requests':
      return { length: project.counts.mergeRequests, get: (i) => workItemJson(project, i + 1, 'merge request') };
  }
}

function refJson(project: Project, name: string, isDefault: boolean) {
  const sha = createHash('sha1').update(`${project.id}/${name}`).digest('hex');
  return { name, commit: { id: sha, short_id: sha.slice(0, 8), title: `Commit on ${name}` }, merged: false, protected: isDefault, default: isDefault };
}

function workItemJson(project: Project, iid: number, kind: 'issue' | 'merge request') {
  // Ids are unique across projects, as GitLab's are; merge requests take the upper half.
  const id = project.id * 2_000_000 + (kind === 'issue' ? 0 : 1_000_000) + iid;
  return { id, iid, project_id: project.id, title: `The ${kind} ${iid}`, state: 'opened' };
}
