import type { TestApi } from './api-server';
import { gitlabAccount, gitlabGroup } from './gitlab-accounts';
import { eventually } from './eventually';

/** GraphQL documents the API suites share. */
export const ops = {
  me: 'query { me { id name role root tenant { id name } } }',
  devices: 'query { devices { id name builtIn } }',
  storePassword: 'mutation($input: StorePasswordInput!) { storePassword(input: $input) { id name description fingerprint } }',
  changePassword: 'mutation($id: ID!, $input: ChangePasswordInput!) { changePassword(id: $id, input: $input) { id fingerprint description } }',
  deletePassword: 'mutation($id: ID!) { deletePassword(id: $id) }',
  passwords: 'query { passwords { id name fingerprint } }',
  registerDevice: 'mutation($name: String!) { registerDevice(input: { name: $name }) { id name builtIn } }',
  addOrganization: `mutation($input: AddOrganizationInput!) { addOrganization(input: $input) {
      id name gitlabUrl provider authMethod login protectGroups autoAddNewRepositories version status
      repositoriesSync { times intervalMinutes } defaultDevice { id name } password { id fingerprint } } }`,
  organizations: 'query { organizations { id name } }',
  organization:
    'query($id: ID!) { organization(id: $id) { id name version protectGroups repositoriesSync { times intervalMinutes } defaultDevice { id } credentials { id login } } }',
  updateOrganizationSettings:
    'mutation($id: ID!, $input: OrganizationSettingsInput!, $v: Int) { updateOrganizationSettings(id: $id, input: $input, expectedVersion: $v) { id version protectGroups autoAddNewRepositories repositoriesSync { times intervalMinutes } } }',
  changeDefaultDevice: 'mutation($id: ID!, $deviceId: ID!) { changeDefaultDevice(id: $id, deviceId: $deviceId) { id defaultDevice { id name } } }',
  removeOrganization: 'mutation($id: ID!) { removeOrganization(id: $id) }',
  addCredential: 'mutation($input: AddCredentialInput!) { addCredential(input: $input) { id login fingerprint status organization { id } } }',
  removeCredential: 'mutation($id: ID!) { removeCredential(id: $id) { id status removedAt } }',
  credentials: 'query($organizationId: ID!) { credentials(organizationId: $organizationId) { id login fingerprint status } }',
  createPlan:
    'mutation($input: CreatePlanInput!) { createPlan(input: $input) { id name version additionalCredentialsEnabled credentials { credential { id } enabled effective } } }',
  deletePlan: 'mutation($id: ID!, $v: Int) { deletePlan(id: $id, expectedVersion: $v) }',
  plans: 'query($organizationId: ID) { plans(organizationId: $organizationId) { id name } }',
  plan: `query($id: ID!) { plan(id: $id) { id name version additionalCredentialsEnabled organization { id }
      credentials { credential { id login } enabled effective enabledAt enabledBy { id name role } } } }`,
  setPlanAdditionalCredentials:
    'mutation($planId: ID!, $enabled: Boolean!, $v: Int) { setPlanAdditionalCredentials(planId: $planId, enabled: $enabled, expectedVersion: $v) { id version additionalCredentialsEnabled } }',
  togglePlanCredential: `mutation($planId: ID!, $credentialId: ID!, $enabled: Boolean!, $v: Int) {
      togglePlanCredential(planId: $planId, credentialId: $credentialId, enabled: $enabled, expectedVersion: $v) {
        id version additionalCredentialsEnabled credentials { credential { id } enabled effective enabledBy { id } } } }`,
  updatePlanCredentials: `mutation($planId: ID!, $input: UpdatePlanCredentialsInput!, $v: Int) {
      updatePlanCredentials(planId: $planId, input: $input, expectedVersion: $v) {
        id version additionalCredentialsEnabled credentials { credential { id } enabled effective } } }`,
  planCredentialsAsOf:
    'query($planId: ID!, $at: DateTime!) { planCredentialsAsOf(planId: $planId, at: $at) { credential { id login } enabled effective enabledAt enabledBy { id name } } }',
  authorizeOrganization: 'mutation($id: ID!) { authorizeOrganization(id: $id) { id status authorizationUrl } }',
  verifyOrganization: 'mutation($id: ID!) { verifyOrganization(id: $id) { id token { failure scopes } } }',
  verifyCredential: 'mutation($id: ID!) { verifyCredential(id: $id) { id status token { failure } } }',
  syncRepositories: 'mutation($id: ID!) { syncRepositories(organizationId: $id) { id status } }',
  protectRepository: 'mutation($id: ID!) { protectRepository(id: $id) { id protected protectedBy { id } } }',
  unprotectRepository: 'mutation($id: ID!) { unprotectRepository(id: $id) { id protected } }',
  setLicenseSeats: 'mutation($count: Int!) { setLicenseSeats(count: $count) { limit used } }',
  repositories:
    'query($organizationId: ID!, $protected: Boolean, $first: Int, $after: String) { repositories(organizationId: $organizationId, protected: $protected, first: $first, after: $after) { totalCount edges { cursor node { id fullPath protected } } pageInfo { hasNextPage endCursor } } }',
  repositorySync: 'query($id: ID!) { repositorySync(id: $id) { id status added removed unchanged } }',
  licenseSeats: 'query { licenseSeats { limit used } }',
  createApiToken:
    'mutation($name: String!, $role: Role!) { createApiToken(input: { name: $name, role: $role }) { token principal { id name role root tenant { id } } } }',
  revokeApiToken: 'mutation($id: ID!) { revokeApiToken(id: $id) { id revokedAt } }',
  apiTokens: 'query { apiTokens { id name role revokedAt } }',
  createTenant: 'mutation($name: String!) { createTenant(name: $name) { token principal { id role root tenant { id name } } } }',
  auditLog: `query($filter: AuditFilter, $first: Int, $after: String) { auditLog(filter: $filter, first: $first, after: $after) {
      edges { cursor node { id cursor type occurredAt actor { id name role } streamName data correlationId causationId hash } }
      pageInfo { hasNextPage endCursor } } }`,
  verifyAuditLog: 'query { verifyAuditLog { ok checked firstBrokenCursor problem } }',
  auditEvents: 'subscription($filter: AuditFilter, $after: String) { auditEvents(filter: $filter, after: $after) { cursor type actor { id } data } }',
  planCredentialToggled:
    'subscription($planId: ID) { planCredentialToggled(planId: $planId) { cursor enabled plan { id } credential { id login } actor { id name } occurredAt } }',
};

