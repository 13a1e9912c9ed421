import { randomUUID } from 'node:crypto';
import { planCredentialHistoryProjection } from '../../projections/plan-credential-history';
import type { SqlStatement } from '../../src/core/projection';
import type { RecordedEvent } from '../../src/eventstore/types';
import type { SqlDatabase } from '../../src/sql/database';
import { dropTestSchemas, testDatabases } from '../support/databases';

afterAll(dropTestSchemas);

/** Intervals a pair (or a plan) has had before the switch off: years of daily switches. */
const EARLIER = 3000;

function recorded(type: string, data: Record<string, unknown>): RecordedEvent {
  return {
    id: randomUUID(),
    type,
    stream: `plan-${data.planId as string}`,
    revision: 0n,
    position: '0-0',
    data: data as RecordedEvent['data'],
    metadata: { tenantId: 'tenant-a', actor: { kind: 'api-token', id: 't-1' }, occurredAt: '2026-12-06T10:00:00.000Z' },
    recordedAt: new Date('2026-12-06T10:00:00.000Z'),
    hash: '0'.repeat(64),
  };
}

/** The plan a statement runs with, as the database explains it (JSON). */
async function planOf(db: SqlDatabase, statement: SqlStatement): Promise<string> {
  const [row] = await db.query<Record<string, unknown>>(`EXPLAIN (FORMAT JSON) ${statement.sql}`, statement.params);
  return JSON.stringify(Object.values(row)[0]);
}

for (const database of testDatabases) {
  describe(`plan credential history on ${database.name}`, () => {
    let db: SqlDatabase;
    const planId = randomUUID();
    const credentialId = randomUUID();
    beforeAll(async () => {
      db = await database.open();
      for (const statement of planCredentialHistoryProjection.schema) await db.exec(statement);
      // The pair's closed intervals, one a day, and one still open; the plan's switch likewise.
      await db.query(
        `INSERT INTO plan_credential_intervals (plan_id, credential_id, tenant_id, enabled_from, enabled_to, enabled_by, disabled_by)
         SELECT $1, $2, 'tenant-a', t, t + interval '1 hour', '{}', '{}' FROM generate_series(timestamptz '2010-01-01', timestamptz '2010-01-01' + ($3 - 1) * interval '1 day', interval '1 day') t`,
        [planId, credentialId, EARLIER],
      );
      await db.query(
        `INSERT INTO plan_switch_intervals (plan_id, tenant_id, on_from, on_to)
         SELECT $1, 'tenant-a', t, t + interval '1 hour' FROM generate_series(timestamptz '2010-01-01', timestamptz '2010-01-01' + ($2 - 1) * interval '1 day', interval '1 day') t`,
        [planId, EARLIER],
      );
      await db.query(
        "INSERT INTO plan_credential_intervals (plan_id, credential_id, tenant_id, enabled_from, enabled_by) VALUES ($1, $2, 'tenant-a', '2026-12-01', '{}')",
        [planId, credentialId],
      );
      await db.query("INSERT INTO plan_switch_intervals (plan_id, tenant_id, on_from) VALUES ($1, 'tenant-a', '2026-12-01')", [planId]);
      await db.exec('ANALYZE plan_credential_intervals; ANALYZE plan_switch_intervals');
    });
    afterAll(() => db.close());

    const open = async () => ({
      credential: await db.query<{ n: number }>('SELECT count(*)::int AS n FROM plan_credential_intervals WHERE enabled_to IS NULL'),
      plan: await db.query<{ n: number }>('SELECT count(*)::int AS n FROM plan_switch_intervals WHERE on_to IS NULL'),
    });

    it("finds the pair's open interval by its index at a switch off, however many the pair had, and closes it alone", async () => {
      const statements = planCredentialHistoryProjection.apply(
        recorded('PlanCredentialToggled', { planId, organizationId: randomUUID(), credentialId, enabled: false }),
      ) as SqlStatement[];
      expect(statements).toHaveLength(1);
      expect(await planOf(db, statements[0])).toContain('plan_credential_intervals_open');
      for (const statement of statements) await db.query(statement.sql, statement.params);
      expect((await open()).credential).toEqual([{ n: 0 }]);
      const [closed] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM plan_credential_intervals WHERE enabled_to = '2026-12-06T10:00:00.000Z'");
      expect(closed.n).toBe(1);
    });

    it("finds the plan's open intervals by their indexes when the plan is deleted", async () => {
      await db.query("UPDATE plan_credential_intervals SET enabled_to = NULL WHERE enabled_from = '2026-12-01'");
      const statements = planCredentialHistoryProjection.apply(recorded('PlanDeleted', { planId, organizationId: randomUUID() })) as SqlStatement[];
      const plans = await Promise.all(statements.map((statement) => planOf(db, statement)));
      expect(plans.some((plan) => plan.includes('plan_credential_intervals_open'))).toBe(true);
      expect(plans.some((plan) => plan.includes('plan_switch_intervals_open'))).toBe(true);
      for (const statement of statements) await db.query(statement.sql, statement.params);
      expect(await open()).toEqual({ credential: [{ n: 0 }], plan: [{ n: 0 }] });
    });
  });
}
