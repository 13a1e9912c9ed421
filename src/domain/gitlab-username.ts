import { DomainError } from './errors';

/**
 * The characters of a GitLab username: letters, digits, `_`, `-` and `.`, not starting with `-`, at
 * most 255. GitLab's rule for new accounts is narrower (no `.` at the end, no `.git` or `.atom`),
 * but older instances keep accounts from before it: those are left to GitLab to judge. A login of
 * any other character names no account, so it is refused before its token goes to GitLab.
 */
const USERNAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}$/;

/** Refuses a login (trimmed) that no GitLab account can have; `field` names it, in the message and as the field at fault. */
export function checkGitLabUsername(login: string, field: string): void {
  if (!USERNAME.test(login)) {
    throw new DomainError('INVALID_INPUT', `${field} must be a GitLab username: letters, digits, "_", "-" and ".", not starting with "-"`, field);
  }
}
