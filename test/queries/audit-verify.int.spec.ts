import { randomUUID } from 'node:crypto';
import { walkTenantEvents } from '../../src/app/audit';
import { contentHash, contentHashOfText } from '../../src/eventstore/hash-chain';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { JsonObject } from '../../src/eventstore/types';
import { type EventToCheck, verifyLog } from '../../src/eventstore/verify';
import { type StoredEvent, streamHeadsOf, tenantEventsPage } from '../../src/queries/audit-verify';
import type { SqlDatabase } from '../../src/sql/database';
import { seeded } from '../support/bad-inputs';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { jsonValue } from '../support/json-values';
import { readable } from '../support/readable';

afterAll(dropTestSchemas);

const PAGE = 7;

for (const database of testDatabases) {
  describe(`a tenant's events read for verification as the log holds them, on ${database.name}`, () => {
    let db: SqlDatabase;
    let store: SqlEventStore;
    /** The tenant's events, in log order. */
    const written: string[] = [];
    const streams = ['plan-a', 'plan-b', 'credential-c'];

    /** Every page of the tenant's events, through the log's index of them. */
    async function allRows(tenantId = 'mine'): Promise<StoredEvent[]> {
      const rows = [];
      let after: string | null = null;
      for (;;) {
        const page = await tenantEventsPage(db, tenantId, after, PAGE);
        rows.push(...page.events);
        if (page.next === null) return rows;
        after = page.next;
      }
    }

    /** The walk verifyAuditLog makes of them (leaving one out, if asked). */
    const walk = async (leftOut?: string) => {
      const events = (await allRows()).filter((event) => event.id !== leftOut);
      async function* pages(): AsyncGenerator<EventToCheck[]> {
        for (let i = 0; i < events.length; i += PAGE) yield events.slice(i, i + PAGE);
      }
      return verifyLog(store, { source: pages(), heads: (names) => streamHeadsOf(db, names) });
    };

    beforeAll(async () => {
      db = await database.open();
      store = await SqlEventStore.open(db);
      const random = seeded(7);
      let last = await store.appendToStream('other-1', [{ type: 'PlanCreated', data: {}, metadata: { tenantId: 'other' } }]);
      for (let n = 0; n < 60; n++) {
        const id = randomUUID();
        // Payloads that jsonb prints unlike JSON.stringify: keys in another order, numbers rewritten, escapes and unicode.
        const data = { n, value: jsonValue(random, 4, { jsonb: true }), nested: { zz: 1.5e300, a: [1e21, 0.1, -0, 'é\n"\\'], B: null } };
        const metadata = { tenantId: 'mine', actor: jsonValue(random, 2, { jsonb: true }) } as JsonObject;
        last = await store.appendToStream(streams[n % streams.length], [{ id, type: n % 2 ? 'PlanCredentialToggled' : 'PlanCreated', data, metadata }]);
        written.push(id);
        last = await store.appendToStream(`other-${n % 4}`, [{ type: 'PlanCreated', data: { n }, metadata: { tenantId: 'other' } }]);
      }
      await readable(store, last.position);
    });
    afterAll(async () => {
      await db.close();
    });

    it("reads the tenant's events alone, in log order, each hashed from its text as it was hashed when written", async () => {
      const rows = await allRows();
      expect(rows.map((event) => event.id)).toEqual(written);
      const all = await store.readAll({ maxCount: 1000 });
      expect(rows.map((event) => event.position)).toEqual(all.filter((event) => event.metadata.tenantId === 'mine').map((event) => event.position));
      for (const stream of streams) {
        const recorded = await store.readStream(stream);
        const read = rows.filter((event) => event.stream === stream);
        expect(read.map((event) => event.revision)).toEqual(recorded.map((event) => event.revision));
        // The text path and the parsed values give the same content hash, and it is the one chained when written.
        expect(read.map(contentHashOfText)).toEqual(recorded.map(contentHash));
      }
      expect(await walk()).toEqual({ eventsChecked: written.length, streamsChecked: streams.length, problem: null });
    });

    it("gives the heads of the named streams only, and finds a stream's removed tail", async () => {
      const heads = await streamHeadsOf(db, [...streams, 'no-such-stream']);
      expect([...heads.keys()].sort()).toEqual([...streams].sort());
      const [planB] = await store.readStream('plan-b', { fromRevision: 'end', direction: 'backwards', maxCount: 1 });
      expect(heads.get('plan-b')).toEqual({ revision: planB.revision, hash: planB.hash });

      // Gone from the log and from the walk, the stream ends a revision early: its recorded head says so.
      await db.query('CREATE TABLE kept AS SELECT * FROM events WHERE id = $1', [planB.id]);
      await db.query('DELETE FROM events WHERE id = $1', [planB.id]);
      try {
        expect((await walk(planB.id)).problem).toMatchObject({ kind: 'missing', stream: 'plan-b', revision: planB.revision });
      } finally {
        await db.query('INSERT INTO events SELECT * FROM kept');
        await db.query('DROP TABLE kept');
      }
      expect((await walk()).problem).toBeNull();
    });

    it('names an event whose data or metadata changed behind its back, and one moved to another tenant', async () => {
      const target = written[31];
      const [before] = await db.query<{ data: string; metadata: string }>('SELECT data::text AS data, metadata::text AS metadata FROM events WHERE id = $1', [
        target,
      ]);
      const restore = () => db.query('UPDATE events SET data = $2::jsonb, metadata = $3::jsonb WHERE id = $1', [target, before.data, before.metadata]);
      try {
        // A number written another way is the same value: the hash holds.
        await db.query(`UPDATE events SET data = jsonb_set(data, '{nested,zz}', '15e299') WHERE id = $1`, [target]);
        expect((await walk()).problem).toBeNull();
        await db.query(`UPDATE events SET data = jsonb_set(data, '{nested,zz}', '1.5e301') WHERE id = $1`, [target]);
        expect((await walk()).problem).toMatchObject({ kind: 'altered', eventId: target });
        await restore();
        await db.query(`UPDATE events SET metadata = jsonb_set(metadata, '{tenantId}', '"other"') WHERE id = $1`, [target]);
        // The event says it is another tenant's: not read, its stream breaks there.
        expect((await allRows()).some((event) => event.id === target)).toBe(false);
        const [moved] = (await store.readStream('plan-b')).filter((event) => event.id === target);
        expect((await walk()).problem).toMatchObject({ stream: 'plan-b', revision: moved.revision });
      } finally {
        await restore();
      }
      expect((await walk()).problem).toBeNull();
    });

    it('reads the events whose metadata names the tenant as a string of that text, and no other', async () => {
      const appended = await store.appendToStream('numbered', [
        { type: 'PlanCreated', data: {}, metadata: { tenantId: 7 } },
        { type: 'PlanCreated', data: {}, metadata: { tenantId: ['7'] } },
        { type: 'PlanCreated', data: {}, metadata: { tenantId: '7' } },
      ]);
      await readable(store, appended.position);
      const read = await allRows('7');
      expect(read.map((event) => event.revision)).toEqual([2n]);
      expect(await allRows('nobody')).toEqual([]);
    });

    it("walks the tenant's events in pages, each read while the one before is hashed, and names what was altered", async () => {
      // Pages of 3: twenty of them.
      expect(await walkTenantEvents({ store, db }, 'mine', 3)).toEqual({ eventsChecked: written.length, streamsChecked: streams.length, problem: null });
      const target = written[44];
      await db.query(`UPDATE events SET data = jsonb_set(data, '{n}', '-1') WHERE id = $1`, [target]);
      try {
        expect((await walkTenantEvents({ store, db }, 'mine', 3)).problem).toMatchObject({ kind: 'altered', eventId: target });
      } finally {
        await db.query(`UPDATE events SET data = jsonb_set(data, '{n}', '44') WHERE id = $1`, [target]);
      }
    });

    // PGlite has one connection: a transaction left open there holds back every other statement,
    // so no other can be committed after it. On PostgreSQL only.
    if (database.name === 'postgres') {
      it('reads no event at or above the oldest open transaction; the walk checks such an event through its stream', async () => {
        const late = randomUUID();
        let appended: Promise<unknown> | undefined;
        await db.transaction(async (tx) => {
          // An open transaction with an id: what commits after it is not read yet, whatever the tenant.
          await tx.query('SELECT pg_current_xact_id()');
          // The append waits until its events can be read: it is not awaited until the transaction ends.
          appended = store.appendToStream('plan-a', [{ id: late, type: 'PlanDeleted', data: { late: 'é\u0001' }, metadata: { tenantId: 'mine' } }]);
          appended.catch(() => undefined);
          for (let tries = 0; (await db.query('SELECT 1 FROM events WHERE id = $1', [late])).length === 0; tries++) {
            if (tries > 500) throw new Error('the append did not commit');
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          expect((await allRows()).map((event) => event.id)).toEqual(written);
          // Its stream's head names it: the walk reads it from the stream.
          expect(await walkTenantEvents({ store, db }, 'mine', 4)).toEqual({
            eventsChecked: written.length + 1,
            streamsChecked: streams.length,
            problem: null,
          });
        });
        await appended;
        written.push(late);
        const last = await store.appendToStream('other-9', [{ type: 'PlanCreated', data: {}, metadata: { tenantId: 'other' } }]);
        await readable(store, last.position);
        expect((await allRows()).map((event) => event.id)).toEqual(written);
      });
    }

    // Last: it removes an event for good.
    it('finds an event removed from the log as a gap in its stream', async () => {
      const [removed] = (await store.readStream('plan-b')).filter((event) => event.id === written[10]);
      await db.query('DELETE FROM events WHERE id = $1', [written[10]]);
      expect((await walkTenantEvents({ store, db }, 'mine', 4)).problem).toMatchObject({ kind: 'missing', stream: 'plan-b', revision: removed.revision });
    });
  });
}
