/** What the benchmarks that drive a running Backplane set up first: plans with a credential to toggle. */
import { randomBytes } from 'node:crypto';
import type { GitLabDouble } from '../test/support/gitlab-double';
import { graphql } from './client';

/**
 * An organization with its main login, `credentials` additional credentials (one unless told) and
 * `plans` plans, as a client would set them up.
 */
export async function setUp(
  url: string,
  token: string,
  gitlab: GitLabDouble,
  plans: number,
  credentials = 1,
): Promise<{ planIds: string[]; credentialId: string; credentialIds: string[] }> {
  /** A password entry whose secret is a GitLab token of `login`, with the scopes a backup needs. */
  const store = async (name: string, login: string) => {
    const secret = `glpat-bench-${name}-${randomBytes(8).toString('hex')}`;
    gitlab.addUser(login);
    gitlab.addToken(login, { token: secret, scopes: ['read_api', 'read_repository'] });
    return (await graphql(url, token, 'mutation($i: StorePasswordInput!) { storePassword(input: $i) { id } }', { i: { name, secret } })).storePassword.id;
  };
  const device = (await graphql(url, token, '{ devices { id } }')).devices[0].id;
  gitlab.addGroup('bench');
  gitlab.addGroup('bench/group');
  const organization = (
    await graphql(url, token, 'mutation($i: AddOrganizationInput!) { addOrganization(input: $i) { id } }', {
      i: {
        name: 'bench/group',
        gitlabUrl: gitlab.url,
        authMethod: 'TOKEN',
        login: 'owner',
        passwordId: await store('main', 'owner'),
        repositoriesSync: { intervalMinutes: 60 },
        defaultDeviceId: device,
      },
    })
  ).addOrganization.id;
  const credentialIds: string[] = [];
  for (let index = 0; index < credentials; index++) {
    const login = index === 0 ? 'bot' : `bot${index}`;
    credentialIds.push(
      (
        await graphql(url, token, 'mutation($i: AddCredentialInput!) { addCredential(input: $i) { id } }', {
          i: { organizationId: organization, login, passwordId: await store(login, login) },
        })
      ).addCredential.id,
    );
  }
  const planIds: string[] = [];
  for (let index = 0; index < plans; index++) {
    const id = (
      await graphql(url, token, 'mutation($i: CreatePlanInput!) { createPlan(input: $i) { id } }', {
        i: { organizationId: organization, name: `plan ${index}` },
      })
    ).createPlan.id;
    await graphql(url, token, 'mutation($p: ID!) { setPlanAdditionalCredentials(planId: $p, enabled: true) { id } }', { p: id });
    planIds.push(id);
  }
  return { planIds, credentialId: credentialIds[0], credentialIds };
}
