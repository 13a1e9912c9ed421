/**
 * A local failure of git: the client is missing or too old, a mirror is broken or is not the
 * repository asked for. A failure of the remote (GitLab refused, did not answer) is a GitLabError.
 */
export class GitError extends Error {
  constructor(message: string) {
    super(message.length > 500 ? `${message.slice(0, 500)}…` : message);
    this.name = 'GitError';
  }
}
