import { Client as PgClient } from 'pg';
import { startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { describeWithPostgres } from '../support/databases';
import { eventually } from '../support/eventually';
import { testDatabaseUrl } from '../support/postgres-url';
import { ops } from '../support/scenario';

/** How long a change's answer waits here for the read models and the log (ms), instead of 30 s. */
const SETTLE_MS = 1500;

/**
 * A transaction left open on the PostgreSQL server with a transaction id holds back every reader
 * of the log: a change appended meanwhile is committed, but not readable until it ends. The
 * answer then cannot show the change, and must not look like a failure the client would answer by
 * sending the change again.
 */
describeWithPostgres('a change written but not shown in time', () => {
  let storage: TestStorage;
  let api: TestApi;

  beforeAll(async () => {
    storage = await testStorage('postgres');
    api = await startTestApi(storage, { service: { settleTimeoutMs: SETTLE_MS } });
  });
  afterAll(async () => {
    await api?.close();
    await storage?.dispose();
  });

  it('answers CHANGE_NOT_SHOWN, not an internal error; the change stays, and shows once the log is readable', async () => {
    const before = await api.service.backplane.store.readStream('tenant-default');
    const holder = new PgClient({ connectionString: testDatabaseUrl() });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      // A write of any kind gives the transaction an id: readers of the log wait for it to end.
      await holder.query('SELECT txid_current()');
      const answer = await api.request(api.rootToken, ops.createApiToken, { name: 'written-not-shown', role: 'VIEWER' });
      expect(answer.errors).toHaveLength(1);
      expect(answer.errors![0]).toMatchObject({
        message: expect.stringMatching(/^the change was written, but the read models did not show it in time: it is not undone; read it back later/),
        extensions: { code: 'CHANGE_NOT_SHOWN' },
      });
      // Written for good.
      const after = await api.service.backplane.store.readStream('tenant-default');
      expect(after.map((event) => event.type)).toEqual([...before.map((event) => event.type), 'ApiTokenCreated']);
      expect(after.at(-1)!.data).toMatchObject({ name: 'written-not-shown', role: 'VIEWER' });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    // Read back, it is there; sent again, it is refused as the duplicate it would be.
    await eventually(async () => {
      const { apiTokens } = await api.ok(api.rootToken, ops.apiTokens);
      expect(apiTokens.map((token: { name: string }) => token.name)).toContain('written-not-shown');
    });
    const again = await api.request(api.rootToken, ops.createApiToken, { name: 'written-not-shown', role: 'VIEWER' });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });
});
