import type { MiddlewareFn } from 'type-graphql';
import { badInput } from './bad-input';

/**
 * No argument may carry a NUL character or an unpaired UTF-16 surrogate (`\ud800` alone), whatever
 * its type: PostgreSQL's text and JSON refuse a NUL, so it would otherwise fail a lookup deep inside
 * a command as an internal error; a lone surrogate has no UTF-8 form, so it would be refused only
 * when its event is written (naming the event's field, not the argument) or, in a secret sealed
 * before, be changed into U+FFFD without a word. Runs before an argument is validated or used.
 */
export const refuseNul: MiddlewareFn = ({ args }, next) => {
  refuseUnreadableText(args);
  return next();
};

/** The same refusal for a subscription's arguments, which no field middleware sees before its feed starts. */
export function refuseUnreadableText(args: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(args)) {
    const found = unreadableAt(value, name);
    if (found !== null) throw badInput(`${found.path} must not contain ${found.what}`, found.path);
  }
}

interface Unreadable {
  path: string;
  what: string;
}

/** String.prototype.isWellFormed (ES2024, in Node 20), which the ES2022 library this project compiles against does not declare. */
type WellFormed = string & { isWellFormed(): boolean };

function inText(text: string, path: string): Unreadable | null {
  if (text.includes('\u0000')) return { path, what: 'a NUL character' };
  if (!(text as WellFormed).isWellFormed()) return { path, what: 'an unpaired UTF-16 surrogate' };
  return null;
}

/** Where in a value such text is (the argument's path, field names and list indexes), or null. */
function unreadableAt(value: unknown, path: string): Unreadable | null {
  if (typeof value === 'string') return inText(value, path);
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = unreadableAt(item, `${path}[${index}]`);
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    for (const [key, item] of Object.entries(value)) {
      const inKey = inText(key, path);
      if (inKey !== null) return inKey;
      const found = unreadableAt(item, `${path}.${key}`);
      if (found !== null) return found;
    }
  }
  return null;
}
