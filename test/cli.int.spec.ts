import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqlEventStore } from '../src/eventstore/postgres/sql-event-store';
import { PgliteDatabase } from '../src/sql/pglite-database';
import { spawnTs } from './support/child';

const cli = join(__dirname, '../src/cli.ts');

/** The operator's command line, run as a real process on an embedded store in a folder. */
describe('backplane CLI', () => {
  let folder: string;
  const run = async (...args: string[]) => {
    const child = spawnTs(cli, args, { BACKPLANE_EVENT_STORE: 'pglite', BACKPLANE_DATA_DIR: folder });
    const code = await child.exited;
    return { code, output: child.output() };
  };
  const withStore = async (fn: (store: SqlEventStore, db: PgliteDatabase) => Promise<void>) => {
    const db = await PgliteDatabase.open(folder);
    try {
      await fn(await SqlEventStore.open(db), db);
    } finally {
      await db.close();
    }
  };

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'backplane-cli-'));
    await withStore(async (store) => {
      for (let i = 0; i < 30; i++) {
        await store.appendToStream(`plan-${i % 3}`, [
          { type: 'PlanCredentialToggled', data: { i }, metadata: { tenantId: 't', actor: { kind: 'user', id: 'ann' } } },
        ]);
      }
    });
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('rebuilds a projection and shows its progress', async () => {
    const { code, output } = await run('rebuild', 'audit-log');
    expect(code).toBe(0);
    expect(output).toMatch(/audit-log: 30 events applied of 30 in the log, \d+ events\/s - done/);
    await withStore(async (_, db) => {
      expect(await db.query('SELECT count(*)::int AS n FROM audit_log')).toEqual([{ n: 30 }]);
    });
    const status = await run('status');
    expect(status.output).toMatch(/audit-log: at \d+-\d+, 30 events applied by its runner\n/);
    expect(status.output).toMatch(/30 events/);
    // As a rebuild leaves it until the indexes built at its end exist.
    await withStore(async (_, db) => {
      await db.query("UPDATE projection_checkpoints SET indexes_pending = true WHERE name = 'audit-log'");
    });
    expect((await run('status')).output).toMatch(/audit-log: at \d+-\d+, 30 events applied by its runner, its indexes still to be built\n/);
  }, 120000);

  it('verifies the log, and fails naming the event once someone edits it', async () => {
    const intact = await run('verify');
    expect(intact.code).toBe(0);
    expect(intact.output).toMatch(/verified 30 events in 3 streams/);
    expect(intact.output).toMatch(/the log is intact/);

    await withStore(async (_, db) => {
      await db.query(`UPDATE events SET data = '{"i": 999}' WHERE stream = 'plan-1' AND revision = 4`);
    });
    const tampered = await run('verify');
    expect(tampered.code).toBe(1);
    expect(tampered.output).toMatch(/TAMPERED \(altered\) at stream plan-1 revision 4 event [0-9a-f-]{36}/);
  }, 120000);

  it('answers a wrong command or projection with a clear message and a failing status', async () => {
    const unknown = await run('rebuild', 'no-such-projection');
    expect(unknown.code).toBe(1);
    expect(unknown.output).toMatch(/no projection named no-such-projection; known: product, audit-log/);
    const usage = await run();
    expect(usage.code).toBe(2);
    expect(usage.output).toMatch(/usage: backplane <command>/);
  }, 120000);
});
