import { randomUUID } from 'node:crypto';
import { auditLogProjection } from '../../projections/audit-log';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { REDACTED } from '../../src/core/redact';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { type AuditQuery, auditPage } from '../../src/queries/audit';
import type { SqlDatabase, SqlExecutor } from '../../src/sql/database';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { readable } from '../support/readable';

afterAll(dropTestSchemas);

const HOUR = 3600_000;
const start = Date.parse('2026-01-01T00:00:00Z');

/** Runs the changes and checks in a transaction that is then undone. */
async function inRolledBack(db: SqlDatabase, work: (tx: SqlExecutor) => Promise<void>): Promise<void> {
  const undone = new Error('undone');
  await expect(
    db.transaction(async (tx) => {
      await work(tx);
      throw undone;
    }),
  ).rejects.toBe(undone);
}

/** Every page of a filter, `first` at a time, following the cursors. */
async function allPages(db: SqlDatabase, tenantId: string, query: AuditQuery, first: number): Promise<string[]> {
  const seen: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await auditPage(db, tenantId, query, { first, after }, true);
    seen.push(...page.events.map((event) => event.id));
    // Each event's data, which its row does not copy, read from the log.
    for (const event of page.events) expect(event.data).toEqual({ planId: expect.stringMatching(/^p[0-2]$/) });
    if (!page.hasNextPage) return seen;
    expect(page.events).toHaveLength(first);
    after = page.events[page.events.length - 1].cursor;
  }
}

