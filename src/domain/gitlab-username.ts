import { DomainError } from './errors';

/**
 * A GitLab username as GitLab takes one: letters, digits, `_`, `-` and `.`, not starting with `-`,
 * not ending with `.`, `.git` or `.atom`, at most 255 characters. Any other login names no account,
 * so it is refused before its token goes to GitLab to be checked against it.
 */
const USERNAME = /^(?:[A-Za-z0-9_.][A-Za-z0-9_.-]{0,253}[A-Za-z0-9_-]|[A-Za-z0-9_])$/;

/** Refuses a login (trimmed) that no GitLab account can have; `field` names it in the message. */
export function checkGitLabUsername(login: string, field: string): void {
  if (!USERNAME.test(login) || /\.(?:git|atom)$/i.test(login)) {
    throw new DomainError('INVALID_INPUT', `${field} must be a GitLab username: letters, digits, "_", "-" and ".", not starting with "-" nor ending with "."`);
  }
}
