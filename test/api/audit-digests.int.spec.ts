import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditDigest, writeDueDigests } from '../../src/app/audit-digests';
import { keyIdOf, publicKeyPem } from '../../src/audit/digest';
import { KEY_HISTORY_FILE, readKeyHistory } from '../../src/audit/key-history';
import { rotateAuditKey } from '../../src/audit/key-rotation';
import { tenantStream } from '../../src/domain/tenant';
import type { EventStore, ReadAllOptions } from '../../src/eventstore/types';
import { chainHash, contentHash, GENESIS_HASH } from '../../src/eventstore/hash-chain';
import { verifyLog } from '../../src/eventstore/verify';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { buildScenario, ops, type Scenario } from '../support/scenario';

const DIGEST = 'cursor payload signature keyId periodStart periodEnd eventCount logPosition previousDigestHash streams { stream revision hash }';
/** A page of 500 costs each node's fields 500 times: the heads are read from the payload instead. */
const LISTED = 'cursor payload signature keyId periodStart periodEnd eventCount';
const docs = {
  create: `mutation { createAuditDigest { ${DIGEST} } }`,
  list: `query($first: Int, $after: String) { auditDigests(first: $first, after: $after) { edges { cursor node { ${LISTED} } } pageInfo { hasNextPage endCursor } } }`,
  keys: 'query { auditSigningKeys { keyId algorithm publicKeyPem createdAt retiredAt } }',
  verify: 'query { verifyAuditLog { ok checked firstBrokenCursor problem digestsChecked firstBrokenDigest } }',
};

type Digest = {
  cursor: string;
  payload: string;
  signature: string;
  keyId: string;
  periodStart: string;
  periodEnd: string;
  eventCount: number;
  logPosition: string;
  previousDigestHash: string;
  streams: { stream: string; revision: number; hash: string }[];
};
type KeysDocument = { keys: { keyId: string; algorithm: string; publicKeyPem: string; createdAt: string; retiredAt: string | null }[] };

const sha256 = (text: string) => createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');

