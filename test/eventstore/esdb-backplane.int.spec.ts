import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackplane } from '../../src/backplane';
import { describeStore, loadConfig } from '../../src/config';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store';
import { PgliteDatabase } from '../../src/sql/pglite-database';
import { countingProjection } from '../fixtures/counting.projection';
import { EsdbDouble } from '../support/esdb-double/server';

describe('configuration for EventStoreDB', () => {
  it('needs BACKPLANE_ESDB_URL, and never shows its password', () => {
    expect(() => loadConfig({ BACKPLANE_EVENT_STORE: 'esdb' })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(/BACKPLANE_ESDB_URL/) }),
    );
    const config = loadConfig({
      BACKPLANE_EVENT_STORE: 'esdb',
      BACKPLANE_ESDB_URL: 'esdb://admin:hunter2@db1:2113,db2:2113?tls=false',
      BACKPLANE_DATA_DIR: '/tmp/bp',
    });
    expect(config).toMatchObject({ store: 'esdb', esdbUrl: 'esdb://admin:hunter2@db1:2113,db2:2113?tls=false' });
    expect(describeStore(config)).toBe('EventStoreDB at db1:2113,db2:2113, read models in embedded PGlite in /tmp/bp');
    const withServer = loadConfig({
      BACKPLANE_EVENT_STORE: 'esdb',
      BACKPLANE_ESDB_URL: 'esdb://db1:2113',
      BACKPLANE_DATABASE_URL: 'postgres://bp:secret@pg:5432/bp',
    });
    expect(describeStore(withServer)).toBe('EventStoreDB at db1:2113, read models in PostgreSQL at pg:5432/bp');
  });
});

describe('Backplane on EventStoreDB (test double), read models in PGlite', () => {
  let double: EsdbDouble;
  let folder: string;

  beforeAll(async () => {
    double = await EsdbDouble.start();
    folder = mkdtempSync(join(tmpdir(), 'backplane-esdb-'));
  });
  afterAll(async () => {
    await double.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('opens the EventStoreDB store and keeps projections and checkpoints in the data folder', async () => {
    const config = loadConfig({ BACKPLANE_EVENT_STORE: 'esdb', BACKPLANE_ESDB_URL: double.connectionString, BACKPLANE_DATA_DIR: folder });
    const backplane = await openBackplane(config, { projections: [countingProjection()] });
    try {
      expect(backplane.store).toBeInstanceOf(EsdbEventStore);
      expect(backplane.db).toBeInstanceOf(PgliteDatabase);
      const written = await backplane.store.appendToStream('counted-1', [
        { type: 'Counted', data: { i: 1 } },
        { type: 'Counted', data: { i: 2 } },
      ]);
      const runner = backplane.runner('counting');
      runner.start();
      await runner.waitForPosition(written.position, 60_000);
      const [totals] = await backplane.db.query<{ applied: string }>('SELECT applied::text AS applied FROM counting_totals');
      expect(totals.applied).toBe('2');
      expect(await backplane.store.countEvents()).toBe(2);
      expect(double.log.all.filter((event) => event.stream === 'counted-1')).toHaveLength(2);
    } finally {
      await backplane.close();
    }
  });
});
