import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedAuditEvents } from '../../bench/audit-seed';
import { TarGzWriter } from '../../src/archive/tar-gz';
import { writeBundle } from '../../src/audit-export/bundle';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { ops } from '../support/scenario';

const spoolsIn = async (dir: string) => {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((name) => name.startsWith('audit-export-')).map((name) => join(dir, name));
};

describe('a bundle’s events spooled while the archive is sent', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'backplane-spool-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('wait in a file readable by its owner only while nobody reads the archive, removed when the sending is cut', async () => {
    // 2 MB that gzip cannot shrink much: far more than the archive's buffers hold when nobody reads it.
    const lines = Array.from({ length: 64 }, () => `${randomBytes(24 * 1024).toString('base64')}\n`);
    const size = lines.reduce((sum, line) => sum + Buffer.byteLength(line), 0);
    const writer = new TarGzWriter();
    const hangUp = new AbortController();
    const writing = writeBundle(
      writer,
      {
        exportJson: '{}',
        keysJson: '{}',
        digestsJsonl: '',
        eventLines: async function* () {
          yield* lines;
        },
        spoolDir: dir,
        madeAt: new Date(),
      },
      hangUp.signal,
    );
    writing.catch(() => undefined);

    // The archive's output is never read: the sending waits, and the spooled events with it, for as long as the test looks.
    const file = await eventually(async () => {
      const [folder] = await spoolsIn(dir);
      expect(folder).toBeDefined();
      const spooled = join(folder, 'events.jsonl');
      expect((await stat(spooled)).size).toBe(size);
      return spooled;
    }, 60_000);
    expect((await stat(join(file, '..'))).mode & 0o777).toBe(0o700);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(file, '..'))).toEqual(['events.jsonl']);

    // As the route does when its client hangs up.
    hangUp.abort();
    writer.output.destroy();
    await expect(writing).rejects.toThrow();
    expect(await spoolsIn(dir)).toEqual([]);
  });
});

describe.each(apiStores)('a bundle’s events spooled by GET /audit/export, on %s', (store) => {
  let storage: TestStorage;
  let api: TestApi;

  beforeAll(async () => {
    storage = await testStorage(store);
    api = await startTestApi(storage);
    const tenantId = (await api.ok(api.rootToken, ops.me)).me.tenant.id;
    await seedAuditEvents(api.service.backplane.store, tenantId, 500, { noteBytes: 0 });
  }, 300_000);
  afterAll(async () => {
    await api?.close();
    await storage?.dispose();
  });

  it('are spooled in the data folder, and nothing is left there once the client hangs up', async () => {
    const scratch = api.service.app.backup.scratch;
    await mkdir(scratch, { recursive: true });
    // Seen as it is made, however soon the export ends and removes it.
    const made: string[] = [];
    const watcher = watch(scratch, (_kind, name) => {
      if (name?.startsWith('audit-export-')) made.push(name);
    });
    try {
      const hangUp = new AbortController();
      const response = await fetch(`${new URL('/audit/export', api.url)}?format=bundle`, {
        headers: { authorization: `Bearer ${api.rootToken}` },
        signal: hangUp.signal,
      });
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      expect((await reader.read()).done).toBe(false);
      await eventually(() => expect(made.length).toBeGreaterThan(0), 60_000);
      hangUp.abort();
      await reader.cancel().catch(() => undefined);
      await eventually(async () => expect(await spoolsIn(scratch)).toEqual([]), 30_000);
    } finally {
      watcher.close();
    }
  }, 300_000);
});
