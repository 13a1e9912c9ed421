import type { AppDeps } from '../../src/app/deps';
import { ssoApplication } from '../../src/app/sso';
import { DomainError } from '../../src/domain/errors';

const application = { clientId: 'backplane', clientSecret: 'not-a-real-secret', gitlabUrl: 'https://gitlab.example.com' };
const withSso = (configured: boolean) => ({ sso: { application: configured ? application : null, publicUrl: 'http://127.0.0.1' } }) as unknown as AppDeps;

function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('not refused');
}

/**
 * Adding an organization names authMethod and gitlabUrl, and a refusal names the one at fault; a
 * later sign-in of a pending organization (authorizeOrganization(id)) names neither, and its
 * refusal names no field the request does not hold.
 */
describe('the SSO application, or why not', () => {
  it('gives the application registered on the GitLab asked for', () => {
    expect(ssoApplication(withSso(true), application.gitlabUrl)).toBe(application);
  });

  it.each([
    ['SSO is not configured', false, application.gitlabUrl, 'authMethod'],
    ['SSO is set up for another GitLab', true, 'https://other.example.com', 'gitlabUrl'],
  ])('when %s, names the field of an organization being added, and none of a later sign-in', (_why, configured, gitlabUrl, field) => {
    const adding = refusal(() => ssoApplication(withSso(configured), gitlabUrl, true));
    expect(adding).toMatchObject({ code: 'INVALID_INPUT', field });
    const later = refusal(() => ssoApplication(withSso(configured), gitlabUrl));
    expect(later.code).toBe('INVALID_INPUT');
    expect(later.field).toBeUndefined();
    expect(later.message).toBe(adding.message);
  });
});
