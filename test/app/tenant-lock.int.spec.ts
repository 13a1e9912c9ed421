import { TenantLock } from '../../src/app/tenant-lock';
import { ConcurrencyError } from '../../src/core/errors';
import type { SqlDatabase } from '../../src/sql/database';
import { describeWithPostgres, dropTestSchemas, newSchemaName, openPostgres, pglite } from '../support/databases';

const later = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A holder that stays in until let out. */
function hold(enter: (fn: () => Promise<void>) => Promise<void>) {
  let letOut!: () => void;
  const out = new Promise<void>((resolve) => (letOut = resolve));
  let isIn = false;
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const done = enter(async () => {
    isIn = true;
    entered();
    await out;
  });
  return { done, letOut, inside, isIn: () => isIn };
}

/** Two processes' locks (on PGlite, one process serves the folder: both are the same process's). */
function lockScenarios(open: () => Promise<[SqlDatabase, SqlDatabase]>) {
  let dbs: [SqlDatabase, SqlDatabase];
  let one: TenantLock;
  let other: TenantLock;
  beforeAll(async () => {
    dbs = await open();
    one = new TenantLock(dbs[0], { waitMs: 20_000 });
    other = new TenantLock(dbs[1], { waitMs: 20_000 });
  });
  afterAll(async () => {
    await Promise.all([...new Set(dbs)].map((db) => db.close()));
  });

  it('lets commands about different credentials of a tenant go side by side, and those about one credential take turns', async () => {
    const first = hold((fn) => one.runScoped('tenant-a', ['credential:1'], fn));
    await first.inside;
    // Another credential of the same tenant: in while the first is.
    expect(await other.runScoped('tenant-a', ['credential:2'], async () => 'beside')).toBe('beside');
    const same = hold((fn) => other.runScoped('tenant-a', ['credential:1'], fn));
    await later(200);
    expect(same.isIn()).toBe(false);
    first.letOut();
    await first.done;
    await same.inside;
    same.letOut();
    await same.done;
  });

  it('makes a command holding the tenant alone wait for the scoped ones, and them for it', async () => {
    const scoped = hold((fn) => one.runScoped('tenant-b', ['credential:1'], fn));
    await scoped.inside;
    const alone = hold((fn) => other.run('tenant-b', fn));
    await later(200);
    expect(alone.isIn()).toBe(false);
    // A scoped command that comes while the lone one waits goes after it.
    const late = hold((fn) => one.runScoped('tenant-b', ['credential:2'], fn));
    await later(200);
    expect(late.isIn()).toBe(false);
    scoped.letOut();
    await scoped.done;
    await alone.inside;
    expect(late.isIn()).toBe(false);
    alone.letOut();
    await alone.done;
    await late.inside;
    late.letOut();
    await late.done;
  });

  it('answers a wait past its deadline with a ConcurrencyError, and holds nothing after', async () => {
    const quick = new TenantLock(dbs[1], { waitMs: 100 });
    const holder = hold((fn) => one.run('tenant-c', fn));
    await holder.inside;
    await expect(quick.runScoped('tenant-c', ['credential:1'], async () => 'never')).rejects.toBeInstanceOf(ConcurrencyError);
    holder.letOut();
    await holder.done;
    expect(await other.run('tenant-c', async () => 'free')).toBe('free');
  });

  it('leaves tenants apart', async () => {
    const holder = hold((fn) => one.run('tenant-d', fn));
    await holder.inside;
    expect(await other.run('tenant-e', async () => 'other tenant')).toBe('other tenant');
    holder.letOut();
    await holder.done;
  });
}

describe('the tenant lock on PGlite', () => {
  lockScenarios(async () => {
    const db = await pglite.open();
    return [db, db];
  });
});

describeWithPostgres('the tenant lock across two processes on PostgreSQL', () => {
  afterAll(dropTestSchemas);
  lockScenarios(async () => {
    const schema = newSchemaName();
    return Promise.all([openPostgres(schema), openPostgres(schema)]);
  });

  it('lets the commands about other credentials through while many wait for one busy credential', async () => {
    const schema = newSchemaName();
    const [a, b] = await Promise.all([openPostgres(schema), openPostgres(schema)]);
    const busy = hold((fn) => new TenantLock(b).runScoped('tenant-z', ['credential:busy'], fn));
    const waiting: Promise<unknown>[] = [];
    try {
      await busy.inside;
      const lock = new TenantLock(a, { waitMs: 30_000 });
      for (let n = 0; n < 8; n++) waiting.push(lock.runScoped('tenant-z', ['credential:busy'], async () => n).catch((error) => error));
      await later(300);
      for (let n = 0; n < 6; n++) expect(await lock.runScoped('tenant-z', [`credential:${n}`], async () => `credential ${n}`)).toBe(`credential ${n}`);
    } finally {
      busy.letOut();
      await busy.done;
      await Promise.all(waiting);
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("keeps a few of the process's lock connections for other tenants while one tenant's scoped commands wait", async () => {
    const schema = newSchemaName();
    const [a, b] = await Promise.all([openPostgres(schema), openPostgres(schema)]);
    const busy = hold((fn) => new TenantLock(b).run('tenant-x', fn));
    const waiting: Promise<unknown>[] = [];
    try {
      await busy.inside;
      const lock = new TenantLock(a, { waitMs: 30_000 });
      // More than the process has lock connections (8), each about another credential of the busy tenant.
      for (let n = 0; n < 12; n++) waiting.push(lock.runScoped('tenant-x', [`credential:${n}`], async () => n).catch((error) => error));
      await later(300);
      // Another tenant still finds a connection, long before the busy one is let go.
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('stuck'), 15_000)));
      const other = await Promise.race([lock.run('tenant-y', async () => 'other tenant'), stuck]);
      clearTimeout(timer);
      expect(other).toBe('other tenant');
    } finally {
      busy.letOut();
      await busy.done;
      await Promise.all(waiting);
      await Promise.all([a.close(), b.close()]);
    }
  });
});
