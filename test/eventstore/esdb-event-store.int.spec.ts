import { openEsdbSubject, realEsdb } from '../support/esdb-subject';
import { eventStoreContract } from './event-store.contract';

// EventStoreDB checks event ids within a stream only (see EsdbEventStore).
eventStoreContract(realEsdb ? 'EventStoreDB server' : 'EventStoreDB test double', openEsdbSubject, { uniqueIds: 'stream' });
