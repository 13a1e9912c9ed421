import { verifyBundle } from './verify-bundle';

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
    return 0;
  }
  process.stdout.write(`TAMPERED: ${result.problem}\n`);
  return 1;
}
