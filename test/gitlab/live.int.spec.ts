import { GitLabClient } from '../../src/gitlab/client';
import { verifyToken } from '../../src/gitlab/verify';
import { GitLabDouble } from '../support/gitlab-double';

/**
 * Against the GitLab at GITLAB_URL with GITLAB_TOKEN (and the group GITLAB_GROUP, if given) when
 * they are set; else against the test double, so that the same checks always run.
 */
const live =
  process.env.GITLAB_URL && process.env.GITLAB_TOKEN
    ? { url: process.env.GITLAB_URL, token: process.env.GITLAB_TOKEN, group: process.env.GITLAB_GROUP }
    : undefined;

describe(`the GitLab client against ${live ? `GitLab at ${live.url}` : 'the GitLab test double'}`, () => {
  let double: GitLabDouble | undefined;
  let target: { url: string; token: string; group?: string };
  beforeAll(async () => {
    if (live) {
      target = live;
      return;
    }
    double = await GitLabDouble.start();
    double.addUser('live-user');
    double.addGroup('live');
    double.addGroup('live/sub');
    double.addProject('live', 'one');
    double.addProject('live/sub', 'two');
    target = { url: double.url, token: double.addToken('live-user', { scopes: ['read_api', 'read_repository'] }), group: 'live' };
  });
  afterAll(async () => {
    await double?.close();
  });

  it('verifies the token as its own user, and reads the group a page at a time', async () => {
    const client = new GitLabClient({ baseUrl: target.url, token: target.token }, { timeoutMs: 15_000, maxRetryMs: 15_000 });
    const user = await client.currentUser();
    const verification = await verifyToken(client, { login: user.username, groupPath: target.group });
    expect(verification).toMatchObject({ ok: true, login: user.username, gitlabUserId: user.id });
    if (!verification.ok || target.group === undefined) return;
    expect(verification.groupId).toEqual(expect.any(Number));
    const page = await client.groupProjectsPage(verification.groupId!, 1, 20);
    expect(Array.isArray(page.items)).toBe(true);
    if (!live) expect(page.items.map((project) => project.fullPath).sort()).toEqual(['live/one', 'live/sub/two']);
    expect(JSON.stringify(page)).not.toContain(target.token);
  });
});
