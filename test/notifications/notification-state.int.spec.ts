import { randomUUID } from 'node:crypto';
import { NotificationStates } from '../../src/app/notifications/notification-state';
import { dropTestSchemas, testDatabases } from '../support/databases';

describe.each(testDatabases)('a notice’s attempts ($name)', (database) => {
  afterAll(dropTestSchemas);

  it('go to one caller at a time, so a holder that lost its lease mid-send keeps the next from sending beside it', async () => {
    const db = await database.open();
    try {
      const states = await NotificationStates.open(db);
      const channelId = randomUUID();
      const eventId = randomUUID();
      const notice = { channelId, eventId, tenantId: 'tenant-a', kind: 'TASK_FAILED', position: 'position-00010', text: 'a task failed' };
      expect(await states.recorded(notice)).toBe(false);

      expect(await states.claim(channelId, eventId, 60_000)).toBe('claimed');
      // The next holder finds the notice unsent, but the attempt is taken.
      expect(await states.recorded(notice)).toBe(false);
      expect(await states.claim(channelId, eventId, 60_000)).toBe('busy');

      // A failed attempt frees the next one.
      await states.failed(channelId, eventId, 'connection refused');
      expect(await states.claim(channelId, eventId, 60_000)).toBe('claimed');
      expect(await states.claim(channelId, eventId, 60_000)).toBe('busy');

      await states.sent(channelId, eventId);
      expect(await states.claim(channelId, eventId, 60_000)).toBe('sent');
      expect(await states.recorded(notice)).toBe(true);
    } finally {
      await db.close();
    }
  });
});
