import { listen, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { ops } from '../support/scenario';

const DEADLINE = 30_000;

describe('API tokens over their lifetime, on pglite', () => {
  let storage: TestStorage;
  let api: TestApi;
  let count = 0;
  const issue = async (role: string): Promise<{ token: string; id: string }> => {
    const { createApiToken } = await api.ok(api.rootToken, ops.createApiToken, { name: `${role.toLowerCase()} ${++count}`, role });
    return { token: createApiToken.token, id: createApiToken.principal.id };
  };

  beforeAll(async () => {
    storage = await testStorage('pglite');
    api = await startTestApi(storage);
  });
  afterAll(async () => {
    await api?.close();
    await storage?.dispose();
  });

  it('stops a token revoked while its WebSocket is open at its next operation, and ends its subscriptions', async () => {
    const operator = await issue('OPERATOR');
    const auditor = await issue('AUDITOR');
    const socket = api.ws(operator.token);
    // A subscription keeps the socket open: a client that connects again with a revoked token is refused at connection_init.
    const held = listen(socket, ops.planCredentialToggled);
    const run = (query: string, variables?: Record<string, unknown>) =>
      new Promise<{ data?: any; errors?: any[] }>((resolve) => {
        let result: { data?: any; errors?: any[] } = {};
        socket.subscribe(
          { query, variables },
          { next: (value) => (result = value as typeof result), error: (errors) => resolve({ errors: errors as any[] }), complete: () => resolve(result) },
        );
      });
    expect((await run(ops.registerDevice, { name: 'before revocation' })).data?.registerDevice.name).toBe('before revocation');

    const feed = listen(api.ws(auditor.token), ops.auditEvents);
    await eventually(
      async () => {
        await api.ok(api.rootToken, ops.registerDevice, { name: `ping ${++count}` });
        expect(feed.received.length).toBeGreaterThan(0);
      },
      DEADLINE,
      200,
    );

    await api.ok(api.rootToken, ops.revokeApiToken, { id: operator.id });
    await api.ok(api.rootToken, ops.revokeApiToken, { id: auditor.id });
    const refused = await run(ops.registerDevice, { name: 'after revocation' });
    expect(refused.errors?.map((error: any) => error.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    held.stop();

    await api.ok(api.rootToken, ops.registerDevice, { name: 'after the auditor left' });
    await eventually(() => expect(feed.errors.map((error: any) => error.extensions?.code ?? error.message)).toContain('UNAUTHENTICATED'), DEADLINE);
    expect(feed.received.map((event: any) => event.auditEvents.data.name)).not.toContain('after the auditor left');
    const { devices } = await api.ok(api.rootToken, ops.devices);
    expect(devices.map((device: any) => device.name)).not.toContain('after revocation');
  });

  it("lets no other administrator revoke the root administrator's token", async () => {
    const deputy = await issue('ADMIN');
    const { me } = await api.ok(api.rootToken, ops.me);
    const response = await api.request(deputy.token, ops.revokeApiToken, { id: me.id });
    expect(response.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await api.ok(api.rootToken, ops.me)).me.id).toBe(me.id);
  });

  it("refuses to revoke a tenant's last active ADMIN token", async () => {
    const { createTenant } = await api.ok(api.rootToken, ops.createTenant, { name: `lonely ${++count}` });
    const response = await api.request(createTenant.token, ops.revokeApiToken, { id: createTenant.principal.id });
    expect(response.errors?.[0].extensions?.code).toBe('CONFLICT');
    expect(response.errors?.[0].message).toMatch(/last active ADMIN token/);
    expect((await api.ok(createTenant.token, ops.me)).me.id).toBe(createTenant.principal.id);
  });

  it('reads null in an optional input as not given, and refuses a change that gives nothing', async () => {
    const { storePassword } = await api.ok(api.rootToken, ops.storePassword, {
      input: { name: `entry ${++count}`, secret: 'fake-token-null-input-check-0001', description: 'first' },
    });
    const nothing = await api.request(api.rootToken, ops.changePassword, { id: storePassword.id, input: { secret: null, description: null } });
    expect(nothing.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const described = await api.ok(api.rootToken, ops.changePassword, { id: storePassword.id, input: { secret: null, description: 'second' } });
    expect(described.changePassword).toMatchObject({ description: 'second', fingerprint: storePassword.fingerprint });
    // The read models kept up: a later write is answered at once.
    expect((await api.ok(api.rootToken, ops.registerDevice, { name: `after nulls ${count}` })).registerDevice.name).toBe(`after nulls ${count}`);
  });
});
