import { openEsdbSubject, realEsdb } from '../support/esdb-subject';
import { eventStoreContract } from './event-store.contract';

eventStoreContract(realEsdb ? 'EventStoreDB server' : 'EventStoreDB test double', openEsdbSubject);
