import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { buildScenario, ops, secretValue, type Scenario } from '../support/scenario';

/** What a server that is not GitLab says: a page of its own, which must not be copied into an answer or the history. */
const FOREIGN_PAGE = `<html><body>internal wiki: ${'confidential-page-text '.repeat(40)}</body></html>`;
/** A name no GitLab gives, to see whether what a server says of itself is echoed whole. */
const HUGE_NAME = `impostor-${'x'.repeat(100_000)}`;

/** A plain HTTP server at a loopback address, answering every path as `answer` says. */
async function notGitLab(answer: (path: string) => { status: number; type: string; body: string }): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const { status, type, body } = answer(req.url ?? '/');
    res.writeHead(status, { 'content-type': type }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('what the API echoes back, on pglite', () => {
  let storage: TestStorage;
  let api: TestApi;
  let s: Scenario;
  const servers: Server[] = [];

  beforeAll(async () => {
    storage = await testStorage('pglite');
    // An attempt's time as deployed (30 s): a token check still gives up on a silent GitLab within 10 s.
    api = await startTestApi(storage, { env: { BACKPLANE_GITLAB_RETRY_MS: '200', BACKPLANE_GITLAB_TIMEOUT_MS: '30000' } });
    s = await buildScenario(api, api.rootToken, 'echo');
    await api.service.app.jobs.idle();
  });
  afterAll(async () => {
    for (const server of servers) server.close();
    await api?.close();
    await storage?.dispose();
  });

  /** Adds an organization on the server at `gitlabUrl`, with a token of a password entry of its own. */
  const addOrganizationOn = async (gitlabUrl: string, label: string) => {
    const password = await api.ok(api.rootToken, ops.storePassword, { input: { name: label, secret: secretValue(label.replace(/\W/g, '-')) } });
    const input = { name: 'echo/foreign', gitlabUrl, authMethod: 'TOKEN', login: 'echo-admin', passwordId: password.storePassword.id };
    return api.request(api.rootToken, ops.addOrganization, { input: { ...input, repositoriesSync: { times: ['01:00'] }, defaultDeviceId: s.deviceId } });
  };

  const failedAttempts = async () =>
    (await api.service.backplane.store.readAll({ filter: { eventTypes: ['GitLabVerificationFailed'] } })).map((event) => event.data as Record<string, unknown>);

  it('names a missing object without echoing an id of a megabyte', async () => {
    const id = 'p'.repeat(900_000);
    const response = await api.request(api.rootToken, ops.deletePlan, { id });
    expect(response.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(JSON.stringify(response).length).toBeLessThan(1_000);
    expect(response.errors?.[0]?.message).toMatch(/^no plan p{1,64}…$/);
  });

  it.each([
    ['a literal of the wrong type', `{ auditLog(first: "S3CRET${'s'.repeat(12_000)}") { edges { cursor } } }`],
    ['a string where a name belongs', `{ "S3CRET${'s'.repeat(12_000)}" }`],
  ])('cuts short what graphql quotes of %s', async (_what, query) => {
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${api.rootToken}` },
      body: JSON.stringify({ query }),
    });
    const text = await response.text();
    expect(response.status).toBe(400);
    expect(text.length).toBeLessThan(1_000);
  });

  it('quotes no more than a short message of any id a rule refuses', async () => {
    const organizationId = 'o'.repeat(900_000);
    const response = await api.request(api.rootToken, ops.addCredential, { input: { organizationId, login: 'echo-bot', passwordId: s.passwordId } });
    expect(response.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(JSON.stringify(response).length).toBeLessThan(1_000);
  });

  it.each([
    ['an error page', 404, 'text/html'],
    ['a server error page', 502, 'text/html'],
    ['a JSON message', 400, 'application/json'],
  ])('keeps %s of a server that is not GitLab out of the answer and the history', async (_what, status, type) => {
    const foreign = await notGitLab(() => ({ status, type, body: type === 'application/json' ? JSON.stringify({ message: FOREIGN_PAGE }) : FOREIGN_PAGE }));
    servers.push(foreign.server);
    const before = (await failedAttempts()).length;
    const response = await addOrganizationOn(foreign.url, `foreign ${status}`);
    expect(response.errors?.[0]?.extensions?.code).toBe('GITLAB_AUTH_FAILED');
    expect(response.errors?.[0]?.message).not.toMatch(/confidential|internal wiki|<html/);
    const attempts = await failedAttempts();
    expect(attempts).toHaveLength(before + 1);
    const attempt = attempts.at(-1)!;
    expect(attempt.failure).toMatch(/^[A-Z_]+$/);
    expect(String(attempt.reason)).not.toMatch(/confidential|internal wiki|<html/);
    expect(String(attempt.reason).length).toBeLessThanOrEqual(300);
  });

  it('cuts short a user name such a server claims', async () => {
    const foreign = await notGitLab((path) =>
      path.includes('/personal_access_tokens/self')
        ? {
            status: 200,
            type: 'application/json',
            body: JSON.stringify({ id: 1, name: 't', active: true, revoked: false, scopes: ['api'], expires_at: null, user_id: 1 }),
          }
        : path.includes('/user')
          ? { status: 200, type: 'application/json', body: JSON.stringify({ id: 1, username: HUGE_NAME }) }
          : { status: 404, type: 'application/json', body: '{"message":"404 Not Found"}' },
    );
    servers.push(foreign.server);
    const response = await addOrganizationOn(foreign.url, 'impostor');
    expect(response.errors?.[0]?.extensions?.code).toBe('GITLAB_AUTH_FAILED');
    expect(response.errors?.[0]?.message.length).toBeLessThan(400);
    const attempt = (await failedAttempts()).at(-1)!;
    expect(JSON.stringify(attempt).length).toBeLessThan(1_000);
  });

  it('gives up on a GitLab that takes the connection and never answers within the check’s bound, not an attempt’s', async () => {
    // Connections taken and left unanswered: an attempt of any other call would wait BACKPLANE_GITLAB_TIMEOUT_MS (30 s here).
    const sockets: Socket[] = [];
    const silent = createNetServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const response = await addOrganizationOn(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`, 'silent gitlab');
      const took = Date.now() - started;
      expect(response.errors?.[0]?.extensions?.code).toBe('GITLAB_AUTH_FAILED');
      expect(response.errors?.[0]?.message).toMatch(/did not answer/);
      // A check's attempt waits 10 s at most: the first attempt alone took the 30 s.
      expect(took).toBeLessThan(20_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
