import { inspect } from 'node:util';
import type { Logger } from '../../src/core/logger';
import { passwordStream } from '../../src/domain/password';
import type { RecordedEvent } from '../../src/eventstore/types';
import { apiStores, startTestApi, testStorage, type GraphQLResponse, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { allReadable } from '../support/readable';
import { buildScenario, ops, secretValue } from '../support/scenario';

/** A logger that keeps every line as the JSON logger would print it, fields and all. */
function capturingLogger(lines: string[]): Logger {
  const keep = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${message} ${inspect(fields ?? {}, { depth: 20, breakLength: Infinity })}`);
  };
  return { info: keep('info'), warn: keep('warn'), error: keep('error') };
}

/** The same secret can hide as UTF-8 text or, in a bytea column rendered as text, as hex. */
function holds(haystack: string, secret: string): boolean {
  return haystack.includes(secret) || haystack.toLowerCase().includes(Buffer.from(secret, 'utf8').toString('hex'));
}

function leaks(haystacks: string[], secrets: string[]): { secret: string; where: string }[] {
  return secrets.flatMap((secret) => haystacks.filter((haystack) => holds(haystack, secret)).map((where) => ({ secret, where: where.slice(0, 300) })));
}

async function tableRows(api: TestApi): Promise<Map<string, string[]>> {
  const db = api.service.backplane.db;
  const tables = await db.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  const dump = new Map<string, string[]>();
  for (const { name } of tables) {
    const rows = await db.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${name}" t`);
    dump.set(
      name,
      rows.map((row) => row.row),
    );
  }
  return dump;
}

async function streamEvents(api: TestApi, passwordId: string): Promise<RecordedEvent[]> {
  return api.service.backplane.store.readStream(passwordStream(passwordId));
}

function secretIdOf(event: RecordedEvent): string {
  return (event.data as { secretId: string }).secretId;
}

async function vaultIds(api: TestApi): Promise<string[]> {
  const rows = await api.service.backplane.db.query<{ secret_id: string }>('SELECT secret_id FROM password_secrets ORDER BY secret_id');
  return rows.map((row) => row.secret_id);
}

