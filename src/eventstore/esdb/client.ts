import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EventStoreDBClient, type ChannelCredentialOptions, type Credentials } from '@eventstore/db-client';
import { parseConnectionString } from '@eventstore/db-client/dist/Client/parseConnectionString';
import { InvalidArgumentError } from '../errors';

function readOption(name: string, path: string): Buffer {
  try {
    return readFileSync(resolve(path));
  } catch {
    throw new InvalidArgumentError(`the file named by ${name} in the EventStoreDB connection string cannot be read: ${path}`);
  }
}

/**
 * The client for a connection string whose user and password were taken out (connection-string.ts),
 * with them as the client's default credentials. Given per call instead, they would make the
 * client append through the classic append, one call per append, where the server offers batch
 * append, and its debug output of each call's options would print them.
 *
 * Without credentials the client reads the string itself. With them the string is read by the
 * client's own parser, and the client built as `EventStoreDBClient.connectionString` builds it
 * (@eventstore/db-client 6.2.1): only its constructor takes default credentials.
 */
export function createClient(withoutCredentials: string, credentials: Credentials | undefined): EventStoreDBClient {
  if (!credentials) return EventStoreDBClient.connectionString(withoutCredentials);
  const options = parseConnectionString(withoutCredentials);
  const channel: ChannelCredentialOptions = { insecure: options.tls === false };
  // The client ignores a CA file on an insecure connection.
  if (options.tlsCAFile && !channel.insecure) channel.rootCertificate = readOption('tlsCAFile', options.tlsCAFile);
  if (options.userCertFile || options.userKeyFile) {
    if (!options.userCertFile || !options.userKeyFile)
      throw new InvalidArgumentError('the EventStoreDB connection string names userCertFile and userKeyFile together');
    channel.userCertFile = readOption('userCertFile', options.userCertFile);
    channel.userKeyFile = readOption('userKeyFile', options.userKeyFile);
  }
  const client = {
    throwOnAppendFailure: options.throwOnAppendFailure,
    keepAliveInterval: options.keepAliveInterval,
    keepAliveTimeout: options.keepAliveTimeout,
    defaultDeadline: options.defaultDeadline,
    connectionName: options.connectionName,
  };
  const discovery = {
    nodePreference: options.nodePreference,
    discoveryInterval: options.discoveryInterval,
    gossipTimeout: options.gossipTimeout,
    maxDiscoverAttempts: options.maxDiscoverAttempts,
  };
  if (options.dnsDiscover) return new EventStoreDBClient({ discover: options.hosts[0], ...discovery, ...client }, channel, credentials);
  if (options.hosts.length > 1) return new EventStoreDBClient({ endpoints: options.hosts, ...discovery, ...client }, channel, credentials);
  return new EventStoreDBClient({ endpoint: options.hosts[0], ...client }, channel, credentials);
}
