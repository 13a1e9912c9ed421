import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStore, loadConfig } from '../../src/config';

describe('which store a configuration means', () => {
  it('serves on the embedded PGlite when no store and no address is given', () => {
    const config = loadConfig({ BACKPLANE_DATA_DIR: '/tmp/bp-data' });
    expect(config.store).toBe('pglite');
    expect(describeStore(config)).toBe('embedded PGlite in /tmp/bp-data');
  });

  it.each(['BACKPLANE_DATABASE_URL', 'DATABASE_URL'])('takes %s alone to mean PostgreSQL, and says so without its password', (name) => {
    const config = loadConfig({ [name]: 'postgres://bp:hunter2@db.internal:5432/backplane' });
    expect(config.store).toBe('postgres');
    expect(config.databaseUrl).toBe('postgres://bp:hunter2@db.internal:5432/backplane');
    expect(describeStore(config)).toBe('PostgreSQL at db.internal:5432/backplane');
    expect(describeStore(config)).not.toMatch(/hunter2/);
  });

  it('prefers BACKPLANE_DATABASE_URL to DATABASE_URL, and reads an empty value as not given', () => {
    expect(loadConfig({ BACKPLANE_DATABASE_URL: 'postgres://a@one/bp', DATABASE_URL: 'postgres://a@two/bp' }).databaseUrl).toBe('postgres://a@one/bp');
    expect(loadConfig({ BACKPLANE_DATABASE_URL: '', DATABASE_URL: 'postgres://a@two/bp' }).databaseUrl).toBe('postgres://a@two/bp');
    expect(loadConfig({ BACKPLANE_DATABASE_URL: '', BACKPLANE_EVENT_STORE: '' }).store).toBe('pglite');
  });

  it('refuses to guess PostgreSQL over a data folder that holds an embedded store, until the store is named', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'bp-config-'));
    try {
      mkdirSync(join(dataDir, 'pgdata'));
      const env = { BACKPLANE_DATA_DIR: dataDir, DATABASE_URL: 'postgres://a@db/bp' };
      expect(() => loadConfig(env)).toThrow(/holds an embedded store.*BACKPLANE_EVENT_STORE=postgres.*pglite/);
      expect(loadConfig({ ...env, BACKPLANE_EVENT_STORE: 'postgres' }).store).toBe('postgres');
      expect(loadConfig({ ...env, BACKPLANE_EVENT_STORE: 'pglite' }).store).toBe('pglite');
      // EventStoreDB with its read models in that folder keeps them there: nothing moves.
      expect(loadConfig({ BACKPLANE_DATA_DIR: dataDir, BACKPLANE_ESDB_URL: 'esdb://db1:2113?tls=false' }).store).toBe('esdb');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('keeps the store named over the address given', () => {
    const config = loadConfig({ BACKPLANE_EVENT_STORE: 'pglite', BACKPLANE_DATABASE_URL: 'postgres://a@db/bp', BACKPLANE_DATA_DIR: '/tmp/bp-data' });
    expect(config.store).toBe('pglite');
    expect(describeStore(config)).toBe('embedded PGlite in /tmp/bp-data');
  });

  it('takes an EventStoreDB URL alone to mean EventStoreDB, with the read models on the database URL when given', () => {
    expect(loadConfig({ BACKPLANE_ESDB_URL: 'esdb://db1:2113?tls=false' }).store).toBe('esdb');
    const both = loadConfig({ BACKPLANE_ESDB_URL: 'esdb://db1:2113?tls=false', BACKPLANE_DATABASE_URL: 'postgres://a@pg:5432/bp' });
    expect(both.store).toBe('esdb');
    expect(describeStore(both)).toBe('EventStoreDB at db1:2113, read models in PostgreSQL at pg:5432/bp');
  });

  it('refuses a store it does not know, quoting at most a little of it', () => {
    expect(() => loadConfig({ BACKPLANE_EVENT_STORE: 'mysql' })).toThrow(/pglite, postgres or esdb/);
    expect(() => loadConfig({ BACKPLANE_EVENT_STORE: 'x'.repeat(10_000) })).toThrow(expect.objectContaining({ message: expect.stringMatching(/^.{0,120}$/) }));
  });
});
