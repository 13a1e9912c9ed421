import { rmSync } from 'node:fs';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteDatabase } from '../../src/sql/pglite-database';
import { pgliteTemplateCluster } from './pglite-template';

/**
 * Creating a PGlite cluster starts a process of its own and takes seconds, tens of them on a
 * loaded machine. The run creates one before any suite starts (pglite-template.ts), and each test
 * process copies it into the data folders it hands out, where the store finds a cluster as on any
 * later start; a file run without the run's setup creates its own first. Suites that test
 * creation itself open a folder of their own.
 */
let cluster: Promise<string> | undefined;

export async function copyPgliteCluster(dataDir: string): Promise<void> {
  cluster ??= (async () => {
    const made = pgliteTemplateCluster();
    if (made) return made;
    const folder = await mkdtemp(join(tmpdir(), 'backplane-pglite-cluster-'));
    process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
    await (await PgliteDatabase.open(folder)).close();
    return join(folder, 'pgdata');
  })();
  await cp(await cluster, join(dataDir, 'pgdata'), { recursive: true });
}
