import type { SignedDigest } from '../audit/digest';
import { listDigests, signingKeysDocument } from './audit-digests';
import type { AppDeps } from './deps';

/** The signing evidence a bundle carries beside the events, read once when the export starts. */
export interface ExportEvidence {
  /** digests.jsonl: the tenant's signed digests whose period overlaps the export's, oldest first, one per line. */
  digestsJsonl: string;
  /** keys.json: the document /.well-known/backplane-audit-keys.json serves. */
  keysJson: string;
}

/** The evidence of an export by time: the digests whose period overlaps the range; an export of digest periods gives its digests. */
export async function exportEvidence(
  deps: AppDeps,
  tenantId: string,
  range: { from?: Date; to?: Date } | { digests: SignedDigest[] },
): Promise<ExportEvidence> {
  // Read once, before the events: a digest made while they are read is not in the bundle.
  const [digests, keys] = await Promise.all(['digests' in range ? range.digests : listDigests(deps, tenantId, range), signingKeysDocument(deps)]);
  return {
    digestsJsonl: digests.map((digest) => `${JSON.stringify({ payload: digest.payload, signature: digest.signature, keyId: digest.keyId })}\n`).join(''),
    keysJson: `${JSON.stringify(keys, null, 2)}\n`,
  };
}
