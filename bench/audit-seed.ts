import { randomUUID } from 'node:crypto';
import type { EventStore } from '../src/eventstore/types';

/**
 * Fills a tenant's log with `count` events for the export's benchmark and memory test: written
 * through the store, so their hashes and chains are real, in streams of `perStream` events, each
 * event about `noteBytes` larger than a bare one (an export line of ~1 KB with the default).
 */
export async function seedAuditEvents(
  store: EventStore,
  tenantId: string,
  count: number,
  options: { perStream?: number; noteBytes?: number; batch?: number } = {},
): Promise<void> {
  const perStream = options.perStream ?? 100;
  const batch = Math.min(options.batch ?? 100, perStream);
  const note = 'n'.repeat(options.noteBytes ?? 600);
  const organizationId = randomUUID();
  const actor = { kind: 'token', id: randomUUID(), name: 'seed', role: 'ADMIN' };
  const writers: Promise<void>[] = [];
  let written = 0;
  const next = async (): Promise<void> => {
    while (written < count) {
      const stream = `sample-${randomUUID()}`;
      const size = Math.min(perStream, count - written);
      written += size;
      for (let done = 0; done < size; done += batch) {
        const events = Array.from({ length: Math.min(batch, size - done) }, (_, i) => ({
          type: 'AuditSampleRecorded',
          data: { organizationId, planId: stream.slice(7), index: done + i, note },
          metadata: { tenantId, actor, correlationId: randomUUID(), occurredAt: new Date().toISOString() },
        }));
        await store.appendToStream(stream, events);
      }
    }
  };
  // A few writers at once: group commit shares their round trips.
  for (let i = 0; i < 4; i++) writers.push(next());
  await Promise.all(writers);
}
