import type { MiddlewareFn } from 'type-graphql';
import { badInput } from './bad-input';

/**
 * No argument may carry a NUL character, whatever its type: PostgreSQL's text and JSON refuse
 * it, so it would otherwise fail a lookup deep inside a command as an internal error. Runs before
 * an argument is validated or used.
 */
export const refuseNul: MiddlewareFn = ({ args }, next) => {
  for (const [name, value] of Object.entries(args)) {
    const path = nulAt(value, name);
    if (path !== null) throw badInput(`${path} must not contain a NUL character`, path);
  }
  return next();
};

/** Where in a value a NUL is (the argument's path, field names and list indexes), or null. */
function nulAt(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = nulAt(item, `${path}[${index}]`);
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\u0000')) return path;
      const found = nulAt(item, `${path}.${key}`);
      if (found !== null) return found;
    }
  }
  return null;
}
