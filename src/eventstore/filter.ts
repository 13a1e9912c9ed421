import type { EventFilter, RecordedEvent } from './types';

export function matchesFilter(event: RecordedEvent, filter: EventFilter | undefined): boolean {
  if (filter === undefined) return true;
  if (filter.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  if (filter.streamPrefixes && !filter.streamPrefixes.some((prefix) => event.stream.startsWith(prefix))) return false;
  return true;
}
