import { mkdtempSync, rmSync } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyIdOf } from '../../src/audit/digest';
import { KEY_HISTORY_FILE, readKeyHistory } from '../../src/audit/key-history';
import { AUDIT_KEY_FILE, AuditSigner, signingKeys } from '../../src/audit/signing-keys';
import { PgliteDatabase } from '../../src/sql/pglite-database';
import { spawnTs } from '../support/child';
import { describeWithPostgres, dropTestSchemas, newSchemaName, openPostgres } from '../support/databases';
import { eventually } from '../support/eventually';
import { testDatabaseUrl } from '../support/postgres-url';

const cli = join(__dirname, '../../src/cli.ts');

/** `backplane rotate-audit-key`, run as a real process on an embedded store in a folder. */
describe('backplane rotate-audit-key', () => {
  let folder: string;
  const run = async (...args: string[]) => {
    const child = spawnTs(cli, args, { BACKPLANE_EVENT_STORE: 'pglite', BACKPLANE_DATA_DIR: folder });
    const code = await child.exited;
    return { code, output: child.output() };
  };

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'backplane-rotate-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('retires the key the store signs with, keeps it, and puts a new one in the key file', async () => {
    const db = await PgliteDatabase.open(folder);
    const old = await (await AuditSigner.open(db, { dataDir: folder })).current();
    await db.close();

    const { code, output } = await run('rotate-audit-key');
    expect(code).toBe(0);
    const file = join(folder, AUDIT_KEY_FILE);
    const active = keyIdOf(await readFile(file, 'utf8'));
    expect(output).toContain(`retired audit signing key ${old.keyId}; digests are signed with key ${active} from now on`);
    expect(active).not.toBe(old.keyId);
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const after = await PgliteDatabase.open(folder);
    try {
      expect((await signingKeys(after)).map((key) => [key.keyId, key.retiredAt === null])).toEqual([
        [old.keyId, false],
        [active, true],
      ]);
      expect((await (await AuditSigner.open(after, { dataDir: folder })).current()).keyId).toBe(active);
    } finally {
      await after.close();
    }
    expect(output).not.toContain('PRIVATE KEY');
  }, 120000);
});

/**
 * A rotation against a server on the same database, both real processes: the rotation holds the
 * keys lock from writing the new key's file to renaming it, so a process starting meanwhile (which
 * takes that lock to finish a rotation it finds half done) never sees the new file before the
 * database names its key, and never deletes it.
 */
describeWithPostgres('backplane rotate-audit-key beside another process on the database', () => {
  let folder: string;
  const schema = newSchemaName();

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'backplane-rotate-pg-'));
  });
  afterAll(async () => {
    rmSync(folder, { recursive: true, force: true });
    await dropTestSchemas();
  });

  it('writes the new key only once it holds the keys lock, and leaves key file, database and key history agreeing', async () => {
    const db = await openPostgres(schema);
    try {
      const old = await (await AuditSigner.open(db, { dataDir: folder })).current();
      const [ids] = await db.query<{ space: number; name: number }>("SELECT hashtext(current_schema()) AS space, hashtext('backplane-audit-keys') AS name");
      // The key of withLock's session lock as pg_locks shows it: two unsigned 32-bit halves.
      const waiting = async () =>
        (
          await db.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid::bigint = $1 AND objid::bigint = $2",
            [ids.space >>> 0, ids.name >>> 0],
          )
        )[0].n;
      let child: ReturnType<typeof spawnTs> | undefined;
      // This process holds the lock as a starting server finishing a rotation would.
      await db.withLock(
        'backplane-audit-keys',
        async () => {
          child = spawnTs(cli, ['rotate-audit-key'], {
            BACKPLANE_EVENT_STORE: 'postgres',
            BACKPLANE_DATABASE_URL: testDatabaseUrl(),
            BACKPLANE_DATABASE_SCHEMA: schema,
            BACKPLANE_DATA_DIR: folder,
          });
          await eventually(async () => expect(await waiting()).toBe('1'), 30_000);
          // Waiting for the lock, the rotation has written nothing and changed nothing.
          await expect(access(join(folder, `${AUDIT_KEY_FILE}.next`))).rejects.toMatchObject({ code: 'ENOENT' });
          expect((await signingKeys(db)).map((key) => [key.keyId, key.retiredAt])).toEqual([[old.keyId, null]]);
        },
        { timeoutMs: 30_000 },
      );
      expect(await child!.exited).toBe(0);
      const active = keyIdOf(await readFile(join(folder, AUDIT_KEY_FILE), 'utf8'));
      expect(child!.output()).toContain(`retired audit signing key ${old.keyId}; digests are signed with key ${active} from now on`);
      const table = await signingKeys(db);
      expect(table.map((key) => [key.keyId, key.retiredAt === null])).toEqual([
        [old.keyId, false],
        [active, true],
      ]);
      // The history outside the database took both, the old one as retired when the new one began.
      const history = await readKeyHistory(join(folder, KEY_HISTORY_FILE));
      expect(history?.map((key) => [key.keyId, key.retiredAt])).toEqual([
        [old.keyId, table[1].createdAt.toISOString()],
        [active, null],
      ]);
      expect((await (await AuditSigner.open(db, { dataDir: folder })).current()).keyId).toBe(active);
    } finally {
      await db.close();
    }
  }, 120000);
});
