import { openEsdbSubject, realEsdb } from '../support/esdb-subject';
import { eventStoreContract } from './event-store.contract';

// EventStoreDB checks event ids within a stream only (see EsdbEventStore).
if (realEsdb) eventStoreContract('EventStoreDB server', () => openEsdbSubject(), { uniqueIds: 'stream' });
else {
  // Both ways a server treats a live subscriber that does not keep up: 23.10 drops it, 24.x says it fell behind.
  eventStoreContract('EventStoreDB test double, as 23.10', () => openEsdbSubject({ slowConsumers: 'drop' }), { uniqueIds: 'stream' });
  eventStoreContract('EventStoreDB test double, as 24.x', () => openEsdbSubject({ slowConsumers: 'fall-behind' }), { uniqueIds: 'stream' });
}
