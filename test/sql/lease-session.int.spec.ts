import { createServer, connect, type Server, type Socket } from 'node:net';
import { Client } from 'pg';
import { LeaseSession } from '../../src/sql/lease-session';
import type { PgDatabase } from '../../src/sql/pg-database';
import { describeWithPostgres, dropTestSchemas, newSchemaName, openPostgres } from '../support/databases';
import { testDatabaseUrl } from '../support/postgres-url';

/**
 * A real TCP relay to the server whose open links can go silent, as a failover or a dropped route
 * leaves them: bytes stop both ways and neither end is told. New links relay normally.
 */
async function silenceableRelay(): Promise<{ url: string; silence(): void; close(): Promise<void> }> {
  const target = new URL(testDatabaseUrl());
  const links: Socket[][] = [];
  const silenced: Socket[] = [];
  const server: Server = createServer((inbound) => {
    const outbound = connect(Number(target.port || 5432), target.hostname);
    const ends = [inbound, outbound];
    links.push(ends);
    for (const end of ends) {
      end.on('error', () => {
        for (const other of ends) other.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(target.href);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.href,
    silence() {
      for (const [inbound, outbound] of links.splice(0)) {
        inbound.unpipe(outbound);
        outbound.unpipe(inbound);
        inbound.pause();
        outbound.pause();
        // Closed only when the relay closes, as a dead route never closes.
        silenced.push(inbound, outbound);
      }
    },
    async close() {
      for (const socket of [...silenced.splice(0), ...links.splice(0).flat()]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The server processes holding this schema's advisory locks, as PostgreSQL reports them. */
async function lockHolders(db: PgDatabase, schema: string): Promise<number[]> {
  const rows = await db.query<{ pid: number }>(
    `SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid::bigint = (hashtext($1)::bigint & 4294967295)`,
    [schema],
  );
  return rows.map((row) => row.pid);
}

describeWithPostgres('leases (tryLock) on a PostgreSQL server', () => {
  afterAll(dropTestSchemas);

  it('holds all of a process’s leases on one connection, each name once across processes and within one', async () => {
    const schema = newSchemaName();
    const [a, b] = await Promise.all([openPostgres(schema), openPostgres(schema)]);
    try {
      const names = Array.from({ length: 30 }, (_, i) => `lease-${i}`);
      const held = await Promise.all(names.map((name) => a.tryLock(name)));
      expect(held.every((lease) => lease !== null)).toBe(true);
      expect(await lockHolders(a, schema)).toHaveLength(1);
      // Another process is refused every one; so is this process, although the server would let its own session in again.
      expect(await Promise.all(names.map((name) => b.tryLock(name)))).toEqual(names.map(() => null));
      expect(await Promise.all(names.map((name) => a.tryLock(name)))).toEqual(names.map(() => null));
      expect(await lockHolders(a, schema)).toHaveLength(1);

      await held[0]!.release();
      const taken = await b.tryLock(names[0]);
      expect(taken).not.toBeNull();
      expect(await a.tryLock(names[0])).toBeNull();
      await taken!.release();
      const again = await a.tryLock(names[0]);
      expect(again).not.toBeNull();
      await Promise.all([again!, ...held.slice(1)].map((lease) => lease!.release()));
      expect(await lockHolders(a, schema)).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('tells every holder when the connection drops, lets others take the leases, and opens a new session for the next', async () => {
    const schema = newSchemaName();
    const [a, b] = await Promise.all([openPostgres(schema), openPostgres(schema)]);
    try {
      const [p, q] = await Promise.all([a.tryLock('p'), a.tryLock('q')]);
      expect(p && q).not.toBeNull();
      const [pid] = await lockHolders(a, schema);
      await b.query('SELECT pg_terminate_backend($1)', [pid]);
      // Both resolve: a test that hangs here fails on jest's timeout.
      await Promise.all([p!.lost, q!.lost]);

      const [bp, bq] = await Promise.all([b.tryLock('p'), b.tryLock('q')]);
      expect(bp && bq).not.toBeNull();
      expect(await a.tryLock('p')).toBeNull();
      // A release after the loss lets nothing go: b still holds p.
      await p!.release();
      expect(await a.tryLock('p')).toBeNull();

      const r = await a.tryLock('r');
      expect(r).not.toBeNull();
      const holders = await lockHolders(a, schema);
      expect(holders).toHaveLength(2);
      expect(holders).not.toContain(pid);
      await Promise.all([r!.release(), bp!.release(), bq!.release()]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('tells holders when the link goes silent, and a tryLock stuck on it fails instead of holding the others', async () => {
    const schema = newSchemaName();
    const relay = await silenceableRelay();
    const b = await openPostgres(schema);
    const leases = new LeaseSession({ connectionString: relay.url, options: `-c search_path=${schema}` }, { heartbeatMs: 100, queryTimeoutMs: 500 });
    try {
      const held = await leases.tryLock('silent');
      expect(held).not.toBeNull();
      const [pid] = await lockHolders(b, schema);
      relay.silence();
      // No error reaches the client: only the unanswered heartbeat tells the holder.
      await held!.lost;
      // A lock asked for on a link gone silent fails rather than waiting for ever; the next opens a new session.
      expect(await leases.tryLock('silent')).toBeNull();
      const other = await leases.tryLock('other');
      expect(other).not.toBeNull();
      expect(await lockHolders(b, schema)).toContain(pid);
      // The dead link's server session still holds 'silent' until the server notices; ending it lets another take it.
      // The call waits (up to 30 s) until the session has ended: it lets go of its locks only then.
      const [{ ended }] = await b.query<{ ended: boolean }>('SELECT pg_terminate_backend($1, 30000) AS ended', [pid]);
      expect(ended).toBe(true);
      const taken = await b.tryLock('silent');
      expect(taken).not.toBeNull();
      await Promise.all([other!.release(), taken!.release()]);
    } finally {
      await leases.close();
      await relay.close();
      await b.close();
    }
  });

  it('drops the session when a lock request goes unanswered, telling the holders of its other leases', async () => {
    const schema = newSchemaName();
    // The schema must exist for its name to be part of the lock's key.
    await (await openPostgres(schema)).close();
    const relay = await silenceableRelay();
    // A heartbeat slower than the test: only the stuck request can tell the holder.
    const leases = new LeaseSession({ connectionString: relay.url, options: `-c search_path=${schema}` }, { heartbeatMs: 3_600_000, queryTimeoutMs: 500 });
    try {
      const held = await leases.tryLock('first');
      expect(held).not.toBeNull();
      relay.silence();
      await expect(leases.tryLock('second')).rejects.toThrow();
      await held!.lost;
    } finally {
      await leases.close();
      await relay.close();
    }
  });

  it('asks its connection one query at a time, however many leases are asked for and let go at once', async () => {
    const leases = new LeaseSession({ connectionString: testDatabaseUrl() });
    // Queries pg's client was handed while another was unanswered on it: pg warns of them and its query_timeout counts their wait.
    const inFlight = new Map<Client, number>();
    let most = 0;
    const query = Client.prototype.query;
    const spy = jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: Client, ...args: unknown[]) {
      const now = (inFlight.get(this) ?? 0) + 1;
      inFlight.set(this, now);
      most = Math.max(most, now);
      const done = () => inFlight.set(this, (inFlight.get(this) ?? 1) - 1);
      const result = (query as (...a: unknown[]) => unknown).apply(this, args);
      if (result instanceof Promise) result.then(done, done);
      return result as never;
    });
    try {
      const held = await Promise.all(Array.from({ length: 20 }, (_, n) => leases.tryLock(`burst-${n}`)));
      expect(held.every((lease) => lease !== null)).toBe(true);
      await Promise.all([...held.map((lease) => lease!.release()), ...Array.from({ length: 20 }, (_, n) => leases.tryLock(`again-${n}`))]);
      expect(most).toBe(1);
    } finally {
      spy.mockRestore();
      await leases.close();
    }
  });

  it('lets every lease go when the database is closed, and tells their holders', async () => {
    const schema = newSchemaName();
    const [a, b] = await Promise.all([openPostgres(schema), openPostgres(schema)]);
    try {
      const lease = await a.tryLock('closing');
      expect(lease).not.toBeNull();
      await a.close();
      await lease!.lost;
      const taken = await b.tryLock('closing');
      expect(taken).not.toBeNull();
      await taken!.release();
    } finally {
      await b.close();
    }
  });
});
