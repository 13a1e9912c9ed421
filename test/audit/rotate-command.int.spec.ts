import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyIdOf } from '../../src/audit/digest';
import { AUDIT_KEY_FILE, AuditSigner, signingKeys } from '../../src/audit/signing-keys';
import { PgliteDatabase } from '../../src/sql/pglite-database';
import { spawnTs } from '../support/child';

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
