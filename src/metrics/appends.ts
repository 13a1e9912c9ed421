import { WrongExpectedVersionError } from '../eventstore/errors';
import type { EventStore } from '../eventstore/types';
import type { Metrics } from './metrics';

/**
 * The store as the command handler appends to it, each append timed and counted. Everything else
 * goes to the store itself, bound to it, so that what a store offers beyond the port stays reachable.
 */
export function countAppends<S extends EventStore>(store: S, metrics: Metrics): S {
  const appendToStream: EventStore['appendToStream'] = async (stream, events, options) => {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const result = await store.appendToStream(stream, events, options);
      metrics.append(stream, events.length, 'ok', seconds());
      return result;
    } catch (error) {
      metrics.append(stream, events.length, error instanceof WrongExpectedVersionError ? 'conflict' : 'error', seconds());
      throw error;
    }
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'appendToStream') return appendToStream;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
