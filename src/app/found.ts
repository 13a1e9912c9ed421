import { echoed } from '../core/echo';
import { DomainError } from '../core/errors';

/** Another tenant's object and a missing one answer alike: nothing about other tenants leaks. */
export function found<T>(value: T | null | undefined, what: string, id: string): T {
  if (value === null || value === undefined) throw new DomainError('NOT_FOUND', `no ${what} ${echoed(id)}`);
  return value;
}
