import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { eventFeed, FeedTooSlowError } from '../../src/app/event-feed';
import { logTailOf } from '../../src/app/log-tail';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { RecordedEvent } from '../../src/eventstore/types';
import type { SqlDatabase } from '../../src/sql/database';
import { listen, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { describeWithPostgres, dropTestSchemas, newSchemaName, openPostgres, testDatabases } from '../support/databases';
import { eventually } from '../support/eventually';
import { GitLabDouble } from '../support/gitlab-double';
import { testDatabaseUrl } from '../support/postgres-url';
import { ops } from '../support/scenario';

const DEADLINE = 30_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The database as the store sees it, counting every statement and transaction the store sends. */
function counted(db: SqlDatabase): { db: SqlDatabase; sent: () => number } {
  let sent = 0;
  const wrapped = new Proxy(db, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property === 'query' || property === 'transaction' || property === 'exec') {
        return (...args: unknown[]) => {
          sent += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { db: wrapped, sent: () => sent };
}

/** Feeds opened by a test, each ended after it. */
const open: AsyncIterableIterator<unknown>[] = [];

/** Reads a feed in the background into an array, until it ends. */
function drain<T>(feed: AsyncIterableIterator<T>): { items: T[]; ended: Promise<void>; leave: () => Promise<unknown> } {
  open.push(feed);
  const items: T[] = [];
  const ended = (async () => {
    for await (const item of feed) items.push(item);
  })();
  ended.catch(() => undefined);
  return { items, ended, leave: () => feed.return!() };
}

async function endFeeds(): Promise<void> {
  for (const feed of open.splice(0)) await feed.return!();
}

const append = (store: SqlEventStore, n: number) => store.appendToStream(`thing-${randomUUID()}`, [{ type: 'ThingHappened', data: { n } }]);
const ids = (events: RecordedEvent[]) => events.map((event) => event.id);

describe.each(testDatabases)('the log tail on $name', (database) => {
  let db: SqlDatabase;
  let store: SqlEventStore;
  let sent: () => number;

  beforeEach(async () => {
    const opened = counted(await database.open());
    db = opened.db;
    sent = opened.sent;
    // A fast poll for when other processes' appends cannot be heard: the idle test tells the two apart.
    store = await SqlEventStore.open(db, { pollIntervalMs: 20 });
  });
  afterEach(async () => {
    await endFeeds();
    await store.close();
    await db.close();
  });
  afterAll(dropTestSchemas);

  it('costs no queries while 100 listeners wait, and none once the last has left (each polling alone every 20 ms would send 10,000)', async () => {
    const feeds = Array.from({ length: 100 }, () => drain(eventFeed(store, { from: 'end' }, (event) => event)));
    await eventually(() => expect(logTailOf(store).size).toBe(100), DEADLINE);
    await append(store, 1);
    await eventually(() => expect(feeds.every((feed) => feed.items.length === 1)).toBe(true), DEADLINE);
    // Over PostgreSQL, the tail polls fast until its LISTEN is up.
    await eventually(() => expect(db.notifications?.listening ?? true).toBe(true), DEADLINE);
    await sleep(200);

    const before = sent();
    await sleep(2000);
    // One read at most: the fallback poll (every 5 s) may fall in the window.
    expect(sent() - before).toBeLessThanOrEqual(1);

    await append(store, 2);
    await eventually(() => expect(feeds.every((feed) => feed.items.length === 2)).toBe(true), DEADLINE);
    await Promise.all(feeds.map((feed) => feed.leave()));
    expect(logTailOf(store).size).toBe(0);
  });

  it('stops reading the log when the last subscriber leaves', async () => {
    const iterators = Array.from({ length: 5 }, () => eventFeed(store, { from: 'end' }, (event) => event));
    open.push(...iterators);
    await eventually(() => expect(logTailOf(store).size).toBe(5), DEADLINE);
    for (const iterator of iterators) await iterator.return!();
    expect(logTailOf(store).size).toBe(0);
    await sleep(100);
    const before = sent();
    // A tail still running would read the log as soon as this process appends. The append sends
    // one statement, and on PostgreSQL one more to tell other processes.
    await append(store, 1);
    await sleep(500);
    expect(sent() - before).toBe(db.notifications ? 2 : 1);
  });

  it('hands a subscriber that resumes after a cursor its backlog from the log, then the live tail, nothing skipped or repeated, while events are written', async () => {
    for (let n = 0; n < 30; n++) await append(store, n);
    const cursor = (await store.readAll()).at(9)!.position;
    // The tail runs, ahead of the cursor, for another listener.
    const other = drain(eventFeed(store, { from: 'end' }, (event) => event));
    await eventually(() => expect(logTailOf(store).size).toBe(1), DEADLINE);

    let writing = true;
    const writer = (async () => {
      for (let n = 30; writing || n < 60; n++) {
        await append(store, n);
        if (n >= 200) break;
      }
    })();
    await sleep(50);
    const resumed = drain(eventFeed(store, { from: cursor }, (event) => event));
    await eventually(() => expect(logTailOf(store).size).toBe(2), DEADLINE);
    await sleep(100);
    writing = false;
    await writer;

    const expected = await store.readAll({ fromPosition: cursor });
    expect(expected.length).toBeGreaterThanOrEqual(50);
    await eventually(() => expect(resumed.items.length).toBeGreaterThanOrEqual(expected.length), DEADLINE);
    await sleep(200);
    expect(ids(resumed.items as RecordedEvent[])).toEqual(ids(expected));
    expect(other.items.length).toBeGreaterThan(0);
  });

  it('ends a subscriber that falls behind with SUBSCRIPTION_TOO_SLOW, while a fast one keeps receiving', async () => {
    const slow = eventFeed(store, { from: 'end', maxQueued: 5 }, (event) => event);
    open.push(slow);
    const fast = drain(eventFeed(store, { from: 'end', maxQueued: 5 }, (event) => event));
    await eventually(() => expect(logTailOf(store).size).toBe(2), DEADLINE);

    for (let n = 0; n < 20; n++) {
      await append(store, n);
      await eventually(() => expect(fast.items.length).toBe(n + 1), DEADLINE);
    }
    // The slow one has left the tail; the fast one has every event, in order.
    expect(logTailOf(store).size).toBe(1);
    expect(fast.items.map((event) => (event as RecordedEvent).data)).toEqual(Array.from({ length: 20 }, (_, n) => ({ n })));

    const last = await slow.next();
    expect(last.value).toBeInstanceOf(FeedTooSlowError);
    expect((last.value as FeedTooSlowError).code).toBe('SUBSCRIPTION_TOO_SLOW');
    expect(await slow.next()).toEqual({ value: undefined, done: true });
  });
});

describeWithPostgres('the log tail across processes on PostgreSQL', () => {
  afterAll(dropTestSchemas);

  it("wakes on another process's append through LISTEN, with no polling to find it", async () => {
    const schema = newSchemaName();
    const [readerDb, writerDb] = [await openPostgres(schema), await openPostgres(schema)];
    // Polling that would find the event only after the test's deadline: only the notification can bring it in time.
    const reader = await SqlEventStore.open(readerDb, { pollIntervalMs: 120_000, fallbackPollMs: 120_000 });
    const writer = await SqlEventStore.open(writerDb);
    try {
      const feed = drain(eventFeed(reader, { from: 'end' }, (event) => event));
      await eventually(() => expect(readerDb.notifications.listening).toBe(true), DEADLINE);
      await eventually(() => expect(logTailOf(reader).size).toBe(1), DEADLINE);
      await append(writer, 1);
      await eventually(() => expect(feed.items).toHaveLength(1), 10_000);
    } finally {
      await endFeeds();
      await reader.close();
      await writer.close();
      await readerDb.close();
      await writerDb.close();
    }
  });

  it('listens again after its connection drops, and reads what was written meanwhile', async () => {
    const schema = newSchemaName();
    const [readerDb, writerDb] = [await openPostgres(schema), await openPostgres(schema)];
    const reader = await SqlEventStore.open(readerDb, { pollIntervalMs: 120_000, fallbackPollMs: 120_000 });
    const writer = await SqlEventStore.open(writerDb);
    const admin = new Client({ connectionString: testDatabaseUrl() });
    await admin.connect();
    try {
      const feed = drain(eventFeed(reader, { from: 'end' }, (event) => event));
      await eventually(() => expect(readerDb.notifications.listening).toBe(true), DEADLINE);
      await eventually(() => expect(logTailOf(reader).size).toBe(1), DEADLINE);
      const [{ channel }] = await writerDb.query<{ channel: string }>("SELECT 'backplane_log_' || md5(current_schema()) AS channel");
      const cut = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'backplane-notifications' AND query = $1",
        [`LISTEN "${channel}"`],
      );
      expect(cut.rowCount).toBe(1);
      // Written while nobody listens: no notification will ever tell of it.
      await eventually(() => expect(readerDb.notifications.listening).toBe(false), DEADLINE);
      await append(writer, 1);
      await eventually(() => expect(readerDb.notifications.listening).toBe(true), DEADLINE);
      await eventually(() => expect(feed.items).toHaveLength(1), 10_000);
      await append(writer, 2);
      await eventually(() => expect(feed.items).toHaveLength(2), 10_000);
    } finally {
      await admin.end();
      await endFeeds();
      await reader.close();
      await writer.close();
      await readerDb.close();
      await writerDb.close();
    }
  });
});

type Live = { cursor: string; type: string };

// The database is the only thing the two services share: what one delivers of the other's writes came through PostgreSQL.
describeWithPostgres('subscribers on two Backplane services on one PostgreSQL schema', () => {
  let storage: TestStorage;
  let gitlab: GitLabDouble;
  let apis: TestApi[];

  beforeAll(async () => {
    storage = await testStorage('postgres');
    gitlab = await GitLabDouble.start();
    const first = await startTestApi(storage, { gitlab });
    apis = [first, await startTestApi(storage, { rootToken: first.rootToken, gitlab })];
  });
  afterAll(async () => {
    for (const api of apis ?? []) await api.close();
    await gitlab?.close();
    await storage?.dispose();
  });

  it('delivers every event to each of 40 subscribers per service, in order, once', async () => {
    const feeds = apis.flatMap((api) =>
      [api.ws(api.rootToken), api.ws(api.rootToken)].flatMap((client) =>
        Array.from({ length: 20 }, () => listen<{ auditEvents: Live }>(client, 'subscription { auditEvents { cursor type } }')),
      ),
    );
    let poked = 0;
    const store = (api: TestApi) => api.ok(api.rootToken, ops.storePassword, { input: { name: `password ${poked++}`, secret: `secret-${randomUUID()}` } });
    // A subscription starts some time after the client asks: write until each has received something.
    await eventually(async () => {
      await store(apis[0]);
      await eventually(() => expect(feeds.every((feed) => feed.received.length > 0)).toBe(true), 2000);
    }, DEADLINE);

    // Both services write at once.
    await Promise.all(Array.from({ length: 12 }, (_, n) => store(apis[n % 2])));
    const { auditLog } = await apis[0].ok(apis[0].rootToken, ops.auditLog, { first: 500 });
    const log: Live[] = auditLog.edges.map((edge: { node: Live }) => edge.node);
    const last = log.at(-1)!.cursor;
    await eventually(() => expect(feeds.every((feed) => feed.received.at(-1)?.auditEvents.cursor === last)).toBe(true), DEADLINE);
    for (const feed of feeds) {
      const received = feed.received.map((item) => item.auditEvents.cursor);
      const from = log.findIndex((event) => event.cursor === received[0]);
      expect(from).toBeGreaterThanOrEqual(0);
      expect(received).toEqual(log.slice(from).map((event) => event.cursor));
      expect(feed.errors).toEqual([]);
    }
  });
});