/** A secret long enough to show its last four characters, unique per call so that a scan can look for it. */
export function secretValue(label: string): string {
  // As GitLab's tokens are: printable ASCII without spaces (a secret that is not is refused as a token).
  return `glpat-${label.replace(/[^\x21-\x7e]/g, '-')}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

export interface Scenario {
  secrets: string[];
  deviceId: string;
  passwordId: string;
  organizationId: string;
  credentialIds: string[];
  planId: string;
}

/**
 * A tenant's everyday set-up, through the API: a password entry per account, an organization,
 * two additional credentials, a plan with its switch on and one credential enabled.
 */
export async function buildScenario(api: TestApi, token: string, label = 'acme'): Promise<Scenario> {
  const secrets = [secretValue(`${label}-main`), secretValue(`${label}-bot1`), secretValue(`${label}-bot2`)];
  const passwordIds: string[] = [];
  for (const [index, secret] of secrets.entries()) {
    const data = await api.ok<{ storePassword: { id: string } }>(token, ops.storePassword, { input: { name: `${label} token ${index}`, secret } });
    passwordIds.push(data.storePassword.id);
  }
  const { devices } = await api.ok<{ devices: { id: string; name: string }[] }>(token, ops.devices);
  const deviceId = devices.find((device) => device.name === 'local')!.id;
  gitlabGroup(api.gitlab, `${label}/platform`);
  for (const [index, login] of [`${label}-admin`, `${label}-bot1`, `${label}-bot2`].entries()) gitlabAccount(api.gitlab, login, secrets[index]);
  const { addOrganization } = await api.ok<{ addOrganization: { id: string } }>(token, ops.addOrganization, {
    input: {
      name: `${label}/platform`,
      gitlabUrl: api.gitlab.url,
      authMethod: 'TOKEN',
      login: `${label}-admin`,
      passwordId: passwordIds[0],
      repositoriesSync: { times: ['02:00', '14:00'] },
      defaultDeviceId: deviceId,
    },
  });
  const credentialIds: string[] = [];
  for (const index of [1, 2]) {
    const { addCredential } = await api.ok<{ addCredential: { id: string } }>(token, ops.addCredential, {
      input: { organizationId: addOrganization.id, login: `${label}-bot${index}`, passwordId: passwordIds[index] },
    });
    credentialIds.push(addCredential.id);
  }
  const { createPlan } = await api.ok<{ createPlan: { id: string } }>(token, ops.createPlan, {
    input: { organizationId: addOrganization.id, name: `${label} nightly` },
  });
  await api.ok(token, ops.updatePlanCredentials, {
    planId: createPlan.id,
    input: { additionalCredentialsEnabled: true, credentials: [{ credentialId: credentialIds[0], enabled: true }] },
  });
  return { secrets, deviceId, passwordId: passwordIds[0], organizationId: addOrganization.id, credentialIds, planId: createPlan.id };
}

/** Waits until the organization's first sync has listed `count` repositories, then protects every one; returns their ids. */
export async function protectListedRepositories(api: TestApi, organizationId: string, count: number, deadlineMs = 20_000): Promise<string[]> {
  const listed = await eventually(async () => {
    const data = await api.ok(api.rootToken, LISTED_REPOSITORIES, { id: organizationId });
    expect(data.repositories.totalCount).toBe(count);
    return data.repositories.edges.map((edge: { node: { id: string } }) => edge.node.id);
  }, deadlineMs);
  for (const id of listed) await api.ok(api.rootToken, 'mutation($id: ID!) { protectRepository(id: $id) { id protected } }', { id });
  return listed;
}

const LISTED_REPOSITORIES = 'query($id: ID!) { repositories(organizationId: $id, first: 500, after: null) { totalCount edges { node { id } } } }';
