/**
 * The JSON GitLab answers with, in its snake_case, for the fields clients read. What a project
 * holds (issues, notes, releases...) is in metadata.ts.
 */
import { randomBytes } from 'node:crypto';
import { closedIssues, projectCreatedAt, projectLastActivityAt } from './metadata';
import { fullPathOf, type Group, type Model, type Project, type Token, type User } from './model';

/** Made at start, so that no file holds a token: GitLab shows a project's runner registration token to its maintainers. */
const RUNNERS_TOKEN_SALT = randomBytes(9).toString('base64url');

/** The project's runner registration token as this double serves it: a secret a backup must not keep. */
export function runnersTokenOf(project: Pick<Project, 'id'>): string {
  return `GR1348941${RUNNERS_TOKEN_SALT}${project.id}`;
}

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

/** The project with the settings a backup keeps and a restore sets again. */
export function projectJson(project: Project, baseUrl: string) {
  const fullPath = fullPathOf(project);
  const empty = project.counts.branches === 0;
  return {
    id: project.id,
    description: project.stored ? null : `What ${project.path} is.`,
    name: project.stored?.name ?? project.path,
    path: project.path,
    name_with_namespace: fullPath.split('/').join(' / '),
    path_with_namespace: fullPath,
    namespace: { id: project.group.id, name: project.group.path, path: project.group.path, kind: 'group', full_path: project.group.fullPath },
    created_at: projectCreatedAt(project),
    last_activity_at: projectLastActivityAt(project),
    // GitLab has no default branch for a repository without any.
    default_branch: empty ? null : 'main',
    empty_repo: empty,
    topics: ['backplane', project.group.path],
    tag_list: ['backplane', project.group.path],
    archived: false,
    // A project made through the API without a visibility takes the instance's default: this double's is internal.
    visibility: project.stored ? 'internal' : 'private',
    web_url: `${baseUrl}/${fullPath}`,
    http_url_to_repo: `${baseUrl}/${fullPath}.git`,
    ssh_url_to_repo: `git@${new URL(baseUrl).hostname}:${fullPath}.git`,
    readme_url: null,
    avatar_url: null,
    forks_count: 0,
    star_count: 0,
    open_issues_count: project.counts.issues - closedIssues(project.counts.issues),
    issues_enabled: true,
    merge_requests_enabled: true,
    wiki_enabled: true,
    jobs_enabled: true,
    snippets_enabled: true,
    container_registry_enabled: false,
    lfs_enabled: true,
    request_access_enabled: true,
    issues_access_level: 'enabled',
    repository_access_level: 'enabled',
    merge_requests_access_level: 'enabled',
    forking_access_level: 'enabled',
    wiki_access_level: 'enabled',
    builds_access_level: 'enabled',
    snippets_access_level: 'enabled',
    pages_access_level: 'private',
    merge_method: 'merge',
    squash_option: 'default_off',
    only_allow_merge_if_pipeline_succeeds: false,
    only_allow_merge_if_all_discussions_are_resolved: false,
    remove_source_branch_after_merge: true,
    printing_merge_request_link_enabled: true,
    resolve_outdated_diff_discussions: false,
    shared_runners_enabled: true,
    ci_config_path: null,
    runners_token: runnersTokenOf(project),
    ...project.stored?.settings,
  };
}
