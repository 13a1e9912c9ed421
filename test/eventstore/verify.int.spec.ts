import { randomUUID } from 'node:crypto';
import { SqlEventStore } from '../../src/eventstore/postgres/sql-event-store';
import { verifyLog } from '../../src/eventstore/verify';
import type { SqlDatabase } from '../../src/sql/database';
import { dropTestSchemas, testDatabases } from '../support/databases';
import { readable } from '../support/readable';

afterAll(dropTestSchemas);

/** Someone with write access to the database edits the log behind Backplane's back; the verifier finds it. */
for (const database of testDatabases) {
  describe(`tamper evidence on ${database.name}`, () => {
    let db: SqlDatabase;
    let store: SqlEventStore;
    let plan: string;
    let organization: string;

    beforeEach(async () => {
      db = await database.open();
      store = await SqlEventStore.open(db);
      plan = `plan-${randomUUID()}`;
      organization = `organization-${randomUUID()}`;
      await store.appendToStream(organization, [{ type: 'OrganizationAdded', data: { name: 'acme' }, metadata: { actor: 'ann' } }]);
      await store.appendToStream(plan, [
        { type: 'PlanCreated', data: { name: 'nightly' } },
        { type: 'PlanCredentialToggled', data: { credentialId: 'c1', enabled: true }, metadata: { actor: 'ann' } },
        { type: 'PlanCredentialToggled', data: { credentialId: 'c2', enabled: true }, metadata: { actor: 'bob' } },
      ]);
      const last = await store.appendToStream(organization, [{ type: 'CredentialAdded', data: { login: 'backup-bot' } }]);
      await readable(store, last.position);
    });
    afterEach(async () => {
      await db.close();
    });

    const verify = async () => verifyLog(store, { heads: await store.streamHeads(), pageSize: 2 });

    it('finds nothing wrong in an untouched log', async () => {
      expect(await verify()).toEqual({ eventsChecked: 5, streamsChecked: 2, problem: null });
    });

    it('reports an altered payload, naming the event', async () => {
      const [, toggled] = await store.readStream(plan);
      await db.query(`UPDATE events SET data = jsonb_set(data, '{enabled}', 'false') WHERE id = $1`, [toggled.id]);
      expect((await verify()).problem).toMatchObject({ kind: 'altered', stream: plan, revision: 1n, eventId: toggled.id });
    });

    it('reports altered metadata, such as who did it', async () => {
      await db.query(`UPDATE events SET metadata = '{"actor":"mallory"}' WHERE stream = $1 AND revision = 2`, [plan]);
      expect((await verify()).problem).toMatchObject({ kind: 'altered', stream: plan, revision: 2n });
    });

    it('reports events that swapped places', async () => {
      await db.query(`UPDATE events SET revision = -1 WHERE stream = $1 AND revision = 1`, [plan]);
      await db.query(`UPDATE events SET revision = 1 WHERE stream = $1 AND revision = 2`, [plan]);
      await db.query(`UPDATE events SET revision = 2 WHERE stream = $1 AND revision = -1`, [plan]);
      expect((await verify()).problem).toMatchObject({ kind: 'reordered', stream: plan, revision: 1n });
    });

    it('reports a removed event in the middle of a stream', async () => {
      await db.query('DELETE FROM events WHERE stream = $1 AND revision = 1', [plan]);
      expect((await verify()).problem).toMatchObject({ kind: 'missing', stream: plan, revision: 1n });
    });

    it("reports a removed last event against the stream's recorded head", async () => {
      await db.query('DELETE FROM events WHERE stream = $1 AND revision = 1', [organization]);
      expect((await verify()).problem).toMatchObject({ kind: 'missing', stream: organization, revision: 1n });
    });

    it('reports the first problem in the order of the log', async () => {
      await db.query('DELETE FROM events WHERE stream = $1 AND revision = 1', [organization]);
      await db.query(`UPDATE events SET type = 'PlanDeleted' WHERE stream = $1 AND revision = 0`, [plan]);
      expect((await verify()).problem).toMatchObject({ kind: 'altered', stream: plan, revision: 0n });
    });
  });
}
