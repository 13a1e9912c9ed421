import {
  EventStoreDBClient,
  eventTypeFilter,
  jsonEvent,
  streamNameFilter,
  type AllStreamSubscription,
  type Position,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { randomUUID } from 'node:crypto';
import { EsdbDouble } from '../support/esdb-double/server';
import { realEsdb } from '../support/esdb-subject';
import { eventually } from '../support/eventually';

/** What a subscription reports, in the order the client reports it. */
type Seen = { event: string; position: Position } | { checkpoint: Position } | 'caughtUp';

function follow(subscription: AllStreamSubscription, seen: Seen[], prefix: string): void {
  subscription.on('data', (resolved: ResolvedEvent) => {
    if (resolved.event?.streamId.startsWith(prefix)) seen.push({ event: resolved.event.type, position: resolved.event.position! });
  });
  subscription.on('caughtUp', () => seen.push('caughtUp'));
}

/**
 * Subscriptions to $all filtered on the server, through the official client, as EventStoreDB
 * 23.10 serves them (Enumerators.AllSubscriptionFiltered). The first case runs against a real
 * server too when EVENTSTORE_CONNECTION_STRING names one; the exact checkpoints need a log
 * holding only what the test wrote, so the double.
 */
describe('the EventStoreDB test double: filtered subscriptions, as EventStoreDB does them', () => {
  let double: EsdbDouble | undefined;
  let client: EventStoreDBClient;

  beforeAll(async () => {
    double = realEsdb ? undefined : await EsdbDouble.start();
    client = EventStoreDBClient.connectionString(realEsdb ?? double!.connectionString);
  });
  afterAll(async () => {
    await client.dispose();
    await double?.stop();
  });

  it('sends what passes, no system event types, and starts after the first record at or after the position it is given', async () => {
    const prefix = `filtered${randomUUID().slice(0, 8)}-`;
    const positions: Position[] = [];
    for (const type of ['A', 'B', 'C']) {
      const result = await client.appendToStream(`${prefix}${type}`, [jsonEvent({ type, data: {} })]);
      positions.push(result.position!);
    }
    await client.tombstoneStream(`${prefix}A`);
    await client.appendToStream(`${prefix}D`, [jsonEvent({ type: 'D', data: {} })]);

    const fromEvent: Seen[] = [];
    const fromPageStart: Seen[] = [];
    const first = client.subscribeToAll({ fromPosition: positions[0], filter: eventTypeFilter({ regex: '^[^$]' }) });
    // (C, 0), where C is B's place: a position a catching-up server sends as the start of a page.
    const second = client.subscribeToAll({ fromPosition: { commit: positions[1].commit, prepare: 0n }, filter: eventTypeFilter({ regex: '^[^$]' }) });
    follow(first, fromEvent, prefix);
    follow(second, fromPageStart, prefix);
    try {
      await eventually(() => expect(fromEvent.filter((seen) => typeof seen === 'object' && 'event' in seen)).toHaveLength(3));
      await eventually(() => expect(fromPageStart.filter((seen) => typeof seen === 'object' && 'event' in seen)).toHaveLength(2));
      const types = (seen: Seen[]) => seen.flatMap((one) => (typeof one === 'object' && 'event' in one ? [one.event] : []));
      expect(types(fromEvent)).toEqual(['B', 'C', 'D']);
      // B is the first record at or after (C, 0), so the subscription starts after it.
      expect(types(fromPageStart)).toEqual(['C', 'D']);
    } finally {
      await first.unsubscribe();
      await second.unsubscribe();
    }
  });

  const itWithDouble = realEsdb ? it.skip : it;

  itWithDouble(
    'checkpoints every 32 records looked at: at the page’s last event that passed or at its start, none from the page reaching the end; live, at the record that fills the count',
    async () => {
      // A log holding only what this case writes.
      const own = await EsdbDouble.start();
      const client = EventStoreDBClient.connectionString(own.connectionString);
      const log = own.log;
      const noise = (count: number) => Array.from({ length: count }, () => jsonEvent({ type: 'Noise', data: {} }));
      await client.appendToStream('other-1', noise(40));
      const kept = await client.appendToStream('kept-1', [jsonEvent({ type: 'Signal', data: {} })]);
      await client.appendToStream('other-1', noise(60));

      const seen: Seen[] = [];
      const subscription = client.subscribeToAll({
        fromPosition: 'start' as never,
        filter: streamNameFilter({ prefixes: ['kept-'], checkpointInterval: 1, checkpointReached: (_, position) => void seen.push({ checkpoint: position }) }),
      });
      follow(subscription, seen, 'kept-');
      try {
        await eventually(() => expect(seen).toContain('caughtUp'));
        const at = (index: number) => ({ commit: log.all[index].commit, prepare: log.all[index].prepare });
        expect(seen).toEqual([
          // Records 0-31: nothing passes; the page started at the start of the log.
          { checkpoint: { commit: 0n, prepare: 0n } },
          // Records 32-63: the Signal passes (record 40).
          { event: 'Signal', position: kept.position },
          { checkpoint: kept.position },
          // Records 64-95: nothing passes; the page started at record 64's place, prepare 0.
          { checkpoint: { commit: log.all[64].commit, prepare: 0n } },
          // Records 96-100 and the end: the count keeps 5.
          'caughtUp',
        ]);

        await client.appendToStream('other-1', noise(26));
        await client.appendToStream('kept-1', [jsonEvent({ type: 'Signal', data: {} })]);
        await client.appendToStream('other-1', noise(32));
        await eventually(() => expect(seen).toHaveLength(8));
        expect(seen.slice(5)).toEqual([
          // The 27th live record brings the count to 32: the checkpoint is at it, after it.
          { event: 'Signal', position: at(127) },
          { checkpoint: at(127) },
          { checkpoint: at(159) },
        ]);
      } finally {
        await subscription.unsubscribe();
        await client.dispose();
        await own.stop();
      }
    },
  );
});
