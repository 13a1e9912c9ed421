import { randomUUID } from 'node:crypto';
import { DeliveryStates } from '../../src/app/audit-delivery/delivery-state';
import { dropTestSchemas, testDatabases } from '../support/databases';

describe.each(testDatabases)('a destination’s delivery checkpoint ($name)', (database) => {
  afterAll(dropTestSchemas);

  it('moves only from the checkpoint its writer last saw, so a holder that lost its lease cannot set it back', async () => {
    const db = await database.open();
    try {
      const states = await DeliveryStates.open(db);
      const destination = randomUUID();
      const added = 'position-00010';
      // A failed first attempt writes the row with the checkpoint the delivery started from.
      await states.failed('tenant-a', destination, added, 'connection refused');
      expect(await states.advanced('tenant-a', destination, added, 'position-00020', 'position-00020')).toBe(true);

      // The old holder, stopped while its lease passed on, still thinks the checkpoint is where it read it.
      expect(await states.advanced('tenant-a', destination, added, 'position-00015', 'position-00015')).toBe(false);
      expect(await states.checkpoint(destination)).toBe('position-00020');

      expect(await states.advanced('tenant-a', destination, 'position-00020', 'position-00030', null)).toBe(true);
      expect(await states.checkpoint(destination)).toBe('position-00030');
    } finally {
      await db.close();
    }
  });

  it('is written by the first of two holders that start with no row, and refused to the second', async () => {
    const db = await database.open();
    try {
      const states = await DeliveryStates.open(db);
      const destination = randomUUID();
      expect(await states.advanced('tenant-a', destination, 'position-00010', 'position-00020', 'position-00020')).toBe(true);
      expect(await states.advanced('tenant-a', destination, 'position-00010', 'position-00012', null)).toBe(false);
      expect(await states.checkpoint(destination)).toBe('position-00020');
    } finally {
      await db.close();
    }
  });
});
