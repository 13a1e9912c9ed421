import { InvalidArgumentError } from '../errors';

export interface EsdbConnectionString {
  /** The connection string with its user and password taken out. */
  withoutCredentials: string;
  credentials?: { username: string; password: string };
  /** The hosts, for messages: never the user or password. */
  hosts: string;
}

const SHAPE = /^(esdb(?:\+discover)?:\/\/)(?:([^@/?#]*)@)?([^/?#]+)(.*)$/;

/**
 * Splits the credentials out of an esdb:// connection string. The client library logs the
 * string it is given when its debug output is on, so it is only ever given the rest; the
 * credentials become the client's defaults (client.ts).
 */
export function splitConnectionString(url: string): EsdbConnectionString {
  const match = SHAPE.exec(url);
  if (!match) throw new InvalidArgumentError('an EventStoreDB connection string starts with esdb:// or esdb+discover:// and names a host');
  const [, scheme, userInfo, hosts, rest] = match;
  let credentials: EsdbConnectionString['credentials'];
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(':');
    if (colon < 0) throw new InvalidArgumentError('the EventStoreDB connection string names a user without a password');
    try {
      credentials = { username: decodeURIComponent(userInfo.slice(0, colon)), password: decodeURIComponent(userInfo.slice(colon + 1)) };
    } catch {
      throw new InvalidArgumentError('the user or password of the EventStoreDB connection string is not valid percent-encoding');
    }
  }
  return { withoutCredentials: `${scheme}${hosts}${rest}`, credentials, hosts };
}
