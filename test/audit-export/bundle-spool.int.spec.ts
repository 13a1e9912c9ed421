import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { seedAuditEvents } from '../../bench/audit-seed';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { ops } from '../support/scenario';

// More than the sockets between server and client hold: a client that stops reading holds the sending.
const EVENTS = 20_000;

describe.each(apiStores)('a bundle’s events spooled while it is sent, on %s', (store) => {
  let storage: TestStorage;
  let api: TestApi;

  beforeAll(async () => {
    storage = await testStorage(store);
    api = await startTestApi(storage);
    const tenantId = (await api.ok(api.rootToken, ops.me)).me.tenant.id;
    await seedAuditEvents(api.service.backplane.store, tenantId, EVENTS, { noteBytes: 0 });
  }, 300_000);
  afterAll(async () => {
    await api?.close();
    await storage?.dispose();
  });

  const spools = async () => {
    const names = await readdir(api.service.app.backup.scratch).catch(() => [] as string[]);
    return names.filter((name) => name.startsWith('audit-export-')).map((name) => join(api.service.app.backup.scratch, name));
  };

  it('keeps them in the data folder, readable by its owner only, while a client holds the sending, and removes them when it hangs up', async () => {
    const hangUp = new AbortController();
    const response = await fetch(`${new URL('/audit/export', api.url)}?format=bundle`, {
      headers: { authorization: `Bearer ${api.rootToken}` },
      signal: hangUp.signal,
    });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false);

    // The client reads no more: the spooled events wait in their file while the sending is held.
    const [folder] = await eventually(async () => {
      const found = await spools();
      expect(found).toHaveLength(1);
      expect(await readdir(found[0])).toEqual(['events.jsonl']);
      return found;
    }, 120_000);
    expect((await stat(folder)).mode & 0o777).toBe(0o700);
    expect((await stat(join(folder, 'events.jsonl'))).mode & 0o777).toBe(0o600);

    hangUp.abort();
    await reader.cancel().catch(() => undefined);
    await eventually(async () => expect(await spools()).toEqual([]), 30_000);
  }, 300_000);
});