for (const store of apiStores) {
  describe(`signed audit digests, on ${store}`, () => {
    let storage: TestStorage;
    let digestDir: string;
    let api: TestApi;
    let s: Scenario;
    let tenantId: string;
    let enabled = false;

    const create = async () => (await api.ok<{ createAuditDigest: Digest }>(api.rootToken, docs.create)).createAuditDigest;
    const all = async () =>
      (await api.ok<{ auditDigests: { edges: { node: Digest }[] } }>(api.rootToken, docs.list, { first: 500 })).auditDigests.edges.map((e) => e.node);
    const verifyAudit = async () => (await api.ok(api.rootToken, docs.verify)).verifyAuditLog;
    const wellKnown = async (): Promise<KeysDocument> => {
      const response = await fetch(new URL('/.well-known/backplane-audit-keys.json', api.url));
      expect(response.status).toBe(200);
      return (await response.json()) as KeysDocument;
    };
    /** One event on the scenario's plan stream, by the root administrator. */
    const toggle = async () => {
      enabled = !enabled;
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId: s.planId, credentialId: s.credentialIds[1], enabled });
    };
    /** The tenant's events as the API lists them. */
    const history = async () =>
      (await api.ok(api.rootToken, ops.auditLog, { first: 500 })).auditLog.edges.map(
        (edge: { node: { streamName: string; hash: string; cursor: string } }) => edge.node,
      );

    beforeAll(async () => {
      storage = await testStorage(store);
      digestDir = await mkdtemp(join(tmpdir(), 'backplane-digests-'));
      api = await startTestApi(storage, { env: { BACKPLANE_AUDIT_DIGEST_DIR: digestDir } });
      s = await buildScenario(api, api.rootToken, 'digests');
      tenantId = (await api.ok(api.rootToken, ops.me)).me.tenant.id;
      await api.service.app.jobs.idle();
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
      await rm(digestDir, { recursive: true, force: true });
    });

    it('signs a first digest of the whole history, checkable with the public key served without a token, and writes it as a file', async () => {
      const digest = await create();
      const payload = JSON.parse(digest.payload);
      const events = await history();
      expect(payload).toMatchObject({ tenantId, eventCount: events.length, previousDigestHash: '0'.repeat(64), logPosition: digest.logPosition });
      expect(Object.keys(payload)).toEqual(['tenantId', 'periodStart', 'periodEnd', 'eventCount', 'logPosition', 'previousDigestHash', 'streams']);
      // Every stream the tenant wrote, at its last event.
      const heads = new Map<string, string>();
      for (const event of events) heads.set(event.streamName, event.hash);
      expect(new Map(payload.streams.map((head: { stream: string; hash: string }) => [head.stream, head.hash]))).toEqual(heads);
      expect(digest.streams).toEqual(payload.streams);

      const { keys } = await wellKnown();
      expect(keys).toEqual([
        {
          keyId: digest.keyId,
          algorithm: 'Ed25519',
          publicKeyPem: expect.stringContaining('BEGIN PUBLIC KEY'),
          createdAt: expect.any(String),
          retiredAt: null,
        },
      ]);
      expect(verify(null, Buffer.from(digest.payload, 'utf8'), keys[0].publicKeyPem, Buffer.from(digest.signature, 'base64'))).toBe(true);
      expect((await api.ok(api.rootToken, docs.keys)).auditSigningKeys).toEqual(keys);

      const file = JSON.parse(await readFile(join(digestDir, tenantId, `${payload.periodEnd}.json`), 'utf8'));
      expect(file).toEqual({ payload: digest.payload, signature: digest.signature, keyId: digest.keyId });
    });

    it("chains each next digest to the last one's payload, with only the events since, and signs a period with none", async () => {
      const [last] = (await all()).slice(-1);
      await toggle();
      await toggle();
      const next = await create();
      expect(next).toMatchObject({ eventCount: 2, periodStart: last.periodEnd, previousDigestHash: sha256(last.payload) });
      const plan = (await history()).filter((event: { streamName: string }) => event.streamName === `plan-${s.planId}`).at(-1);
      expect(next.streams).toEqual([{ stream: `plan-${s.planId}`, revision: expect.any(Number), hash: plan.hash }]);
      const quiet = await create();
      expect(quiet).toMatchObject({ eventCount: 0, streams: [], previousDigestHash: sha256(next.payload), periodStart: next.periodEnd });
      expect(Number(quiet.cursor)).toBe(Number(next.cursor) + 1);
    });

    it('writes one digest per tenant for a period however many writers look, and one more for the next period even with no events', async () => {
      const app = api.service.app;
      const before = (await all()).length;
      // A clock past the next boundary of the period, as every process's scheduler would see it.
      const later = new Date(Date.now() + 2 * 60 * 60_000);
      const deps = { ...app, auditDigests: { ...app.auditDigests, clock: () => later } };
      const [one, two] = await Promise.all([writeDueDigests(deps), writeDueDigests(deps)]);
      expect([...one, ...two].filter((digest) => digest.tenantId === tenantId)).toHaveLength(1);
      expect(await writeDueDigests(deps)).toEqual([]);
      const nextPeriod = new Date(later.getTime() + 60 * 60_000);
      const made = await writeDueDigests({ ...app, auditDigests: { ...app.auditDigests, clock: () => nextPeriod } });
      expect(made.find((digest) => digest.tenantId === tenantId)).toMatchObject({ periodEnd: nextPeriod });
      const digests = await all();
      expect(digests).toHaveLength(before + 2);
      expect(digests.at(-1)).toMatchObject({ eventCount: 0, periodStart: later.toISOString(), periodEnd: nextPeriod.toISOString() });
    });

    it("starts a new tenant's first digest at the tenant's creation, not at the start of the log", async () => {
      const token = (await api.ok(api.rootToken, ops.createTenant, { name: 'digests-new' })).createTenant.token;
      const newTenant = (await api.ok(token, ops.me)).me.tenant.id;
      const app = api.service.app;
      const [created] = await app.store.readStream(tenantStream(newTenant), { maxCount: 1 });
      // The real store, its reads of the log written down on the way.
      const starts: string[] = [];
      const store = new Proxy(app.store, {
        get(target, property) {
          if (property === 'readAll') {
            return (options?: ReadAllOptions) => {
              starts.push(options?.fromPosition ?? 'start');
              return target.readAll(options);
            };
          }
          const value = Reflect.get(target, property);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }) as EventStore;
      const digest = await createAuditDigest({ ...app, store }, newTenant);
      expect(starts.length).toBeGreaterThan(0);
      for (const start of starts) {
        expect(start).not.toBe('start');
        expect(app.store.comparePositions(start, created.position)).toBeGreaterThanOrEqual(0);
      }
      // Its creation event counted too: every event of its history, no more.
      const theirs = (await api.ok(token, ops.auditLog, { first: 500 })).auditLog.edges.map(
        (edge: { node: { streamName: string; hash: string } }) => edge.node,
      );
      const payload = JSON.parse(digest.payload);
      expect(payload.eventCount).toBe(theirs.length);
      expect(payload.streams).toContainEqual({ stream: tenantStream(newTenant), revision: expect.any(Number), hash: expect.any(String) });
    });

    it('answers CONFLICT, to be tried again, for a tenant the read model does not hold yet and while another writer holds the lock', async () => {
      const app = api.service.app;
      await expect(createAuditDigest(app, 'not-read-yet')).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('try again') });
      // The embedded store's lock waits in this process without a deadline: a second process is the server's case.
      if (store === 'postgres') {
        await api.service.backplane.db.withLock(
          'audit-digests',
          () =>
            expect(createAuditDigest({ ...app, auditDigests: { ...app.auditDigests, lockTimeoutMs: 50 } }, tenantId)).rejects.toMatchObject({
              code: 'CONFLICT',
              message: expect.stringContaining('try again'),
            }),
          { timeoutMs: 30_000 },
        );
      }
    });

    it('pages through the digests in chain order, and refuses a bad cursor or page size with BAD_USER_INPUT', async () => {
      const digests = await all();
      const first = (await api.ok(api.rootToken, docs.list, { first: 2 })).auditDigests;
      expect(first.pageInfo).toEqual({ hasNextPage: true, endCursor: digests[1].cursor });
      const rest = (await api.ok(api.rootToken, docs.list, { first: 500, after: first.pageInfo.endCursor })).auditDigests;
      expect([...first.edges, ...rest.edges].map((edge: { node: Digest }) => edge.node.payload)).toEqual(digests.map((d) => d.payload));
      for (const variables of [{ after: 'x' }, { first: 0 }, { first: 501 }]) {
        const response = await api.request(api.rootToken, docs.list, variables);
        expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      }
    });

    it("keeps each tenant's digests to itself", async () => {
      const other = (await api.ok(api.rootToken, ops.createTenant, { name: 'digests-other' })).createTenant.token;
      const made = (await api.ok<{ createAuditDigest: Digest }>(other, docs.create)).createAuditDigest;
      expect(JSON.parse(made.payload).tenantId).not.toBe(tenantId);
      const theirs = (await api.ok(other, docs.list, {})).auditDigests.edges;
      expect(theirs.map((edge: { node: Digest }) => edge.node.payload)).toEqual([made.payload]);
      expect((await all()).map((d) => d.payload)).not.toContain(made.payload);
    });

    it('rotates the key: later digests name the new one, the old one is served as retired, and both verify', async () => {
      const before = await wellKnown();
      const { retired, active } = await rotateAuditKey(api.service.backplane.db, { dataDir: storage.dataDir });
      expect(retired).toBe(before.keys[0].keyId);
      const digest = await create();
      expect(digest.keyId).toBe(active);
      const after = await wellKnown();
      expect(after.keys.map((key) => [key.keyId, key.retiredAt === null])).toEqual([
        [retired, false],
        [active, true],
      ]);
      expect(await verifyAudit()).toMatchObject({ ok: true, digestsChecked: (await all()).length, firstBrokenDigest: null });
    });

    // One process per embedded data folder: on PGlite there is no second process to refuse.
    if (store === 'postgres') {
      it('refuses a second process on the database whose signing key is another', async () => {
        const otherFolder = await mkdtemp(join(tmpdir(), 'backplane-api-'));
        try {
          await expect(startTestApi({ ...storage, dataDir: otherFolder }, { gitlab: api.gitlab })).rejects.toThrow(/copy the key file/);
        } finally {
          await rm(otherFolder, { recursive: true, force: true });
        }
      });
    }

    it('names a digest altered in the database, one altered there and in its file alike, and one removed', async () => {
      const db = api.service.backplane.db;
      const digests = await all();
      const target = digests[1];
      const seq = Number(target.cursor);
      const file = join(digestDir, tenantId, `${target.periodEnd}.json`);
      const original = await readFile(file, 'utf8');
      const altered = target.payload.replace('"eventCount":2', '"eventCount":1');
      expect(altered).not.toBe(target.payload);
      const setPayload = (payload: string) => db.query('UPDATE audit_digests SET payload = $3 WHERE tenant_id = $1 AND seq = $2', [tenantId, seq, payload]);
      // In the database only: its file outside says otherwise.
      await setPayload(altered);
      expect(await verifyAudit()).toMatchObject({ ok: false, firstBrokenDigest: target.periodEnd, problem: expect.stringContaining('differs from its file') });
      // In both: the signature no longer matches.
      await writeFile(file, `${JSON.stringify({ ...JSON.parse(original), payload: altered })}\n`);
      expect(await verifyAudit()).toMatchObject({ ok: false, firstBrokenDigest: target.periodEnd, problem: expect.stringContaining('signature') });
      await setPayload(target.payload);
      await writeFile(file, original);
      expect(await verifyAudit()).toMatchObject({ ok: true });

      const select = 'SELECT * FROM audit_digests WHERE tenant_id = $1 AND seq = $2';
      const remove = 'DELETE FROM audit_digests WHERE tenant_id = $1 AND seq = $2';
      const putBack = async (row: Record<string, unknown>) => {
        const columns = Object.keys(row);
        await db.query(
          `INSERT INTO audit_digests (${columns.join(', ')}) VALUES (${columns.map((_c, i) => `$${i + 1}`).join(', ')})`,
          columns.map((column) => row[column]),
        );
      };
      // From the middle of the chain: its file names it; without the file, the next digest's link does.
      const [middle] = await db.query<Record<string, unknown>>(select, [tenantId, seq]);
      await db.query(remove, [tenantId, seq]);
      expect(await verifyAudit()).toMatchObject({ ok: false, firstBrokenDigest: target.periodEnd, problem: expect.stringContaining('not in the database') });
      await rm(file);
      expect(await verifyAudit()).toMatchObject({ ok: false, firstBrokenDigest: digests[2].periodEnd, problem: expect.stringContaining('previous') });
      await putBack(middle);
      await writeFile(file, original);
      // The last one, which no later link names: only its file shows it was there.
      const last = digests.at(-1)!;
      const [tail] = await db.query<Record<string, unknown>>(select, [tenantId, Number(last.cursor)]);
      await db.query(remove, [tenantId, Number(last.cursor)]);
      expect(await verifyAudit()).toMatchObject({ ok: false, firstBrokenDigest: last.periodEnd, problem: expect.stringContaining('not in the database') });
      await putBack(tail);
      expect(await verifyAudit()).toMatchObject({ ok: true });
    });

    it('keeps the key history outside the database and names a key put into the database directly, even retired in the past', async () => {
      const db = api.service.backplane.db;
      const table = await db.query<{ key_id: string }>('SELECT key_id FROM audit_signing_keys ORDER BY created_at');
      for (const file of [join(storage.dataDir, KEY_HISTORY_FILE), join(digestDir, KEY_HISTORY_FILE)]) {
        expect((await readKeyHistory(file))?.map((key) => key.keyId)).toEqual(table.map((row) => row.key_id));
      }
      // What someone with rights on the database does: a key of their own, retired already, so
      // that the one-active rule lets it in; with it they could re-sign every digest.
      const theirs = generateKeyPairSync('ed25519');
      const keyId = keyIdOf(theirs.publicKey);
      await db.query(
        "INSERT INTO audit_signing_keys (key_id, algorithm, public_key_pem, created_at, retired_at) VALUES ($1, 'Ed25519', $2, '2020-01-01T00:00:00Z', '2020-01-02T00:00:00Z')",
        [keyId, publicKeyPem(theirs.publicKey)],
      );
      expect(await verifyAudit()).toMatchObject({ ok: false, problem: expect.stringContaining(`signing key ${keyId} is in the database but not in`) });
      await db.query('DELETE FROM audit_signing_keys WHERE key_id = $1', [keyId]);
      expect(await verifyAudit()).toMatchObject({ ok: true });
      // A history file that cannot be read vouches for no key.
      const outside = join(digestDir, KEY_HISTORY_FILE);
      const kept = await readFile(outside, 'utf8');
      await writeFile(outside, kept.slice(0, 20));
      expect(await verifyAudit()).toMatchObject({ ok: false, problem: expect.stringContaining('is not JSON') });
      await writeFile(outside, kept);
      await rm(join(storage.dataDir, KEY_HISTORY_FILE));
      expect(await verifyAudit()).toMatchObject({ ok: false, problem: expect.stringContaining('is missing') });
      await writeFile(join(storage.dataDir, KEY_HISTORY_FILE), kept);
      expect(await verifyAudit()).toMatchObject({ ok: true });
    });

    it("names a digest whose period ended outside its key's window", async () => {
      const db = api.service.backplane.db;
      const [first] = await all();
      const [key] = await db.query<{ created_at: Date }>('SELECT created_at FROM audit_signing_keys WHERE key_id = $1', [first.keyId]);
      // The key's start moved past the first digest it signed: it could not have signed that one.
      await db.query("UPDATE audit_signing_keys SET created_at = $2::timestamptz + interval '1 second' WHERE key_id = $1", [first.keyId, first.periodEnd]);
      try {
        expect(await verifyAudit()).toMatchObject({ ok: false, firstBrokenDigest: first.periodEnd, problem: expect.stringContaining('signed only from') });
      } finally {
        await db.query('UPDATE audit_signing_keys SET created_at = $2 WHERE key_id = $1', [first.keyId, key.created_at]);
      }
      expect(await verifyAudit()).toMatchObject({ ok: true });
    });

    // Last: it rewrites the log the other tests read.
    it('catches a stream rewritten with its chain recomputed, which the hash chain alone does not, and names the event', async () => {
      await toggle();
      const signed = await create();
      const planStream = `plan-${s.planId}`;
      const head = signed.streams.find((stream) => stream.stream === planStream)!;
      // Events after the digest, so that the rewrite must recompute the rest of the stream too.
      await toggle();
      await toggle();
      const db = api.service.backplane.db;
      type Row = { id: string; type: string; data: unknown; metadata: unknown; revision: string };
      const rows = await db.query<Row>('SELECT id, type, data, metadata, revision::text AS revision FROM events WHERE stream = $1 ORDER BY revision', [
        planStream,
      ]);
      const [previous] = await db.query<{ hash: string }>('SELECT hash FROM events WHERE stream = $1 AND revision = $2', [planStream, head.revision - 1]);
      // What someone with rights on the database does: change the signed event, and chain every later one again.
      let hash = previous?.hash ?? GENESIS_HASH;
      for (const row of rows.filter((r) => Number(r.revision) >= head.revision)) {
        const data = Number(row.revision) === head.revision ? { ...(row.data as object), enabled: !(row.data as { enabled: boolean }).enabled } : row.data;
        hash = chainHash(
          hash,
          planStream,
          BigInt(row.revision),
          contentHash({ id: row.id, type: row.type, data: data as never, metadata: row.metadata as never }),
        );
        await db.query('UPDATE events SET data = $2::jsonb, hash = $3 WHERE id = $1', [row.id, JSON.stringify(data), hash]);
      }
      await db.query('UPDATE event_streams SET last_hash = $2 WHERE name = $1', [planStream, hash]);

      expect((await verifyLog(api.service.backplane.store)).problem).toBeNull();
      const [rewritten] = await api.service.backplane.store.readStream(planStream, { fromRevision: BigInt(head.revision), maxCount: 1 });
      const found = await verifyAudit();
      expect(found).toMatchObject({ ok: false, firstBrokenCursor: rewritten.position, firstBrokenDigest: JSON.parse(signed.payload).periodEnd });
      expect(found.problem).toContain(`revision ${head.revision} of stream ${planStream}`);
    });
  });
}
