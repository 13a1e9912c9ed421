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

/** Whose each token is, per double: a token registered again for its own user is already there. */
const owners = new WeakMap<GitLabDouble, Map<string, string>>();

/**
 * A GitLab user whose token is `token` (what the password entry holds), with the scopes a backup
 * needs unless told. Asking again for the same login and token is a no-op; a token of another user
 * is refused, since GitLab would answer for one of them only.
 */
export function gitlabAccount(gitlab: GitLabDouble, login: string, token: string, options: { scopes?: string[]; expiresAt?: string | null } = {}): void {
  const tokens = owners.get(gitlab) ?? new Map<string, string>();
  owners.set(gitlab, tokens);
  const owner = tokens.get(token);
  if (owner !== undefined) {
    if (owner.toLowerCase() === login.toLowerCase()) return;
    throw new Error(`this token is already ${owner}'s on the GitLab double, not ${login}'s`);
  }
  try {
    gitlab.addUser(login);
  } catch (error) {
    if (!/exists/.test(String(error))) throw error;
  }
  tokens.set(token, login);
  gitlab.addToken(login, {
    token,
    scopes: options.scopes ?? ['read_api', 'read_repository'],
    ...(options.expiresAt !== undefined && { expiresAt: options.expiresAt }),
  });
}
