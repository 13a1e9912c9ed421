import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** VERIFY.md's canonical JSON. */
export const canon = (v: any): string =>
  v === null || typeof v !== 'object'
    ? JSON.stringify(v)
    : Array.isArray(v)
      ? `[${v.map(canon).join(',')}]`
      : `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canon(v[k])}`)
          .join(',')}}`;

/**
 * A verifier as an auditor would write it from the bundle's VERIFY.md alone: `tar` to unpack,
 * SHA-256 from the standard library, `openssl pkeyutl` for the signatures. It imports nothing of
 * Backplane's, so the procedure, not the server's code, is what it checks.
 * Returns null when the bundle is intact, else what it found.
 */
export function thirdPartyVerify(bundlePath: string): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'audit-bundle-'));
  try {
    execFileSync('tar', ['-xzf', bundlePath, '-C', dir]);
    const read = (name: string) => readFileSync(join(dir, name), 'utf8');
    const manifest = JSON.parse(read('export.json'));
    const keys: { keyId: string; publicKeyPem: string }[] = JSON.parse(read('keys.json')).keys;

    // Steps 3 and 4: signatures with openssl, and the digest chain.
    const heads = new Map<string, string>();
    let previous: string | null = null;
    const digestLines = read('digests.jsonl').split('\n').filter(Boolean);
    for (const [index, text] of digestLines.entries()) {
      const line = JSON.parse(text);
      const key = keys.find((k) => k.keyId === line.keyId);
      if (!key) return `digest ${index + 1}: unknown key`;
      writeFileSync(join(dir, 'payload.txt'), line.payload);
      writeFileSync(join(dir, 'sig.bin'), Buffer.from(line.signature, 'base64'));
      writeFileSync(join(dir, 'key.pem'), key.publicKeyPem);
      try {
        execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', 'key.pem', '-rawin', '-in', 'payload.txt', '-sigfile', 'sig.bin'], {
          cwd: dir,
          stdio: 'pipe',
        });
      } catch {
        return `digest ${index + 1}: bad signature`;
      }
      const payload = JSON.parse(line.payload);
      if (previous !== null && payload.previousDigestHash !== sha(previous)) return `digest ${index + 1}: digest chain broken`;
      previous = line.payload;
      for (const head of payload.streams) heads.set(`${head.stream}#${head.revision}`, head.hash);
    }

    // Steps 1, 2 and 5.
    const last = new Map<string, { revision: number; hash: string }>();
    for (const text of read('events.jsonl').split('\n').filter(Boolean)) {
      const e = JSON.parse(text);
      const content = sha(canon({ data: e.data, id: e.id, metadata: e.metadata, type: e.type }));
      if (sha(`${e.previousHash}|${e.stream}|${e.revision}|${content}`) !== e.hash) return `event ${e.id}: hash mismatch`;
      if (e.revision === 0 && e.previousHash !== '0'.repeat(64)) return `event ${e.id}: bad genesis`;
      const before = last.get(e.stream);
      if (before) {
        if (e.revision <= before.revision) return `event ${e.id}: out of order`;
        if (manifest.complete && e.revision !== before.revision + 1) return `event ${e.id}: missing revision before it`;
        if (e.revision === before.revision + 1 && e.previousHash !== before.hash) return `event ${e.id}: chain broken`;
      }
      last.set(e.stream, { revision: e.revision, hash: e.hash });
      const signed = heads.get(`${e.stream}#${e.revision}`);
      if (signed !== undefined && signed !== e.hash) return `event ${e.id}: differs from a signed head`;
    }
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
