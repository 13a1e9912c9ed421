import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { apiStores, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { S3_DOUBLE_ACCESS_KEY_ID, startS3Double, type S3Double } from '../support/s3-double';
import { eventually } from '../support/eventually';
import { gitlabGroup } from '../support/gitlab-accounts';
import { buildScenario, ops, protectListedRepositories } from '../support/scenario';

// The S3 storages here live in s3rver, a test double started by this suite behind a front that
// checks request signatures (test/support/s3-double.ts). No real bucket of any cloud is used.

const DEFAULT_STORAGE_ID = '00000000-0000-4000-8000-000000000001';
const SECRET = `s3-secret-${randomBytes(18).toString('base64url')}`;
const WRONG_SECRET = `s3-wrong-${randomBytes(18).toString('base64url')}`;
const BUCKET = 'backups';
/** Content no bucket may show in plain text. */
const MARKER = 'backplane-plain-content-marker-s3-91c2';

const FIELDS = 'id name kind isDefault addedAt endpoint bucket region prefix forcePathStyle accessKeyId passwordId';
const storagesQuery = `query { storages { ${FIELDS} } }`;
const addStorage = `mutation($input: AddStorageInput!) { addStorage(input: $input) { ${FIELDS} } }`;
const removeStorage = 'mutation($id: ID!) { removeStorage(id: $id) }';
const setPlanStorage = `mutation($planId: ID!, $storageId: ID) { updatePlanBackupSettings(planId: $planId, input: { storageId: $storageId }) { id } }`;
const runPlan = 'mutation($planId: ID!) { runPlan(planId: $planId) { id status } }';
const taskQuery = `query($id: ID!) { task(id: $id) { id status reason repositoriesDone
  snapshots(first: 10) { totalCount edges { node { id fullPath storedBytes storage { id kind bucket } } } } } }`;
const snapshotRefs = 'query($id: ID!) { snapshot(id: $id) { id refs { name sha } } }';

let s3: S3Double;

beforeAll(async () => {
  s3 = await startS3Double(SECRET, [BUCKET]);
});
afterAll(async () => {
  await s3?.close();
});

for (const store of apiStores) {
  describe(`storages: the default one, and S3 and LOCAL ones added through the API, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    let tenantId: string;
    let passwordId: string;
    let wrongPasswordId: string;
    let names = 0;

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage);
      tenantId = (await api.ok(api.rootToken, ops.me)).me.tenant.id;
      passwordId = (await api.ok(api.rootToken, ops.storePassword, { input: { name: 's3 secret', secret: SECRET } })).storePassword.id;
      wrongPasswordId = (await api.ok(api.rootToken, ops.storePassword, { input: { name: 'wrong s3 secret', secret: WRONG_SECRET } })).storePassword.id;
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    const s3Input = (overrides: Record<string, unknown> = {}, s3Overrides: Record<string, unknown> = {}) => ({
      name: `offsite ${++names}`,
      kind: 'S3',
      s3: {
        endpoint: s3.endpoint,
        bucket: BUCKET,
        region: 'us-east-1',
        prefix: `${store}/${names}`,
        forcePathStyle: true,
        accessKeyId: S3_DOUBLE_ACCESS_KEY_ID,
        passwordId,
        ...s3Overrides,
      },
      ...overrides,
    });

    const head = () => api.service.backplane.store.headPosition();
    const storageEvents = async () =>
      (await api.ok(api.rootToken, ops.auditLog, { first: 100 })).auditLog.edges
        .map((edge: any) => edge.node)
        .filter((node: any) => node.type.startsWith('Storage'));
    const rows = () => api.service.app.db.query<Record<string, unknown>>('SELECT * FROM storages WHERE tenant_id = $1', [tenantId]);

    function expectNoSecret(...subjects: unknown[]): void {
      for (const subject of subjects) {
        const text = JSON.stringify(subject);
        expect(text).not.toContain(SECRET);
        expect(text).not.toContain(WRONG_SECRET);
      }
    }

    it('lists the default LOCAL storage, there without any event', async () => {
      const { storages } = await api.ok(api.rootToken, storagesQuery);
      expect(storages[0]).toEqual({
        id: DEFAULT_STORAGE_ID,
        name: 'Local storage',
        kind: 'LOCAL',
        isDefault: true,
        addedAt: null,
        endpoint: null,
        bucket: null,
        region: null,
        prefix: null,
        forcePathStyle: null,
        accessKeyId: null,
        passwordId: null,
      });
      expect(await storageEvents()).toEqual([]);
    });

    it('adds an S3 storage once its bucket takes a probe, lists it after the default, and keeps its secret out of answers, events and read model', async () => {
      const input = s3Input();
      const { addStorage: added } = await api.ok(api.rootToken, addStorage, { input });
      expect(added).toMatchObject({
        name: input.name,
        kind: 'S3',
        isDefault: false,
        endpoint: s3.endpoint,
        bucket: BUCKET,
        region: 'us-east-1',
        prefix: input.s3.prefix,
        forcePathStyle: true,
        accessKeyId: S3_DOUBLE_ACCESS_KEY_ID,
        passwordId,
      });
      expect(Date.parse(added.addedAt)).not.toBeNaN();

      const { storages } = await api.ok(api.rootToken, storagesQuery);
      expect(storages[0].id).toBe(DEFAULT_STORAGE_ID);
      expect(storages.map((listed: any) => listed.id)).toContain(added.id);
      expect(storages.find((listed: any) => listed.id === added.id)).toEqual(added);

      const events = await storageEvents();
      const event = events.find((node: any) => node.type === 'StorageAdded' && node.data.storageId === added.id);
      expect(event.data).toEqual({
        storageId: added.id,
        name: input.name,
        kind: 'S3',
        s3: {
          endpoint: s3.endpoint,
          bucket: BUCKET,
          region: 'us-east-1',
          prefix: input.s3.prefix,
          forcePathStyle: true,
          accessKeyId: S3_DOUBLE_ACCESS_KEY_ID,
          passwordId,
        },
      });
      expectNoSecret(added, storages, events, await rows());
      // The probe is gone: the prefix holds nothing after the check.
      expect((await s3.files()).filter((file) => file.path.includes(input.s3.prefix))).toEqual([]);
    });

    it('refuses a wrong secret, a missing bucket and an unknown password entry, writing nothing', async () => {
      const before = await head();
      const refusals = [
        [s3Input({}, { passwordId: wrongPasswordId }), 'BAD_USER_INPUT', /not added: the bucket refused the access key id.*SignatureDoesNotMatch/],
        [s3Input({}, { bucket: 'no-such-bucket' }), 'BAD_USER_INPUT', /not added: the bucket cannot be reached, or does not exist.*NoSuchBucket/],
        [s3Input({}, { passwordId: '7c4c5e3e-8f7e-4f55-9a53-4f4b8d2a1c10' }), 'NOT_FOUND', /no password/],
      ] as const;
      for (const [input, code, message] of refusals) {
        const answer = await api.request(api.rootToken, addStorage, { input });
        expect(answer.errors?.[0]?.extensions?.code).toBe(code);
        expect(answer.errors?.[0]?.message).toMatch(message);
        expectNoSecret(answer);
      }
      expect(await head()).toEqual(before);
      expect((await rows()).map((row) => row.name)).not.toContain(refusals[0][0].name);
    });

    it('keeps the password entry an S3 storage uses from being deleted, naming the storage', async () => {
      const ownPasswordId = (await api.ok(api.rootToken, ops.storePassword, { input: { name: `s3 secret ${++names}`, secret: SECRET } })).storePassword.id;
      const input = s3Input({}, { passwordId: ownPasswordId });
      await api.ok(api.rootToken, addStorage, { input });
      const before = await head();
      const answer = await api.request(api.rootToken, ops.deletePassword, { id: ownPasswordId });
      expect(answer.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(answer.errors?.[0]?.message).toContain(`storage ${input.name}`);
      expect(await head()).toEqual(before);
    });

    it('refuses a name another storage has, the default one included, in any case', async () => {
      const input = s3Input();
      await api.ok(api.rootToken, addStorage, { input });
      for (const name of [input.name, input.name.toUpperCase(), 'local STORAGE']) {
        const answer = await api.request(api.rootToken, addStorage, { input: { ...s3Input(), name } });
        expect(answer.errors?.[0]?.extensions?.code).toBe('CONFLICT');
        expect(answer.errors?.[0]?.message).toMatch(/storage named .* already exists/);
      }
    });

    it('refuses a bucket and prefix another storage keeps its objects in, however the endpoint is written', async () => {
      const first = s3Input();
      await api.ok(api.rootToken, addStorage, { input: first });
      const before = await head();
      for (const endpoint of [s3.endpoint, `${s3.endpoint.toUpperCase().replace('HTTP', 'http')}/`]) {
        const answer = await api.request(api.rootToken, addStorage, { input: s3Input({}, { endpoint, prefix: `${first.s3.prefix}/` }) });
        expect(answer.errors?.[0]?.extensions?.code).toBe('CONFLICT');
        expect(answer.errors?.[0]?.message).toContain(`another storage keeps its objects in bucket ${BUCKET} under prefix "${first.s3.prefix}"`);
      }
      expect(await head()).toEqual(before);
      // Another prefix of the same bucket is another place.
      await api.ok(api.rootToken, addStorage, { input: s3Input({}, { prefix: `${first.s3.prefix}/inner` }) });
    });

    it('refuses inputs that break the rules, naming the field', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [s3Input({}, { bucket: 'Not_A_Bucket' }), 's3.bucket'],
        [s3Input({}, { prefix: '../escape' }), 's3.prefix'],
        [s3Input({}, { prefix: '/absolute' }), 's3.prefix'],
        [s3Input({}, { endpoint: 'ftp://files.example.test' }), 's3.endpoint'],
        [s3Input({}, { endpoint: 'https://user:pass@s3.example.test' }), 's3.endpoint'],
        [s3Input({ name: '' }), 'name'],
        [s3Input({ name: 'x'.repeat(101) }), 'name'],
        [s3Input({ name: 'bidi \u202e name' }), 'name'],
        [s3Input({ s3: null }), 'kind'],
        [{ name: 'a folder', kind: 'LOCAL', s3: s3Input().s3 }, 'kind'],
      ];
      const before = await head();
      for (const [input, field] of cases) {
        const answer = await api.request(api.rootToken, addStorage, { input });
        expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect(Object.keys(answer.errors?.[0]?.extensions?.fields ?? {})).toContain(field);
      }
      expect(await head()).toEqual(before);
    });

    it('adds a LOCAL storage in a folder of its own under the data folder, and removes it', async () => {
      const { addStorage: added } = await api.ok(api.rootToken, addStorage, { input: { name: 'second folder', kind: 'LOCAL' } });
      expect(added).toMatchObject({ name: 'second folder', kind: 'LOCAL', isDefault: false, bucket: null, passwordId: null });
      const stored = await api.service.app.backup.store(tenantId, added.id).put(Buffer.from(`${MARKER} local`));
      const folder = join(storage.dataDir, 'backups', 'storage', tenantId, added.id);
      expect(
        (await readdir(folder, { recursive: true })).some((name) => name.endsWith(api.service.app.backup.store(tenantId, added.id).nameOf(stored.sha256))),
      ).toBe(true);

      expect((await api.ok(api.rootToken, removeStorage, { id: added.id })).removeStorage).toBe(added.id);
      expect((await api.ok(api.rootToken, storagesQuery)).storages.map((listed: any) => listed.id)).not.toContain(added.id);
      const events = await storageEvents();
      expect(events.find((node: any) => node.type === 'StorageRemoved' && node.data.storageId === added.id)?.data).toEqual({
        storageId: added.id,
        name: 'second folder',
      });
      // Gone from the store too: a removed storage is not served from what was opened before.
      await expect(api.service.app.backup.store(tenantId, added.id).has(stored.sha256)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      // Its name is free again.
      await api.ok(api.rootToken, addStorage, { input: { name: 'second folder', kind: 'LOCAL' } });
    });

    it('refuses to remove the default storage, an unknown one, or one that keeps snapshots', async () => {
      let answer = await api.request(api.rootToken, removeStorage, { id: DEFAULT_STORAGE_ID });
      expect(answer.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(answer.errors?.[0]?.message).toMatch(/default storage cannot be removed/);

      answer = await api.request(api.rootToken, removeStorage, { id: '7c4c5e3e-8f7e-4f55-9a53-4f4b8d2a1c10' });
      expect(answer.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

      const { addStorage: added } = await api.ok(api.rootToken, addStorage, { input: s3Input() });
      // A snapshot kept in it, as a plan run records one.
      await api.service.app.db.query(
        `INSERT INTO snapshots (id, tenant_id, task_id, plan_id, organization_id, repository_id, full_path, storage_id, taken_at, manifest_hash,
           bytes, objects, new_bytes, stored_bytes, wiki, counts, credentials_used, version)
         VALUES (gen_random_uuid(), $1, gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'a/b', $2, now(), $3, 1, 1, 1, 1, false, '{}', '[]', 0)`,
        [tenantId, added.id, createHash('sha256').update('m').digest('hex')],
      );
      answer = await api.request(api.rootToken, removeStorage, { id: added.id });
      expect(answer.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(answer.errors?.[0]?.message).toMatch(/still keeps 1 snapshot/);
      expect((await api.ok(api.rootToken, storagesQuery)).storages.map((listed: any) => listed.id)).toContain(added.id);
    });

    it('lets readers list, and only ADMINs add or remove', async () => {
      const viewer = (await api.ok(api.rootToken, ops.createApiToken, { name: `viewer ${store}`, role: 'VIEWER' })).createApiToken.token;
      const operator = (await api.ok(api.rootToken, ops.createApiToken, { name: `operator ${store}`, role: 'OPERATOR' })).createApiToken.token;
      expect((await api.ok(viewer, storagesQuery)).storages[0].id).toBe(DEFAULT_STORAGE_ID);
      const before = await head();
      for (const token of [viewer, operator]) {
        const added = await api.request(token, addStorage, { input: { name: 'not mine to add', kind: 'LOCAL' } });
        expect(added.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
        const removed = await api.request(token, removeStorage, { id: DEFAULT_STORAGE_ID });
        expect(removed.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      }
      expect(await head()).toEqual(before);
    });

    it("keeps another tenant's storages apart", async () => {
      const { addStorage: added } = await api.ok(api.rootToken, addStorage, { input: { name: 'tenant folder', kind: 'LOCAL' } });
      const other = (await api.ok(api.rootToken, ops.createTenant, { name: `other ${store}` })).createTenant.token;
      const { storages } = await api.ok(other, storagesQuery);
      expect(storages.map((listed: any) => listed.id)).toEqual([DEFAULT_STORAGE_ID]);
      const answer = await api.request(other, removeStorage, { id: added.id });
      expect(answer.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });

    it("stores a plan run's objects in an S3 storage, encrypted: put, has and get through the service's store, no plain text in the bucket", async () => {
      const input = s3Input();
      const { addStorage: added } = await api.ok(api.rootToken, addStorage, { input });
      const store_ = api.service.app.backup.store(tenantId, added.id);
      const plain = Buffer.from(`${MARKER}\n${'the same line again\n'.repeat(50)}`);
      const put = await store_.put(plain);
      expect(put).toMatchObject({ isNew: true, size: plain.length });
      expect(put.storedBytes).toBeGreaterThan(0);
      expect((await store_.put(plain)).isNew).toBe(false);
      expect(await store_.has(put.sha256)).toBe(true);
      expect((await store_.get(put.sha256)).equals(plain)).toBe(true);
      const listed: string[] = [];
      for await (const entry of store_.list()) listed.push(entry.name);
      expect(listed).toEqual([store_.nameOf(put.sha256)]);

      // In the bucket, under the storage's prefix, under a keyed name, and sealed.
      const files = (await s3.files()).filter((file) => file.path.includes(input.s3.prefix));
      expect(files.some((file) => file.path.includes(store_.nameOf(put.sha256)))).toBe(true);
      for (const file of files) {
        expect(file.bytes.includes(Buffer.from(MARKER))).toBe(false);
        expect(file.path).not.toContain(put.sha256);
      }
      // Not in the default storage.
      expect(await api.service.app.backup.store(tenantId, DEFAULT_STORAGE_ID).has(put.sha256)).toBe(false);
    });

    it('a plan that names an S3 storage backs up into its bucket, encrypted, and the storage stays while the plan names it', async () => {
      const label = `s3plan${store}`;
      gitlabGroup(api.gitlab, `${label}/platform`);
      const project = api.gitlab.addProject(`${label}/platform`, 'api', { issues: 2, mergeRequests: 1 });
      await api.gitlab.commit(project.id, { files: { 'README.md': `# api\n${MARKER}\n` } });
      await api.gitlab.tag(project.id, 'v1.0.0');
      const s = await buildScenario(api, api.rootToken, label);
      await protectListedRepositories(api, s.organizationId, 1, 60_000);
      const input = s3Input();
      const { addStorage: added } = await api.ok(api.rootToken, addStorage, { input });
      await api.ok(api.rootToken, setPlanStorage, { planId: s.planId, storageId: added.id });

      const { runPlan: started } = await api.ok(api.rootToken, runPlan, { planId: s.planId });
      const task = await eventually(async () => {
        const found = (await api.ok(api.rootToken, taskQuery, { id: started.id })).task;
        expect(['COMPLETED', 'FAILED']).toContain(found.status);
        return found;
      }, 90_000);
      expect(task).toMatchObject({ status: 'COMPLETED', reason: null, repositoriesDone: 1 });
      const [snapshot] = task.snapshots.edges.map((edge: any) => edge.node);
      expect(snapshot.storage).toEqual({ id: added.id, kind: 'S3', bucket: BUCKET });
      expect(snapshot.storedBytes).toBeGreaterThan(0);
      // Read back from the bucket: the manifest names the tag.
      const { snapshot: read } = await api.ok(api.rootToken, snapshotRefs, { id: snapshot.id });
      expect(read.refs.map((ref: any) => ref.name)).toContain('refs/tags/v1.0.0');

      const files = (await s3.files()).filter((file) => file.path.includes(input.s3.prefix));
      expect(files.length).toBeGreaterThan(1);
      for (const file of files) expect(file.bytes.includes(Buffer.from(MARKER))).toBe(false);

      const refused = await api.request(api.rootToken, removeStorage, { id: added.id });
      expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
      expect(refused.errors?.[0]?.message).toMatch(new RegExp(`is where plan "${label} nightly" keeps snapshots`));

      // The plan moves to the default storage and keeps one snapshot: its next run lets the one in the bucket go.
      await api.ok(
        api.rootToken,
        `mutation($planId: ID!) { updatePlanBackupSettings(planId: $planId, input: { storageId: "${DEFAULT_STORAGE_ID}", keepLast: 1 }) { id } }`,
        { planId: s.planId },
      );
      const { runPlan: again } = await api.ok(api.rootToken, runPlan, { planId: s.planId });
      await eventually(async () => expect((await api.ok(api.rootToken, taskQuery, { id: again.id })).task.status).toBe('COMPLETED'), 90_000);
      expect((await api.ok(api.rootToken, removeStorage, { id: added.id })).removeStorage).toBe(added.id);
      // The expired snapshot outlives its storage in the history; it names no storage any more.
      const { snapshot: gone } = await api.ok(api.rootToken, 'query($id: ID!) { snapshot(id: $id) { id storage { id } } }', { id: snapshot.id });
      expect(gone).toEqual({ id: snapshot.id, storage: null });
    }, 240_000);
  });
}
