import { DomainError } from '../../src/domain/errors';
import { checkGitLabUsername } from '../../src/domain/gitlab-username';

describe('a GitLab username', () => {
  // Older GitLab instances keep accounts from before its rule for new ones (no "." at the end, no ".git"): GitLab judges those.
  it.each(['a', '_', 'gavin', 'acme-admin', 'bot_1', 'first.last', '.dotfirst', 'ends-', 'legacy.', 'x'.repeat(255)])('takes %s', (login) => {
    expect(() => checkGitLabUsername(login, 'login')).not.toThrow();
  });

  it.each(["' OR 1=1 --", '23:60', 'ＡＢＣ', 'two words', '-lead', 'a/b', 'a@b', 'x'.repeat(256), ''])('refuses %j, naming the field', (login) => {
    expect(() => checkGitLabUsername(login, 'login')).toThrow(DomainError);
    expect(() => checkGitLabUsername(login, 'login')).toThrow(/^login must be a GitLab username/);
  });
});
