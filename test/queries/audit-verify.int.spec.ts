import { randomUUID } from 'node:crypto';
import { auditLogProjection } from '../../projections/audit-log';
import { walkTenantEvents } from '../../src/app/audit';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { contentHash, contentHashOfText } from '../../src/eventstore/hash-chain';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { JsonObject } from '../../src/eventstore/types';
import { type EventToCheck, verifyLog } from '../../src/eventstore/verify';
import { auditHistoryReach, historyPageEnds, type StoredEvent, recordedHistoryPage, streamHeadsOf } from '../../src/queries/audit-verify';
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

    /** Every page of the tenant's events, through the audit history. */
    async function allRows(): Promise<{ ordinal: string; ours: boolean; event: StoredEvent | null }[]> {
      const reach = (await auditHistoryReach(db))!;
      const rows = [];
      let after = '0';
      for (;;) {
        const page = await recordedHistoryPage(db, 'mine', after, reach.lastOrdinal, PAGE);
        rows.push(...page);
        if (page.length < PAGE) return rows;
        after = page[page.length - 1].ordinal;
      }
    }

    /** The walk verifyAuditLog makes of them (leaving one out, if asked). */
    const walk = async (leftOut?: string) => {
      const events = (await allRows()).filter((row) => row.ours && row.event!.id !== leftOut).map((row) => row.event!);
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
      expect(await new ProjectionRunner({ store, db, projection: auditLogProjection, maxBatch: 25 }).catchUp()).toBe(true);
    });
    afterAll(async () => {
      await db.close();
    });

    it("reads the tenant's events alone, in log order, each hashed from its text as it was hashed when written", async () => {
      const rows = await allRows();
      expect(rows.map((row) => row.event?.id)).toEqual(written);
      expect(rows.every((row) => row.ours)).toBe(true);
      for (const stream of streams) {
        const recorded = await store.readStream(stream);
        const read = rows.filter((row) => row.event!.stream === stream).map((row) => row.event!);
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
        // The history still lists it as the tenant's; the event says otherwise: skipped, its stream breaks there.
        expect((await allRows()).find((row) => row.event?.id === target)?.ours).toBe(false);
        const [moved] = (await store.readStream('plan-b')).filter((event) => event.id === target);
        expect((await walk()).problem).toMatchObject({ stream: 'plan-b', revision: moved.revision });
      } finally {
        await restore();
      }
      expect((await walk()).problem).toBeNull();
    });

    it('plans pages that split the history where pages of that size would end, and reads them ahead of the walk', async () => {
      const rows = await allRows();
      const ends = await historyPageEnds(db, 'mine', '0', (await auditHistoryReach(db))!.lastOrdinal, 7, 4);
      expect(ends).toEqual([6, 13, 20, 27].map((i) => rows[i].ordinal));
      const rest = await historyPageEnds(db, 'mine', rows[55].ordinal, (await auditHistoryReach(db))!.lastOrdinal, 7, 4);
      expect(rest).toEqual([rows[59].ordinal]);

      const select = (event: { metadata: JsonObject }) => event.metadata.tenantId === 'mine';
      // Pages of 3: twenty of them, planned sixteen at a time.
      expect(await walkTenantEvents({ store, db }, 'mine', select, 3)).toEqual({
        eventsChecked: written.length,
        streamsChecked: streams.length,
        problem: null,
      });
      const target = written[44];
      await db.query(`UPDATE events SET data = jsonb_set(data, '{n}', '-1') WHERE id = $1`, [target]);
      try {
        expect((await walkTenantEvents({ store, db }, 'mine', select, 3))?.problem).toMatchObject({ kind: 'altered', eventId: target });
      } finally {
        await db.query(`UPDATE events SET data = jsonb_set(data, '{n}', '44') WHERE id = $1`, [target]);
      }
    });

    // Last: it writes past the history's reach.
    it("walks the log past the history's reach, and leaves the judgement to the whole log's walk when the history names an event gone", async () => {
      const select = (event: { metadata: JsonObject }) => event.metadata.tenantId === 'mine';
      await store.appendToStream('plan-a', [{ type: 'PlanDeleted', data: { late: 'é\u0001' }, metadata: { tenantId: 'mine' } }]);
      const last = await store.appendToStream('other-9', [{ type: 'PlanCreated', data: {}, metadata: { tenantId: 'other' } }]);
      await readable(store, last.position);
      expect(await walkTenantEvents({ store, db }, 'mine', select, 4)).toEqual({
        eventsChecked: written.length + 1,
        streamsChecked: streams.length,
        problem: null,
      });
      await db.query('DELETE FROM events WHERE id = $1', [written[10]]);
      expect(await walkTenantEvents({ store, db }, 'mine', select, 4)).toBeNull();
    });
  });
}