for (const store of apiStores) {
  describe(`secrets through a whole scenario, on ${store}`, () => {
    let storage: TestStorage;
    let api: TestApi;
    const logLines: string[] = [];
    /** Every answer the API gave, as its body. */
    const bodies: string[] = [];
    /** Passwords: found nowhere. */
    const passwords: string[] = [];
    /** API tokens: found nowhere but in the one answer that issued each (the bootstrap token in none). */
    const tokens = new Map<string, string | null>();
    let tenantId: string;
    let changed: { id: string; oldSecretId: string; newSecretId: string; secret: string };
    let deleted: { id: string; secretId: string };
    let refusals: GraphQLResponse[];

    const call = async <T = Record<string, any>>(token: string | null, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> => {
      const response = await api.request<T>(token, query, variables);
      bodies.push(JSON.stringify(response));
      return response;
    };
    const ok = async <T = Record<string, any>>(token: string, query: string, variables?: Record<string, unknown>): Promise<T> => {
      const response = await call<T>(token, query, variables);
      if (response.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`);
      return response.data!;
    };
    const issued = (token: string) => {
      tokens.set(token, bodies[bodies.length - 1]);
      return token;
    };

    beforeAll(async () => {
      storage = await testStorage(store);
      api = await startTestApi(storage, { logger: capturingLogger(logLines) });
      tokens.set(api.rootToken, null);
      const root = api.rootToken;
      tenantId = (await ok(root, ops.me)).me.tenant.id;

      const scenario = await buildScenario({ ...api, request: call, ok }, root, 'vault');
      passwords.push(...scenario.secrets);
      // The first repository sync reads the main token: let it finish with the token it was added with, before that token changes.
      await api.service.app.jobs.idle();

      const renewed = secretValue('vault-renewed');
      passwords.push(renewed);
      await ok(root, ops.changePassword, { id: scenario.passwordId, input: { secret: renewed, description: 'rotated' } });
      const [stored, change] = await streamEvents(api, scenario.passwordId).then((events) => events.filter((event) => event.type !== 'PasswordDescribed'));
      changed = { id: scenario.passwordId, oldSecretId: secretIdOf(stored), newSecretId: secretIdOf(change), secret: renewed };

      const spare = secretValue('vault-spare');
      passwords.push(spare);
      const { storePassword } = await ok(root, ops.storePassword, { input: { name: 'spare', secret: spare } });
      await ok(root, ops.deletePassword, { id: storePassword.id });
      const [spareStored] = await streamEvents(api, storePassword.id);
      deleted = { id: storePassword.id, secretId: secretIdOf(spareStored) };

      const viewer = issued((await ok(root, ops.createApiToken, { name: 'reader', role: 'VIEWER' })).createApiToken.token);
      await ok(viewer, ops.me);
      const admin = issued((await ok(root, ops.createTenant, { name: 'globex' })).createTenant.token);
      const globexSecret = secretValue('globex');
      passwords.push(globexSecret);
      await ok(admin, ops.storePassword, { input: { name: 'globex main', secret: globexSecret } });

      const tooLong = `${secretValue('too-long')}${'x'.repeat(4096)}`;
      const unnamed = secretValue('unnamed');
      const forbidden = secretValue('forbidden');
      const duplicate = secretValue('duplicate');
      // Stored, then refused by GitLab, which does not know it: the failed attempt is recorded and answered without it.
      const unknown = secretValue('vault-unknown');
      passwords.push(tooLong, unnamed, forbidden, duplicate, unknown);
      const { storePassword: unknownEntry } = await ok(root, ops.storePassword, { input: { name: 'unknown to gitlab', secret: unknown } });
      refusals = [
        await call(root, ops.storePassword, { input: { name: 'too long', secret: tooLong } }),
        await call(root, ops.storePassword, { input: { name: '', secret: unnamed } }),
        await call(viewer, ops.storePassword, { input: { name: 'not allowed', secret: forbidden } }),
        await call(admin, ops.storePassword, { input: { name: 'globex main', secret: duplicate } }),
        await call(root, ops.addCredential, { input: { organizationId: scenario.organizationId, login: 'vault-stranger', passwordId: unknownEntry.id } }),
      ];
      // The organization's first repository sync uses its token in the background: scan only once it has written and logged all it will.
      await api.service.app.jobs.idle();
    });
    afterAll(async () => {
      await api?.close();
      await storage?.dispose();
    });

    const everySecret = () => [...passwords, ...tokens.keys()];

    it('refuses invalid, forbidden and conflicting input without echoing its secret', () => {
      expect(refusals.map((response) => response.errors?.[0]?.extensions?.code)).toEqual([
        'BAD_USER_INPUT',
        'BAD_USER_INPUT',
        'FORBIDDEN',
        'CONFLICT',
        'GITLAB_AUTH_FAILED',
      ]);
      expect(refusals[0].errors?.[0].extensions?.fields).toHaveProperty('secret');
      expect(refusals[1].errors?.[0].extensions?.fields).toHaveProperty('name');
    });

    it('writes no secret into any event, in its data or its metadata', async () => {
      await allReadable(api.service.backplane.store);
      const events = await api.service.backplane.store.readAll();
      // The events written after GitLab saw a token are among those scanned: what it can do (access), a failed attempt, the repository sync.
      expect(events.map((event) => event.type)).toEqual(
        expect.arrayContaining([
          'PasswordStored',
          'PasswordChanged',
          'PasswordDeleted',
          'ApiTokenCreated',
          'TenantCreated',
          'OrganizationAdded',
          'CredentialAdded',
          'GitLabVerificationFailed',
          'RepositoryListSynced',
        ]),
      );
      const texts = events.flatMap((event) => [JSON.stringify(event.data), JSON.stringify(event.metadata)]);
      expect(leaks(texts, everySecret())).toEqual([]);
    });

    it('keeps no secret in any row of any table, the encrypted vault included', async () => {
      const dump = await tableRows(api);
      expect([...dump.keys()]).toEqual(expect.arrayContaining(['events', 'password_secrets', 'passwords', 'audit_log', 'api_tokens', 'api_token_digests']));
      expect(dump.get('password_secrets')!.length).toBeGreaterThan(0);
      const rows = [...dump].flatMap(([table, texts]) => texts.map((text) => `${table}: ${text}`));
      expect(leaks(rows, everySecret())).toEqual([]);

      const vault = await api.service.backplane.db.query<{ ciphertext: Uint8Array }>('SELECT ciphertext FROM password_secrets');
      for (const { ciphertext } of vault) {
        for (const secret of passwords) expect(Buffer.from(ciphertext).includes(Buffer.from(secret, 'utf8'))).toBe(false);
      }
    });

    it('answers with no password ever, and with each token only in the answer that issued it', () => {
      expect(bodies.length).toBeGreaterThan(10);
      expect(leaks(bodies, passwords)).toEqual([]);
      for (const [token, issuer] of tokens) {
        expect(bodies.filter((body) => body.includes(token))).toEqual(issuer === null ? [] : [issuer]);
      }
    });

    it('logs no secret', () => {
      expect(logLines.length).toBeGreaterThan(0);
      expect(leaks(logLines, everySecret())).toEqual([]);
    });

    it('destroys the encrypted copy of a deleted password and keeps its history', async () => {
      await eventually(async () => expect(await vaultIds(api)).not.toContain(deleted.secretId));
      expect((await streamEvents(api, deleted.id)).map((event) => event.type)).toEqual(['PasswordStored', 'PasswordDeleted']);
      await expect(api.service.app.vault.reveal(tenantId, deleted.secretId)).rejects.toThrow(/not in the vault/);
    });

    it("destroys a changed password's old copy; the new one decrypts to the new secret", async () => {
      await eventually(async () => expect(await vaultIds(api)).not.toContain(changed.oldSecretId));
      expect(await api.service.app.vault.reveal(tenantId, changed.newSecretId)).toBe(changed.secret);
    });

    it('keeps exactly one encrypted copy per live password entry', async () => {
      const live = await api.service.backplane.db.query<{ secret_id: string }>('SELECT secret_id FROM passwords WHERE deleted_at IS NULL ORDER BY secret_id');
      await eventually(async () => expect(await vaultIds(api)).toEqual(live.map((row) => row.secret_id)));
    });
  });
}
