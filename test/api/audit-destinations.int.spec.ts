import { createHash, randomBytes } from 'node:crypto';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { deduplicated, startReceiver } from '../audit-delivery/receiver';
import { eventually } from '../support/eventually';
import { captureOutput } from '../support/output-capture';
import { ops } from '../support/scenario';

const FIELDS =
  'id name url urlSha256 eventTypes passwordId addedPosition addedAt addedBy { id kind } delivery { lastDeliveredPosition lastDeliveredAt failingSince lastError attempts }';
const add = `mutation($input: AddAuditDestinationInput!) { addAuditDestination(input: $input) { ${FIELDS} } }`;
const remove = 'mutation($id: ID!) { removeAuditDestination(id: $id) }';
const list = `query { auditDestinations { ${FIELDS} } }`;
// Retries within moments, so that a receiver that fails for a while is retried many times in a test's time.
const FAST = { minBackoffMs: 20, maxBackoffMs: 200, scanEveryMs: 50, timeoutMs: 5000 };

for (const store of apiStores) {
  describe(`audit destinations: events streamed to SIEM receivers, on ${store}`, () => {
    const secret = `siem-secret-${randomBytes(18).toString('base64url')}`;
    const output = captureOutput();
    let storage: TestStorage;
    let api: TestApi;
    let tenantId: string;
    let passwordId: string;
    let names = 0;
    const unique = (prefix: string) => `${prefix}-${++names}`;

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage, { logger: output.logger, service: { auditDelivery: FAST } });
      tenantId = (await api.ok(api.rootToken, ops.me)).me.tenant.id;
      passwordId = (await api.ok(api.rootToken, ops.storePassword, { input: { name: 'siem secret', secret } })).storePassword.id;
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
      output.restore();
    });

    const destinationEvents = async () => (await api.service.backplane.store.readAll({ filter: { streamPrefixes: ['audit-destination-'] } })).length;
    const destinations = async () => (await api.ok(api.rootToken, list)).auditDestinations as any[];
    const destination = async (id: string) => (await destinations()).find((d) => d.id === id);
    const someEvents = async (count: number) => {
      for (let i = 0; i < count; i++) await api.ok(api.rootToken, ops.registerDevice, { name: unique('device') });
    };
    /** The tenant's events after the destination's addition, as the log holds them: what it must receive. */
    const expectedAfter = async (addedPosition: string, types?: string[]) =>
      (await api.service.backplane.store.readAll({ fromPosition: addedPosition }))
        .filter((event) => event.metadata.tenantId === tenantId && (types === undefined || types.includes(event.type)))
        .map((event) => event.id);

    it('adds, lists and removes a destination; who did each is in the history', async () => {
      const { addAuditDestination: added } = await api.ok(api.rootToken, add, {
        input: { name: unique('siem'), url: 'https://siem.example.test/ingest', eventTypes: ['PlanCreated'], passwordId },
      });
      expect(added).toMatchObject({
        url: 'https://siem.example.test/***',
        urlSha256: createHash('sha256').update('https://siem.example.test/ingest').digest('hex'),
        eventTypes: ['PlanCreated'],
        passwordId,
        addedBy: { kind: 'api-token' },
      });
      expect(added.delivery).toEqual({ lastDeliveredPosition: null, lastDeliveredAt: null, failingSince: null, lastError: null, attempts: 0 });
      expect((await destinations()).map((d) => d.id)).toContain(added.id);

      expect((await api.ok(api.rootToken, remove, { id: added.id })).removeAuditDestination).toBe(added.id);
      expect((await destinations()).map((d) => d.id)).not.toContain(added.id);
      const history = await api.service.backplane.store.readStream(`audit-destination-${added.id}`);
      expect(history.map((event) => event.type)).toEqual(['AuditDestinationAdded', 'AuditDestinationRemoved']);
      for (const event of history) expect(event.metadata).toMatchObject({ tenantId, actor: { kind: 'api-token' } });
      const again = await api.request(api.rootToken, remove, { id: added.id });
      expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });

    it.each([
      ['url', { url: 'http://siem.example.test/ingest' }],
      ['url', { url: 'https://user:pw@siem.example.test/ingest' }],
      ['url', { url: 'https://siem.example.test/ingest#part' }],
      ['url', { url: 'not a url' }],
      ['url', { url: 'https://siem.example.test:0/ingest' }],
      ['url', { url: 'http://127.0.0.1:0/ingest' }],
      ['eventTypes', { eventTypes: ['PlanCreated', 'NoSuchEvent'] }],
      ['eventTypes', { eventTypes: [] }],
      ['passwordId', { passwordId: '00000000-0000-4000-8000-00000000abcd' }],
      ['name', { name: '' }],
    ])('refuses a bad %s with BAD_USER_INPUT naming it, and writes nothing (%j)', async (field, overrides) => {
      const before = await destinationEvents();
      const response = await api.request(api.rootToken, add, {
        input: { name: unique('siem'), url: 'https://siem.example.test/ingest', passwordId, ...overrides },
      });
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(response.errors?.[0]?.message).toContain(field);
      expect(await destinationEvents()).toBe(before);
    });

    it('refuses a name already taken', async () => {
      const name = unique('siem');
      await api.ok(api.rootToken, add, { input: { name, url: 'https://siem.example.test/a', passwordId } });
      const before = await destinationEvents();
      const response = await api.request(api.rootToken, add, { input: { name: name.toUpperCase(), url: 'https://siem.example.test/b', passwordId } });
      expect(response.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(response.errors?.[0]?.message).toMatch(/^name:/);
      expect(await destinationEvents()).toBe(before);
    });

    it('keeps a token in the URL, in its path and its query, out of every event, read model, auditLog answer, export and log line, and delivers to the whole URL', async () => {
      const pathToken = `path-token-${randomBytes(18).toString('base64url')}`;
      const queryToken = `query-token-${randomBytes(18).toString('base64url')}`;
      const receiver = await startReceiver(secret);
      try {
        const path = `/receiver/v1/http/${pathToken}?api-key=${queryToken}`;
        const url = `${new URL(receiver.url()).origin}${path}`;
        const { addAuditDestination: added } = await api.ok(api.rootToken, add, { input: { name: unique('siem'), url, passwordId } });
        expect(added.url).toBe(`${new URL(url).origin}/***/***/***/***?***`);
        expect(added.urlSha256).toBe(createHash('sha256').update(url).digest('hex'));
        await someEvents(2);
        const expected = await expectedAfter(added.addedPosition);
        await eventually(() => expect(deduplicated(receiver.accepted.filter((d) => d.path === path)).map((d) => d.id)).toEqual(expected), 30_000);

        const shown: string[] = [];
        shown.push(JSON.stringify((await api.service.backplane.store.readAll()).map((event) => [event.data, event.metadata])));
        shown.push(
          JSON.stringify(await api.service.app.db.query('SELECT * FROM audit_destinations d LEFT JOIN audit_deliveries s ON s.destination_id = d.id')),
        );
        shown.push(JSON.stringify(await destinations()));
        const log = await api.ok(api.rootToken, ops.auditLog, { filter: { types: ['AuditDestinationAdded'] }, first: 100 });
        expect(JSON.stringify(log.auditLog.edges)).toContain(added.urlSha256);
        shown.push(JSON.stringify(log));
        const exported = await fetch(`${new URL(api.url).origin}/audit/export?format=jsonl`, { headers: { authorization: `Bearer ${api.rootToken}` } });
        expect(exported.status).toBe(200);
        shown.push(await exported.text());
        await api.ok(api.rootToken, remove, { id: added.id });
        shown.push(output.text());
        for (const text of shown) {
          expect(text).not.toContain(pathToken);
          expect(text).not.toContain(queryToken);
        }
        // The encrypted URL goes with the destination.
        const [row] = await api.service.app.db.query<{ url_secret_id: string }>('SELECT url_secret_id FROM audit_destinations WHERE id = $1', [added.id]);
        expect(await api.service.app.db.query('SELECT 1 FROM password_secrets WHERE secret_id = $1', [row.url_secret_id])).toEqual([]);
      } finally {
        await receiver.close();
      }
    });

    it('refuses a destination beyond 10 for a tenant with CONFLICT naming the rule, and writes nothing, not even the encrypted URL', async () => {
      const existing = (await destinations()).length;
      const ids: string[] = [];
      for (let i = existing; i < 10; i++) {
        ids.push(
          (await api.ok(api.rootToken, add, { input: { name: unique('siem'), url: `https://siem.example.test/cap/${i}`, passwordId } })).addAuditDestination.id,
        );
      }
      if (store === 'postgres') {
        // The process serves all ten (and its projections) on one connection: PostgreSQL's own view of who holds the leases.
        const holders = async () =>
          api.service.app.db.query<{ pid: number; leases: unknown }>(
            `SELECT pid, count(*) AS leases FROM pg_locks
              WHERE locktype = 'advisory' AND granted AND classid::bigint = (hashtext(current_schema())::bigint & 4294967295)
                AND objid::bigint IN (SELECT hashtext('audit-delivery:' || id::text)::bigint & 4294967295 FROM audit_destinations WHERE removed_at IS NULL)
              GROUP BY pid`,
          );
        await eventually(async () => expect((await holders()).map((row) => Number(row.leases))).toEqual([10]));
      }
      const before = await destinationEvents();
      const [{ count: secretsBefore }] = await api.service.app.db.query<{ count: unknown }>('SELECT count(*) AS count FROM password_secrets');
      const response = await api.request(api.rootToken, add, { input: { name: unique('siem'), url: 'https://siem.example.test/cap/over', passwordId } });
      expect(response.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(response.errors?.[0]?.message).toMatch(/^audit destinations: a tenant has at most 10 at once/);
      expect(await destinationEvents()).toBe(before);
      const [{ count: secretsAfter }] = await api.service.app.db.query<{ count: unknown }>('SELECT count(*) AS count FROM password_secrets');
      expect(Number(secretsAfter)).toBe(Number(secretsBefore));
      // A removal makes room again.
      await api.ok(api.rootToken, remove, { id: ids[0] });
      ids[0] = (
        await api.ok(api.rootToken, add, { input: { name: unique('siem'), url: 'https://siem.example.test/cap/again', passwordId } })
      ).addAuditDestination.id;
      for (const id of ids) await api.ok(api.rootToken, remove, { id });
    });

    it('delivers every event after its addition, in order and signed, to a receiver that fails and then is down for a while', async () => {
      const receiver = await startReceiver(secret, (request) => (request <= 3 ? 500 : 200));
      try {
        const { addAuditDestination: added } = await api.ok(api.rootToken, add, { input: { name: unique('siem'), url: receiver.url(), passwordId } });
        await someEvents(3);
        await eventually(() => expect(receiver.requests()).toBeGreaterThanOrEqual(4));
        await receiver.down();
        await someEvents(3);
        const failing = await eventually(async () => {
          const now = await destination(added.id);
          expect(now.delivery.lastError).toBe('connection refused');
          return now;
        });
        expect(failing.delivery.failingSince).not.toBeNull();
        expect(failing.delivery.attempts).toBeGreaterThan(0);
        await receiver.up();
        await someEvents(2);

        const expected = await expectedAfter(added.addedPosition);
        expect(expected.length).toBeGreaterThanOrEqual(8);
        await eventually(() => expect(deduplicated(receiver.accepted).map((d) => d.id)).toEqual(expected), 30_000);
        // The 500s came first: each was retried, and nothing was taken out of order.
        expect(receiver.received.slice(0, 3).every((d) => d.id === expected[0])).toBe(true);
        for (const delivery of receiver.received) {
          expect(delivery.signatureValid).toBe(true);
          expect(delivery.event.id).toBe(delivery.id);
          expect(delivery.event.type).toBe(delivery.type);
          expect(delivery.event.metadata.tenantId).toBe(tenantId);
        }
        // Each body is the event's export line: the same JSON object (the export splices in the database's own rendering of data and metadata).
        const exported = await fetch(`${new URL(api.url).origin}/audit/export?format=jsonl`, { headers: { authorization: `Bearer ${api.rootToken}` } });
        const lines = new Map(
          (await exported.text())
            .split('\n')
            .filter(Boolean)
            .map((line) => [JSON.parse(line).id as string, JSON.parse(line)]),
        );
        // The export is itself recorded, and that event delivered in turn: only the ones it holds are compared.
        for (const delivery of receiver.accepted.filter((d) => expected.includes(d.id))) expect(JSON.parse(delivery.body)).toEqual(lines.get(delivery.id));
        const done = await eventually(async () => {
          const now = await destination(added.id);
          expect(now.delivery.failingSince).toBeNull();
          expect(now.delivery.lastDeliveredPosition).toBe(deduplicated(receiver.accepted).at(-1)!.event.position);
          return now;
        });
        expect(done.delivery).toMatchObject({ lastError: null, attempts: 0 });
        await api.ok(api.rootToken, remove, { id: added.id });
      } finally {
        await receiver.close();
      }
    });

    it('keeps delivering to one destination while another fails for ever, and sends only the event types asked for', async () => {
      const healthy = await startReceiver(secret);
      const broken = await startReceiver(secret);
      await broken.down();
      try {
        const { addAuditDestination: good } = await api.ok(api.rootToken, add, { input: { name: unique('siem'), url: healthy.url(), passwordId } });
        const { addAuditDestination: bad } = await api.ok(api.rootToken, add, { input: { name: unique('siem'), url: broken.url(), passwordId } });
        const { addAuditDestination: typed } = await api.ok(api.rootToken, add, {
          input: { name: unique('siem'), url: healthy.url().replace('/ingest', '/typed'), eventTypes: ['PasswordStored'], passwordId },
        });
        await someEvents(4);
        await api.ok(api.rootToken, ops.storePassword, { input: { name: unique('pw'), secret: `other-${randomBytes(12).toString('base64url')}` } });
        const expected = await expectedAfter(good.addedPosition);
        await eventually(() => {
          expect(deduplicated(healthy.accepted.filter((d) => d.path === '/ingest')).map((d) => d.id)).toEqual(expected);
        }, 30_000);
        const typedExpected = await expectedAfter(typed.addedPosition, ['PasswordStored']);
        expect(typedExpected).toHaveLength(1);
        await eventually(() => expect(deduplicated(healthy.accepted.filter((d) => d.path === '/typed')).map((d) => d.id)).toEqual(typedExpected));
        const failing = await destination(bad.id);
        expect(failing.delivery).toMatchObject({ lastDeliveredPosition: null, lastError: 'connection refused' });
        expect(failing.delivery.attempts).toBeGreaterThan(0);
        for (const id of [good.id, bad.id, typed.id]) await api.ok(api.rootToken, remove, { id });
      } finally {
        await healthy.close();
        await broken.close();
      }
    });

    it('keeps the secret out of every event, read model, log line and answer', async () => {
      const events = await api.service.backplane.store.readAll();
      expect(JSON.stringify(events.map((event) => [event.data, event.metadata]))).not.toContain(secret);
      const rows = await api.service.app.db.query('SELECT * FROM audit_destinations d LEFT JOIN audit_deliveries s ON s.destination_id = d.id');
      expect(rows.length).toBeGreaterThan(0);
      expect(JSON.stringify(rows)).not.toContain(secret);
      expect(JSON.stringify(await destinations())).not.toContain(secret);
      expect(output.text()).not.toContain(secret);
    });
  });
}