for (const database of testDatabases) {
  describe(`auditLog pages on ${database.name}`, () => {
    let db: SqlDatabase;
    /** The tenant's events in log order, as the filters judge them. */
    const written: { id: string; type: string; at: number; planId: string }[] = [];

    beforeAll(async () => {
      db = await database.open();
      const store = await SqlEventStore.open(db);
      // Times mostly rise with the log, but not always: every fifth event was stamped two hours before its neighbours.
      const types = ['PlanCreated', 'PlanCredentialToggled', 'PlanDeleted', 'CredentialAdded'];
      let last = await store.appendToStream('other-1', [
        { type: 'PlanCreated', data: { planId: 'p0' }, metadata: { tenantId: 'other', occurredAt: new Date(start).toISOString() } },
      ]);
      for (let n = 0; n < 60; n++) {
        const at = start + n * HOUR - (n % 5 === 4 ? 2 * HOUR : 0);
        const type = types[(n * 7) % types.length];
        const planId = `p${n % 3}`;
        const id = randomUUID();
        last = await store.appendToStream(`plan-${planId}`, [
          { id, type, data: { planId }, metadata: { tenantId: 'mine', occurredAt: new Date(at).toISOString() } },
        ]);
        written.push({ id, type, at, planId });
        // Another tenant's event between each of them, at the same instant and of the same type.
        last = await store.appendToStream('other-1', [{ type, data: { planId }, metadata: { tenantId: 'other', occurredAt: new Date(at).toISOString() } }]);
      }
      await readable(store, last.position);
      // A third tenant's event whose data holds a secret by its name, and one without.
      const third: Record<string, string>[] = [
        { planId: 'p9', apiToken: 'not-to-be-shown' },
        { planId: 'p9', note: 'plain' },
      ];
      for (const data of third) {
        last = await store.appendToStream('plan-p9', [
          { type: 'PlanUpdated', data, metadata: { tenantId: 'third', occurredAt: new Date(start).toISOString() } },
        ]);
      }
      await readable(store, last.position);
      // Applied as a rebuild applies it: a batch of events at a time, from the events table.
      expect(
        await new ProjectionRunner({ store, db, projection: auditLogProjection, maxBatch: 25, analyzeAfterEvents: 100, logInDatabase: true }).catchUp(),
      ).toBe(true);
    });

    it("has the planner's statistics of the history once a long catch-up is over (PGlite gathers none by itself)", async () => {
      const [columns] = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'audit_log' AND attname IN ('tenant_id', 'plan_id')",
      );
      expect(columns.n).toBe(2);
      // And the dependencies of the ids on the tenant, which the filters' indexes leave out.
      const [owners] = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_statistic_ext s JOIN pg_statistic_ext_data d ON d.stxoid = s.oid
          WHERE s.stxname = 'audit_log_owners' AND s.stxnamespace = current_schema()::regnamespace AND d.stxddependencies IS NOT NULL`,
      );
      expect(owners.n).toBe(1);
    });
    afterAll(async () => {
      await db.close();
    });

    it("shows each event's data, the log's where its row keeps no copy, with secrets redacted as it reads them", async () => {
      // Only the row whose data had a secret to redact keeps a copy, redacted.
      expect(await db.query('SELECT type, data FROM audit_log WHERE data IS NOT NULL')).toEqual([
        { type: 'PlanUpdated', data: { planId: 'p9', apiToken: REDACTED } },
      ]);
      const shown = { planId: 'p9', apiToken: REDACTED };
      const page = async (executor: SqlExecutor, logInDatabase: boolean) =>
        (await auditPage(executor, 'third', {}, { first: 10 }, logInDatabase)).events.map((event) => event.data);
      expect(await page(db, true)).toEqual([shown, { planId: 'p9', note: 'plain' }]);
      // Where the log is elsewhere (EventStoreDB), every row keeps its copy and the events table is not read.
      await inRolledBack(db, async (tx) => {
        await tx.query('ALTER TABLE events RENAME TO events_elsewhere');
        await tx.query(`UPDATE audit_log SET data = '{"planId": "p9", "note": "its copy"}' WHERE data IS NULL AND tenant_id = 'third'`);
        expect(await page(tx, false)).toEqual([shown, { planId: 'p9', note: 'its copy' }]);
      });
      // A row made before the redaction rule named a secret shows it redacted all the same, copy or not.
      await inRolledBack(db, async (tx) => {
        await tx.query(`UPDATE audit_log SET data = NULL WHERE tenant_id = 'third'`);
        expect(await page(tx, true)).toEqual([shown, { planId: 'p9', note: 'plain' }]);
        await tx.query(`UPDATE audit_log SET data = '{"planId": "p9", "password": "x"}' WHERE tenant_id = 'third'`);
        expect(await page(tx, true)).toEqual([
          { planId: 'p9', password: REDACTED },
          { planId: 'p9', password: REDACTED },
        ]);
      });
    });

    it('several event types come merged in log order, page after page', async () => {
      const wanted = written.filter((event) => event.type === 'PlanDeleted' || event.type === 'CredentialAdded').map((event) => event.id);
      expect(wanted.length).toBeGreaterThan(10);
      expect(await allPages(db, 'mine', { types: ['PlanDeleted', 'CredentialAdded', 'PlanDeleted'] }, 4)).toEqual(wanted);
      expect(await allPages(db, 'mine', { types: ['PlanDeleted', 'CredentialAdded'], planId: 'p1' }, 3)).toEqual(
        written.filter((event) => (event.type === 'PlanDeleted' || event.type === 'CredentialAdded') && event.planId === 'p1').map((event) => event.id),
      );
      expect(await auditPage(db, 'mine', { types: [] }, { first: 5 }, true)).toEqual({ events: [], hasNextPage: false });
    });

    it('a time range holds every event stamped inside it, those stamped out of log order too, in log order', async () => {
      const from = start + 10 * HOUR;
      const to = start + 30 * HOUR;
      const wanted = written.filter((event) => event.at >= from && event.at < to).map((event) => event.id);
      expect(await allPages(db, 'mine', { from: new Date(from), to: new Date(to) }, 6)).toEqual(wanted);
      expect(await allPages(db, 'mine', { from: new Date(from) }, 7)).toEqual(written.filter((event) => event.at >= from).map((event) => event.id));
      expect(await allPages(db, 'mine', { to: new Date(to), planId: 'p2' }, 2)).toEqual(
        written.filter((event) => event.at < to && event.planId === 'p2').map((event) => event.id),
      );
      expect(await auditPage(db, 'mine', { from: new Date(start + 1000 * HOUR) }, { first: 5 }, true)).toEqual({ events: [], hasNextPage: false });
    });
  });
}
