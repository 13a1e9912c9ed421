import { splitConnectionString } from '../../src/eventstore/esdb/connection-string';
import { EsdbEventStore } from '../../src/eventstore/esdb/esdb-event-store';
import { EventStoreUnavailableError, InvalidArgumentError } from '../../src/eventstore/errors';
import { EsdbDouble } from '../support/esdb-double/server';

/** The refusal `work` throws. */
function refusal(work: () => unknown): Error {
  try {
    work();
  } catch (error) {
    return error as Error;
  }
  throw new Error('not refused');
}

describe('EventStoreDB adapter: the user and password of the connection string', () => {
  it.each([
    ['/', 'se/cret+base64=='],
    ['?', 'se?cret'],
    ['#', 'se#cret'],
  ])('a password holding %s is the password, and the hosts are the hosts', (_, password) => {
    const split = splitConnectionString(`esdb://admin:${password}@db1:2113,db2?tls=false`);
    expect(split).toEqual({ withoutCredentials: 'esdb://db1:2113,db2?tls=false', credentials: { username: 'admin', password }, hosts: 'db1:2113,db2:2113' });
  });

  it("percent-encoded '@' and ':' in a password are read as the client reads them", () => {
    expect(splitConnectionString('esdb://ad%40min:p%40ss%3Aword@db1:2113').credentials).toEqual({ username: 'ad@min', password: 'p@ss:word' });
  });

  it.each([
    ['a raw @ in the password', 'p@ss/word'],
    ['a raw : in the password', 'secr:w/rd'],
    ['an empty password', ''],
  ])('%s, which the client would read otherwise: INVALID_ARGUMENT quoting nothing of the string', (_, password) => {
    const error = refusal(() => splitConnectionString(`esdb://admin:${password}@db1:2113?tls=false`));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/percent-encode @ and :/);
    for (const part of ['admin', 'db1', 'tls=false', ...password.split(/[@:]/).filter((piece) => piece.length > 1)]) expect(error.message).not.toContain(part);
  });

  it('an unreachable server with a password holding /, ? and @: EVENT_STORE_UNAVAILABLE naming the host and nothing of the password', async () => {
    const double = await EsdbDouble.start();
    const { connectionString } = double;
    await double.stop();
    const password = 'se/cr?et@x';
    // '@' percent-encoded, as the string's syntax requires.
    const store = EsdbEventStore.connect(connectionString.replace('esdb://', 'esdb://admin:se/cr?et%40x@'));
    try {
      const error = (await store.readStream('thing-1').catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(EventStoreUnavailableError);
      expect(error.message).toContain(connectionString.replace('esdb://', '').replace('?tls=false', ''));
      for (const part of [password, 'se/cr', 'admin']) expect(error.message).not.toContain(part);
    } finally {
      await store.close();
    }
  });
});
