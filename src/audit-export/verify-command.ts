import { type BundleVerification, verifyBundle } from './verify-bundle';

/** `backplane verify-export <bundle>`: 0 and a summary when intact, 1 naming the first thing found wrong, 2 on a usage error. */
export async function verifyExport(path: string | undefined): Promise<number> {
  if (!path) {
    process.stderr.write('verify-export needs the path of a bundle (.tar.gz from GET /audit/export?format=bundle)\n');
    return 2;
  }
  const result = await verifyBundle(path);
  if (result.ok) {
    process.stdout.write(
      `the export is intact: ${result.events} events in ${result.streams} streams, ${result.digests} signed digests, ${result.headsChecked} signed stream heads matched\n`,
    );
    // What the bundle could not prove is said as plainly as what it did (VERIFY.md, "What a bundle can and cannot prove").
    process.stdout.write(`${scopeLine(result)}\n`);
    if (result.unsigned > 0) {
      process.stdout.write(
        `${result.unsigned} events after the newest digest are signed by none: events removed from that tail cannot be detected; compare the newest digest with one obtained independently\n`,
      );
    }
    return 0;
  }
  process.stdout.write(`TAMPERED: ${result.problem}\n`);
  return 1;
}

function scopeLine(result: BundleVerification): string {
  if (result.full) return 'a full export: every signed period holds exactly the events its digest counts and names';
  if (result.digestPeriods) {
    // The sequence numbers are export.json's word; the signatures vouch for the chain, not for them.
    const { fromDigest, toDigest, anchored } = result.digestPeriods;
    const chain = anchored ? 'anchor.json → first → … → last' : "from the tenant's first (previous hash 64 zeros) to the last";
    return `an export of whole digest periods, digests ${fromDigest} to ${toDigest} as export.json claims (those numbers are not signed; what is checked is the chain of signed digests ${chain}): each period holds exactly the events its digest counts and names, and nothing else`;
  }
  return 'not a full export (from, to or a filter was given): events left out at its edges or by its filters cannot be detected';
}
