import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The run's own folder for temporary files, once globalSetup has made it. */
const RUN_TMPDIR_VARIABLE = 'BACKPLANE_TEST_RUN_TMPDIR';

/**
 * Gives the run a folder for temporary files of its own (TMPDIR, which the test processes and
 * what they spawn inherit), removed whole at the end. A test process that jest ends does not run
 * its exit handlers (nor does jest's copy of `process` hear the real exit), so what the code
 * removes on exit, such as git's empty home, would otherwise stay behind in the system's folder.
 */
export function makeRunTmpdir(): void {
  const folder = mkdtempSync(join(tmpdir(), 'backplane-test-run-'));
  process.env[RUN_TMPDIR_VARIABLE] = folder;
  process.env.TMPDIR = folder;
}

export function removeRunTmpdir(): void {
  const folder = process.env[RUN_TMPDIR_VARIABLE];
  if (folder) rmSync(folder, { recursive: true, force: true });
}
