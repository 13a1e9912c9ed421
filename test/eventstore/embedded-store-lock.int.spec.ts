import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreLockedError } from '../../src/sql/folder-lock';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { PgliteDatabase } from '../../src/sql/pglite-database';
import { spawnTs } from '../support/child';
import { copyPgliteCluster } from '../support/pglite-cluster';

const holder = join(__dirname, '../fixtures/hold-embedded-store.ts');

async function readHolderEvents(folder: string): Promise<unknown[]> {
  const db = await PgliteDatabase.open(folder);
  try {
    const store = await SqlEventStore.open(db);
    return (await store.readStream('holder-1')).map((event) => event.data);
  } finally {
    await db.close();
  }
}

describe('the embedded store serves one process', () => {
  let folder: string;
  beforeEach(async () => {
    folder = mkdtempSync(join(tmpdir(), 'backplane-lock-'));
    await copyPgliteCluster(folder);
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  it('refuses a second process with an error naming the holder, and damages nothing', async () => {
    const child = spawnTs(holder, [folder]);
    try {
      await child.waitFor(/^holding/, 60000);
      const error = await PgliteDatabase.open(folder).catch((e) => e);
      expect(error).toBeInstanceOf(StoreLockedError);
      expect(error).toMatchObject({ code: 'STORE_LOCKED', holderPid: child.process.pid });
      expect(error.message).toContain(`in use by process ${child.process.pid}`);
      expect(error.message).toContain(folder);
    } finally {
      child.process.kill('SIGTERM');
    }
    expect(await child.exited).toBe(0);
    expect(existsSync(join(folder, 'backplane.lock'))).toBe(false);
    expect(await readHolderEvents(folder)).toEqual([{ pid: child.process.pid }]);
  });

  it('takes over the lock left by a process that was killed, and finds its committed events', async () => {
    const child = spawnTs(holder, [folder]);
    await child.waitFor(/^holding/, 60000);
    child.process.kill('SIGKILL');
    await child.exited;
    expect(existsSync(join(folder, 'backplane.lock'))).toBe(true);
    expect(await readHolderEvents(folder)).toEqual([{ pid: child.process.pid }]);
  });

  it('takes over a lock bearing its own pid but written before it started (a container restarted as pid 1)', async () => {
    const lock = join(folder, 'backplane.lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), startedAt: '2020-01-01T00:00:00.000Z' }));
    const db = await PgliteDatabase.open(folder);
    try {
      expect(JSON.parse(readFileSync(lock, 'utf8')).startedAt).not.toBe('2020-01-01T00:00:00.000Z');
    } finally {
      await db.close();
    }
  });

  it('refuses a second open in the same process too', async () => {
    const db = await PgliteDatabase.open(folder);
    try {
      await expect(PgliteDatabase.open(folder)).rejects.toThrow(`in use by process ${process.pid}`);
    } finally {
      await db.close();
    }
  });
});

describe('a new embedded store', () => {
  let folder: string;
  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'backplane-new-store-'));
  });
  afterEach(() => rmSync(folder, { recursive: true, force: true }));

  // Creating a cluster starts a process of its own: minutes on a loaded machine, seconds on a quiet one.
  it('creates its cluster in a folder that does not exist yet or is empty, and leaves no half-built folder', async () => {
    const db = await PgliteDatabase.open(folder);
    try {
      expect((await db.query<{ one: number }>('SELECT 1 AS one'))[0].one).toBe(1);
    } finally {
      await db.close();
    }
    expect(existsSync(join(folder, 'pgdata', 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(folder, 'pgdata.creating'))).toBe(false);
  }, 300_000);

  it('refuses a pgdata folder that holds files but no cluster, naming it, and touches nothing', async () => {
    mkdirSync(join(folder, 'pgdata'));
    writeFileSync(join(folder, 'pgdata', 'something'), 'kept');
    await expect(PgliteDatabase.open(folder)).rejects.toThrow(`${join(folder, 'pgdata')} holds files but no database cluster`);
    expect(readFileSync(join(folder, 'pgdata', 'something'), 'utf8')).toBe('kept');
    expect(existsSync(join(folder, 'backplane.lock'))).toBe(false);
  });
});
