import type { GitLabDouble } from './gitlab-double';

/** The group and its parents on the double, as many as are not there yet. */
export function gitlabGroup(gitlab: GitLabDouble, fullPath: string): void {
  const parts = fullPath.split('/');
  for (let depth = 1; depth <= parts.length; depth++) {
    try {
      gitlab.addGroup(parts.slice(0, depth).join('/'));
    } catch (error) {
      if (!/exists/.test(String(error))) throw error;
    }
  }
}

/** A GitLab user whose token is `token` (what the password entry holds), with the scopes a backup needs unless told. */
export function gitlabAccount(gitlab: GitLabDouble, login: string, token: string, options: { scopes?: string[]; expiresAt?: string | null } = {}): void {
  try {
    gitlab.addUser(login);
  } catch (error) {
    if (!/exists/.test(String(error))) throw error;
  }
  gitlab.addToken(login, { token, scopes: options.scopes ?? ['read_api', 'read_repository'], ...(options.expiresAt !== undefined && { expiresAt: options.expiresAt }) });
}
