import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store';
import { EsdbDouble, type DoubleOptions } from './esdb-double/server';

/** The EventStoreDB server at EVENTSTORE_CONNECTION_STRING when it is set, else the test double. */
export const realEsdb = process.env.EVENTSTORE_CONNECTION_STRING || undefined;

export interface EsdbSubject {
  store: EsdbEventStore;
  /** Undefined against a real server. */
  double?: EsdbDouble;
  close(): Promise<void>;
}

/** The options shape the test double only; a real server is as it is. */
export async function openEsdbSubject(options: DoubleOptions = {}): Promise<EsdbSubject> {
  const double = realEsdb ? undefined : await EsdbDouble.start(options);
  const store = EsdbEventStore.connect(realEsdb ?? double!.connectionString);
  return {
    store,
    double,
    close: async () => {
      await store.close();
      await double?.stop();
    },
  };
}
