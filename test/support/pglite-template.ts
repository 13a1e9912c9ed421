import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteDatabase } from '../../src/sql/pglite-database';

/** Where the run's PGlite cluster and its dump are, once globalSetup has made them. */
const TEMPLATE_VARIABLE = 'BACKPLANE_TEST_PGLITE_TEMPLATE';

/**
 * Creating a PGlite cluster runs initdb in WebAssembly: seconds on a quiet machine, tens of them
 * on a loaded one. The run creates one, through the store's own open(), before any suite starts,
 * and every test process copies it (a folder for a data folder, a dump for an in-memory store)
 * instead of creating its own. Suites that test creation itself open a folder of their own.
 */
export async function preparePgliteTemplate(): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'backplane-pglite-template-'));
  const db = await PgliteDatabase.open(folder);
  try {
    await writeFile(join(folder, 'dump.tar'), Buffer.from(await (await db.dump()).arrayBuffer()));
  } finally {
    await db.close();
  }
  process.env[TEMPLATE_VARIABLE] = folder;
}

export function removePgliteTemplate(): void {
  const folder = process.env[TEMPLATE_VARIABLE];
  if (folder) rmSync(folder, { recursive: true, force: true });
}

/** The run's cluster folder (pgdata), or undefined where no globalSetup made one. */
export function pgliteTemplateCluster(): string | undefined {
  const folder = process.env[TEMPLATE_VARIABLE];
  return folder && existsSync(join(folder, 'pgdata', 'PG_VERSION')) ? join(folder, 'pgdata') : undefined;
}

/** The run's dump, for PgliteDatabase.open(undefined, { from }), or undefined where no globalSetup made one. */
export async function pgliteTemplateDump(): Promise<Blob | undefined> {
  const folder = process.env[TEMPLATE_VARIABLE];
  if (!folder || !existsSync(join(folder, 'dump.tar'))) return undefined;
  return new Blob([await readFile(join(folder, 'dump.tar'))]);
}
