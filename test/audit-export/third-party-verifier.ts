import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** VERIFY.md's positions: two decimal integers, "<a>-<b>" or "C<a>/P<b>". */
export const position = (text: string): bigint[] => {
  const match = /^(?:(\d+)-(\d+)|C(\d+)\/P(\d+))$/.exec(text);
  if (!match) throw new Error(`not a position: ${text}`);
  return match[1] !== undefined ? [BigInt(match[1]), BigInt(match[2])] : [BigInt(match[3]), BigInt(match[4])];
};
export const compare = (a: bigint[], b: bigint[]) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] !== b[1] ? (a[1] < b[1] ? -1 : 1) : 0);

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
    // "Files": the kind, and whether the export starts at the beginning of the history.
    if ((manifest.fromDigest == null) !== (manifest.toDigest == null)) return 'export.json: kind does not match';
    const expectedKind =
      manifest.fromDigest != null ? 'digest-periods' : !manifest.complete ? 'filtered' : manifest.from || manifest.to ? 'time-bounded' : 'full';
    if (manifest.kind !== undefined && manifest.kind !== expectedKind) return 'export.json: kind does not match';
    // A missing kind follows from the other fields.
    const byDigests = expectedKind === 'digest-periods';
    const firstDigest = byDigests ? manifest.fromDigest : 1;
    const fromStart = byDigests ? manifest.fromDigest === 1 : manifest.from === null;

    // Steps 3 and 4: signatures with openssl, the keys' validity, and the digest chain from the anchor.
    const keys: { keyId: string; publicKeyPem: string; createdAt: string; retiredAt: string | null }[] = JSON.parse(read('keys.json')).keys;
    const signedPayload = (text: string, name: string) => {
      const line = JSON.parse(text);
      const key = keys.find((k) => k.keyId === line.keyId);
      if (!key) return `${name}: unknown key`;
      writeFileSync(join(dir, 'payload.txt'), line.payload);
      writeFileSync(join(dir, 'sig.bin'), Buffer.from(line.signature, 'base64'));
      writeFileSync(join(dir, 'key.pem'), key.publicKeyPem);
      try {
        execFileSync('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', 'key.pem', '-rawin', '-in', 'payload.txt', '-sigfile', 'sig.bin'], {
          cwd: dir,
          stdio: 'pipe',
        });
      } catch {
        return `${name}: bad signature`;
      }
      const payload = JSON.parse(line.payload);
      const end = Date.parse(payload.periodEnd);
      if (end < Date.parse(key.createdAt) || (key.retiredAt !== null && end > Date.parse(key.retiredAt))) return `${name}: outside its key's validity`;
      if (payload.tenantId !== manifest.tenantId) return `${name}: another tenant`;
      return { payload, text: line.payload as string };
    };
    const anchored = byDigests && manifest.fromDigest > 1;
    let anchorEnd: bigint[] | null = null;
    let previous: { text: string; periodEnd: string } | null = null;
    if (anchored) {
      if (!existsSync(join(dir, 'anchor.json'))) return 'anchor: missing';
      const anchor = signedPayload(read('anchor.json'), 'anchor');
      if (typeof anchor === 'string') return anchor;
      anchorEnd = anchor.payload.logPosition === null ? null : position(anchor.payload.logPosition);
      previous = { text: anchor.text, periodEnd: anchor.payload.periodEnd };
    }
    const digests: { stream: string; revision: number; hash: string }[][] = [];
    const positions: (bigint[] | null)[] = [];
    const counts: number[] = [];
    const heads = new Map<string, string>();
    const digestLines = read('digests.jsonl').split('\n').filter(Boolean);
    if (digestLines.length === 0) return 'no digest';
    if (byDigests && digestLines.length !== manifest.toDigest - manifest.fromDigest + 1) return 'digests: not the ones asked for';
    for (const [index, text] of digestLines.entries()) {
      const signed = signedPayload(text, `digest ${firstDigest + index}`);
      if (typeof signed === 'string') return signed;
      const { payload } = signed;
      if (index === 0 && fromStart && payload.previousDigestHash !== '0'.repeat(64)) return `digest ${firstDigest + index}: not the first digest`;
      if (index === 0 && anchored && payload.previousDigestHash === '0'.repeat(64)) return `digest ${firstDigest + index}: the tenant's first digest`;
      if (previous !== null && payload.previousDigestHash !== sha(previous.text)) return `digest ${firstDigest + index}: digest chain broken`;
      if (previous !== null && payload.periodStart !== previous.periodEnd) return `digest ${firstDigest + index}: period does not follow`;
      if (index === 0 && anchorEnd !== null && payload.logPosition !== null && compare(position(payload.logPosition), anchorEnd) < 0) {
        return `digest ${firstDigest + index}: before the anchor`;
      }
      previous = { text: signed.text, periodEnd: payload.periodEnd };
      for (const head of payload.streams) heads.set(`${head.stream}#${head.revision}`, head.hash);
      digests.push(payload.streams);
      positions.push(payload.logPosition === null ? null : position(payload.logPosition));
      counts.push(payload.eventCount);
    }

    // Steps 1, 2 and 5, and the events given to each digest for step 6.
    const counted = expectedKind === 'full' || byDigests;
    const last = new Map<string, { revision: number; hash: string }>();
    const given = digests.map(() => ({ count: 0, heads: new Map<string, number>() }));
    let before: bigint[] | null = null;
    for (const text of read('events.jsonl').split('\n').filter(Boolean)) {
      const e = JSON.parse(text);
      const content = sha(canon({ data: e.data, id: e.id, metadata: e.metadata, type: e.type }));
      if (sha(`${e.previousHash}|${e.stream}|${e.revision}|${content}`) !== e.hash) return `event ${e.id}: hash mismatch`;
      if (e.metadata?.tenantId !== manifest.tenantId) return `event ${e.id}: another tenant`;
      if (e.revision === 0 && e.previousHash !== '0'.repeat(64)) return `event ${e.id}: bad genesis`;
      const at = position(e.position);
      if (anchorEnd !== null && compare(at, anchorEnd) <= 0) return `event ${e.id}: before the first period`;
      if (before !== null && compare(at, before) <= 0) return `event ${e.id}: out of log order`;
      before = at;
      const earlier = last.get(e.stream);
      if (earlier) {
        if (e.revision <= earlier.revision) return `event ${e.id}: out of order`;
        if (manifest.complete && e.revision !== earlier.revision + 1) return `event ${e.id}: missing revision before it`;
        if (e.revision === earlier.revision + 1 && e.previousHash !== earlier.hash) return `event ${e.id}: chain broken`;
      } else if (manifest.complete && fromStart && e.revision !== 0) return `event ${e.id}: stream does not start at revision 0`;
      last.set(e.stream, { revision: e.revision, hash: e.hash });
      const signed = heads.get(`${e.stream}#${e.revision}`);
      if (signed !== undefined && signed !== e.hash) return `event ${e.id}: differs from a signed head`;
      const period = positions.findIndex((end) => end !== null && compare(at, end) <= 0);
      if (period !== -1) {
        given[period].count += 1;
        given[period].heads.set(e.stream, e.revision);
      } else if (byDigests) return `event ${e.id}: after the last period`;
    }

    // Step 6.
    if (counted) {
      for (const [index, signedHeads] of digests.entries()) {
        if (given[index].count !== counts[index]) return `digest ${firstDigest + index}: event count ${counts[index]} signed, ${given[index].count} found`;
        const found = [...given[index].heads].map(([stream, revision]) => `${stream}#${revision}`).sort();
        const expected = signedHeads.map((head) => `${head.stream}#${head.revision}`).sort();
        if (found.join(',') !== expected.join(',')) return `digest ${firstDigest + index}: stream heads differ`;
      }
    }
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
