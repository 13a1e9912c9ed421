import type { SignedDigest } from '../audit/digest';
import { listDigests, signingKeysDocument } from './audit-digests';
import type { AppDeps } from './deps';

/** The signing evidence a bundle carries beside the events, read once when the export starts. */
export interface ExportEvidence {
  /** digests.jsonl: the tenant's signed digests whose period overlaps the export's, oldest first, one per line. */
  digestsJsonl: string;
  /** keys.json: the document /.well-known/backplane-audit-keys.json serves. */
  keysJson: string;
  /** anchor.json: in an export of digest periods after the tenant's first, the digest before its first; else null. */
  anchorJson: string | null;
}

/** The evidence of an export by time: the digests whose period overlaps the range; an export of digest periods gives its digests. */
export async function exportEvidence(
  deps: AppDeps,
  tenantId: string,
  range: { from?: Date; to?: Date } | { digests: SignedDigest[]; anchor: SignedDigest | null },
): Promise<ExportEvidence> {
  // Read once, before the events: a digest made while they are read is not in the bundle.
  const [digests, keys] = await Promise.all(['digests' in range ? range.digests : listDigests(deps, tenantId, range), signingKeysDocument(deps)]);
  const anchor = 'anchor' in range ? range.anchor : null;
  return {
    digestsJsonl: digests.map((digest) => `${signedLine(digest)}\n`).join(''),
    keysJson: `${JSON.stringify(keys, null, 2)}\n`,
    anchorJson: anchor ? `${signedLine(anchor)}\n` : null,
  };
}

/** A digest as a bundle holds it: exactly what is signed, and by which key. */
const signedLine = (digest: SignedDigest) => JSON.stringify({ payload: digest.payload, signature: digest.signature, keyId: digest.keyId });
