import type { TestApi } from '../support/api-server';
import { gitlabAccount, gitlabGroup } from '../support/gitlab-accounts';
import type { GitLabDouble } from '../support/gitlab-double';
import { ops, secretValue } from '../support/scenario';

const DAY_MS = 86_400_000;

/** The day `offsetDays` from now by the real clock, as GitLab gives a token's expiry. */
export const dayFromNow = (offsetDays: number) => new Date(Date.now() + offsetDays * DAY_MS).toISOString().slice(0, 10);

/**
 * An organization on the GitLab double, added through the API with a main login whose token never
 * expires; `addCredential` adds an account whose token expires `expiresInDays` from now.
 */
export async function organizationOnDouble(api: TestApi, gitlab: GitLabDouble, group: string) {
  const store = async (label: string) => {
    const secret = secretValue(label);
    return { secret, passwordId: (await api.ok(api.rootToken, ops.storePassword, { input: { name: label, secret } })).storePassword.id as string };
  };
  const main = await store(`${group} main`);
  gitlabGroup(gitlab, group);
  gitlabAccount(gitlab, `${group.replaceAll('/', '-')}-admin`, main.secret);
  const localDevice = (await api.ok(api.rootToken, ops.devices)).devices.find((d: { name: string }) => d.name === 'local').id;
  const { addOrganization } = await api.ok(api.rootToken, ops.addOrganization, {
    input: {
      name: group,
      gitlabUrl: gitlab.url,
      authMethod: 'TOKEN',
      login: `${group.replaceAll('/', '-')}-admin`,
      passwordId: main.passwordId,
      defaultDeviceId: localDevice,
      repositoriesSync: { intervalMinutes: 1440 },
    },
  });
  const organizationId = addOrganization.id as string;
  return {
    organizationId,
    async addCredential(login: string, expiresInDays: number): Promise<string> {
      const { secret, passwordId } = await store(login);
      gitlabAccount(gitlab, login, secret, { expiresAt: dayFromNow(expiresInDays) });
      return (await api.ok(api.rootToken, ops.addCredential, { input: { organizationId, login, passwordId } })).addCredential.id;
    },
  };
}
