import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ProjectionRunner } from '../../src/core/projection-runner';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import type { PgDatabase } from '../../src/sql/pg-database';
import { countingProjection } from '../fixtures/counting.projection';
import { spawnTs, type Child } from '../support/child';
import { describeWithPostgres, dropTestSchemas, newSchemaName, openPostgres } from '../support/databases';
import { eventually } from '../support/eventually';
import { testDatabaseUrl } from '../support/postgres-url';

const script = join(__dirname, '../fixtures/run-counting-projection.ts');
const EVENTS = 600;
/** The holder's batch of events 100 to 124 (batches of 25) stalls at this event; it is killed then. */
const STALL_AT = 110;

/**
 * Several Backplane processes share one PostgreSQL. The one applying a projection is killed
 * (SIGKILL) in the middle of its work; another process takes over from the checkpoint, and
 * every event ends up applied exactly once.
 */
describeWithPostgres('projection takeover between processes (PostgreSQL server)', () => {
  const schema = newSchemaName();
  let db: PgDatabase;
  let store: SqlEventStore;
  const children: Child[] = [];

  beforeAll(async () => {
    db = await openPostgres(schema);
    store = await SqlEventStore.open(db);
  });
  afterAll(async () => {
    children.forEach((child) => {
      child.process.kill('SIGKILL');
    });
    await db?.close();
    await dropTestSchemas();
  });

  it('survives the death of the holder mid-batch: exactly once, and another process carries on', async () => {
    let last = '';
    for (let i = 0; i < EVENTS; i += 50) {
      const events = Array.from({ length: 50 }, (_, k) => ({ type: 'Counted', data: { i: i + k } }));
      last = (await store.appendToStream(`counted-${randomUUID()}`, events)).position;
    }

    const first = spawnTs(script, [testDatabaseUrl(), schema, String(STALL_AT)]);
    children.push(first);
    await first.waitFor(/^active/);
    const second = spawnTs(script, [testDatabaseUrl(), schema]);
    children.push(second);
    // The batch after the 100th event is now open and stalled: the kill lands in its middle.
    await first.waitFor(/^applied 100$/);
    expect(second.output()).not.toMatch(/^active/m);

    first.process.kill('SIGKILL');
    await first.exited;
    const [{ applied: atDeath }] = await db.query<{ applied: string }>('SELECT applied::text AS applied FROM counting_totals');
    expect(Number(atDeath)).toBe(100);

    await second.waitFor(/^active/);
    const watcher = new ProjectionRunner({ store, db, projection: countingProjection() });
    await watcher.waitForPosition(last, 30000);

    const more = await store.appendToStream(`counted-${randomUUID()}`, [{ type: 'Counted', data: { i: EVENTS } }]);
    await watcher.waitForPosition(more.position, 10000);
    const [totals] = await db.query<{ applied: string; seen: string; checkpoint: string }>(
      `SELECT (SELECT applied FROM counting_totals)::text AS applied, (SELECT count(*) FROM counting_seen)::text AS seen,
              (SELECT events_applied FROM projection_checkpoints WHERE name = 'counting')::text AS checkpoint`,
    );
    expect(totals).toEqual({ applied: String(EVENTS + 1), seen: String(EVENTS + 1), checkpoint: String(EVENTS + 1) });
    await eventually(() => expect(second.output()).toMatch(new RegExp(`^applied ${EVENTS + 1}$`, 'm')));
  }, 90000);
});
