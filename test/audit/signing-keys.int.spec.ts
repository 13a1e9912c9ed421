import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyIdOf } from '../../src/audit/digest';
import { rotateAuditKey } from '../../src/audit/key-rotation';
import { AUDIT_KEY_FILE, AuditSigner, signingKeys, takeKeyFileName } from '../../src/audit/signing-keys';
import type { SqlDatabase } from '../../src/sql/database';
import { dropTestSchemas, testDatabases } from '../support/databases';

afterAll(dropTestSchemas);

const pemOf = () => generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

for (const database of testDatabases) {
  describe(`audit signing keys on ${database.name}`, () => {
    let db: SqlDatabase;
    let dataDir: string;

    beforeEach(async () => {
      db = await database.open();
      dataDir = await mkdtemp(join(tmpdir(), 'backplane-keys-'));
    });
    afterEach(async () => {
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('makes a key file with mode 0600 on first start, records its public key, and keeps it on the next start', async () => {
      const first = await (await AuditSigner.open(db, { dataDir })).current();
      const file = join(dataDir, AUDIT_KEY_FILE);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(keyIdOf(await readFile(file, 'utf8'))).toBe(first.keyId);
      expect(first.keyId).toMatch(/^[0-9a-f]{16}$/);
      const again = await (await AuditSigner.open(db, { dataDir })).current();
      expect(again.keyId).toBe(first.keyId);
      const keys = await signingKeys(db);
      expect(keys).toEqual([expect.objectContaining({ keyId: first.keyId, algorithm: 'Ed25519', retiredAt: null })]);
      expect(keys[0].publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      expect(JSON.stringify(keys)).not.toContain('PRIVATE');
    });

    it('gives two processes starting at once on one folder the same key', async () => {
      const [a, b] = await Promise.all([AuditSigner.open(db, { dataDir }), AuditSigner.open(db, { dataDir })]);
      expect((await a.current()).keyId).toBe((await b.current()).keyId);
      expect(await signingKeys(db)).toHaveLength(1);
    });

    it('signs with BACKPLANE_AUDIT_SIGNING_KEY when it is set, and refuses one that is not an Ed25519 private key', async () => {
      const pem = pemOf();
      expect((await (await AuditSigner.open(db, { pem, dataDir })).current()).keyId).toBe(keyIdOf(pem));
      await expect(stat(join(dataDir, AUDIT_KEY_FILE))).rejects.toThrow();
      await expect(AuditSigner.open(db, { pem: 'not a key', dataDir })).rejects.toThrow(/Ed25519 private key in PEM/);
      const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      await expect(AuditSigner.open(db, { pem: rsa, dataDir })).rejects.toThrow(/rsa key/);
    });

    it('refuses a process whose key is not the one the database signs with, naming both', async () => {
      const pem = pemOf();
      await AuditSigner.open(db, { pem, dataDir });
      const other = pemOf();
      await expect(AuditSigner.open(db, { pem: other, dataDir })).rejects.toThrow(
        new RegExp(`${keyIdOf(other)} .* is not the database's active key ${keyIdOf(pem)}`),
      );
      // A data folder of its own, without the key: it is told to bring the key rather than given a new one.
      await expect(AuditSigner.open(db, { dataDir })).rejects.toThrow(/copy the key file/);
      await expect(stat(join(dataDir, AUDIT_KEY_FILE))).rejects.toThrow();
    });

    it('rotates: the old key is retired and kept, the key file holds the new one, and a signer in hand moves to it', async () => {
      const signer = await AuditSigner.open(db, { dataDir });
      const old = (await signer.current()).keyId;
      const oldPem = await readFile(join(dataDir, AUDIT_KEY_FILE), 'utf8');
      const { retired, active } = await rotateAuditKey(db, { dataDir });
      expect(retired).toBe(old);
      expect(keyIdOf(await readFile(join(dataDir, AUDIT_KEY_FILE), 'utf8'))).toBe(active);
      expect((await signer.current()).keyId).toBe(active);
      const keys = await signingKeys(db);
      expect(keys.map((key) => [key.keyId, key.retiredAt === null])).toEqual([
        [old, false],
        [active, true],
      ]);
      // A retired key does not come back.
      await expect(AuditSigner.open(db, { pem: oldPem, dataDir })).rejects.toThrow(/is not the database's active key/);
    });

    it('finishes a rotation cut short after the database took the new key, and drops one cut short before', async () => {
      await AuditSigner.open(db, { dataDir });
      const next = pemOf();
      // Cut short before the database: the new key's file is there, the database never named it.
      await writeFile(join(dataDir, `${AUDIT_KEY_FILE}.next`), next, { mode: 0o600 });
      const kept = (await (await AuditSigner.open(db, { dataDir })).current()).keyId;
      expect(kept).not.toBe(keyIdOf(next));
      await expect(stat(join(dataDir, `${AUDIT_KEY_FILE}.next`))).rejects.toThrow();
      // Cut short after: the database names the new key; the file is put in place at the next start.
      await writeFile(join(dataDir, `${AUDIT_KEY_FILE}.next`), next, { mode: 0o600 });
      await db.query('UPDATE audit_signing_keys SET retired_at = now() WHERE retired_at IS NULL');
      await db.query(`INSERT INTO audit_signing_keys (key_id, algorithm, public_key_pem) VALUES ($1, 'Ed25519', $2)`, [
        keyIdOf(next),
        generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      ]);
      expect((await (await AuditSigner.open(db, { dataDir })).current()).keyId).toBe(keyIdOf(next));
      expect(await readFile(join(dataDir, AUDIT_KEY_FILE), 'utf8')).toBe(next);
    });
  });
}

describe("a rotation's rename of the new key file", () => {
  it('is done when another process renamed it first and the key file holds the new key, and fails when it holds another', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'backplane-keys-'));
    try {
      const next = pemOf();
      const nextFile = join(dataDir, `${AUDIT_KEY_FILE}.next`);
      // What a process finishing the rotation leaves: the new key under the key file's name, no .next.
      await writeFile(join(dataDir, AUDIT_KEY_FILE), next, { mode: 0o600 });
      await expect(takeKeyFileName(nextFile, dataDir, keyIdOf(next))).resolves.toBeUndefined();
      await writeFile(join(dataDir, AUDIT_KEY_FILE), pemOf(), { mode: 0o600 });
      await expect(takeKeyFileName(nextFile, dataDir, keyIdOf(next))).rejects.toThrow(`the new audit signing key ${keyIdOf(next)} was taken from`);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
