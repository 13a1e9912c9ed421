import type { parseConnectionString } from '@eventstore/db-client/dist/Client/parseConnectionString';
import { InvalidArgumentError } from '../errors';

export interface EsdbConnectionString {
  /** The connection string with its user and password taken out. */
  withoutCredentials: string;
  credentials?: { username: string; password: string };
  /** The hosts, as the client reads them, for messages: never the user or password. */
  hosts: string;
}

const SCHEME = /^esdb(?:\+discover)?:\/\//;

/** What a refusal says: nothing of the string, which may hold the password. */
const NOT_READABLE =
  'the EventStoreDB connection string cannot be read: esdb:// or esdb+discover://, then user:password@ if any (percent-encode @ and : in them as %40 and %3A), then host[:port][,host[:port]…], then ?key=value&…';

/**
 * Splits the credentials out of an esdb:// connection string. The client library logs the
 * string it is given when its debug output is on, so it is only ever given the rest; the
 * credentials become the client's defaults (client.ts).
 *
 * The user and password end at the last '@' (a password may hold '/', '?' or '#', as base64
 * ones do). The client's parser reads them up to the first '@' after the first ':' instead, and
 * the password only up to a second ':': a string the two read differently is refused, so that
 * what is used is what the client would have used, and the message quotes none of it.
 */
export function splitConnectionString(url: string): EsdbConnectionString {
  const trimmed = url.trim();
  const scheme = SCHEME.exec(trimmed)?.[0];
  if (scheme === undefined) throw new InvalidArgumentError('an EventStoreDB connection string starts with esdb:// or esdb+discover:// and names a host');
  const rest = trimmed.slice(scheme.length);
  const at = rest.lastIndexOf('@');
  const withoutCredentials = `${scheme}${rest.slice(at + 1)}`;
  let credentials: EsdbConnectionString['credentials'];
  if (at >= 0) {
    const userInfo = rest.slice(0, at);
    const colon = userInfo.indexOf(':');
    if (colon < 0) throw new InvalidArgumentError('the EventStoreDB connection string names a user without a password');
    try {
      credentials = { username: decodeURIComponent(userInfo.slice(0, colon)), password: decodeURIComponent(userInfo.slice(colon + 1)) };
    } catch {
      throw new InvalidArgumentError('the user or password of the EventStoreDB connection string is not valid percent-encoding');
    }
    const client = clientReading(trimmed)?.defaultCredentials;
    if (client?.username !== credentials.username || client.password !== credentials.password) throw new InvalidArgumentError(NOT_READABLE);
  }
  const options = clientReading(withoutCredentials);
  if (!options || options.defaultCredentials || options.hosts.length === 0) throw new InvalidArgumentError(NOT_READABLE);
  return { withoutCredentials, credentials, hosts: options.hosts.map((host) => `${host.address}:${host.port}`).join(',') };
}

/** The string as the client's own parser reads it, or undefined where it refuses it (its message quotes the string). */
function clientReading(url: string): ReturnType<typeof parseConnectionString> | undefined {
  // Loaded here, not with the configuration that imports this file: it brings the client and gRPC
  // with it, which a process on another store has no use for (see backplane.ts).
  const client = require('@eventstore/db-client/dist/Client/parseConnectionString') as typeof import('@eventstore/db-client/dist/Client/parseConnectionString');
  try {
    return client.parseConnectionString(url);
  } catch {
    return undefined;
  }
}
