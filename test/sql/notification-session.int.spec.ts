import { Client } from 'pg';
import { NotificationSession } from '../../src/sql/notification-session';
import { describeWithPostgres } from '../support/databases';
import { eventually } from '../support/eventually';
import { testDatabaseUrl } from '../support/postgres-url';

const DEADLINE = 30_000;

describeWithPostgres('the notification session on PostgreSQL', () => {
  it('counts a channel added to a live connection as unheard until its LISTEN completes, then tells its listeners to read', async () => {
    const session = new NotificationSession({ connectionString: testDatabaseUrl() });
    const sender = new Client({ connectionString: testDatabaseUrl() });
    await sender.connect();
    try {
      session.listen('backplane_test_first', () => undefined);
      await eventually(() => expect(session.listening).toBe(true), DEADLINE);

      const heard: (string | null)[] = [];
      session.listen('backplane_test_second', (payload) => heard.push(payload));
      // Its LISTEN is still in flight: a notification sent now may be missed, so its readers must poll.
      expect(session.listening).toBe(false);
      await eventually(() => expect(heard).toEqual([null]), DEADLINE);
      expect(session.listening).toBe(true);

      await sender.query("SELECT pg_notify('backplane_test_second', 'news')");
      await eventually(() => expect(heard).toEqual([null, 'news']), DEADLINE);
    } finally {
      await sender.end();
      await session.close();
    }
  });
});
