/**
 * The class of a GitLab API path, from a small fixed set: ids, paths and names in the URL never
 * reach a label.
 */
const CLASSES: [RegExp, string][] = [
  [/^\/user(\/|$)/, 'user'],
  [/^\/users(\/|$)/, 'users'],
  [/^\/personal_access_tokens(\/|$)/, 'tokens'],
  [/^\/namespaces(\/|$)/, 'namespaces'],
  [/^\/groups\/[^/]+\/projects(\/|$)/, 'group_projects'],
  [/^\/groups(\/|$)/, 'groups'],
  [/^\/projects\/[^/]+\/repository\/tree(\/|$)/, 'repository_tree'],
  [/^\/projects\/[^/]+\/repository(\/|$)/, 'repository'],
  [/^\/projects\/[^/]+\/(issues|merge_requests)\/[^/]+\/notes(\/|$)/, 'notes'],
  [/^\/projects\/[^/]+\/issues(\/|$)/, 'issues'],
  [/^\/projects\/[^/]+\/merge_requests(\/|$)/, 'merge_requests'],
  [/^\/projects\/[^/]+\/labels(\/|$)/, 'labels'],
  [/^\/projects\/[^/]+\/milestones(\/|$)/, 'milestones'],
  [/^\/projects\/[^/]+\/releases(\/|$)/, 'releases'],
  [/^\/projects(\/[^/]+)?\/?$/, 'projects'],
];

export const GITLAB_ENDPOINTS = [...new Set(CLASSES.map(([, name]) => name)), 'other'] as const;

export function endpointClass(path: string): string {
  const api = path.indexOf('/api/v4/');
  const rest = api >= 0 ? path.slice(api + '/api/v4'.length) : path;
  for (const [pattern, name] of CLASSES) if (pattern.test(rest)) return name;
  return 'other';
}
