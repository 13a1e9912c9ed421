import { listen, startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { captureOutput } from '../support/output-capture';
import { openRawSocket, type RawSocket } from '../support/raw-socket';
import { ops } from '../support/scenario';

const SECRET = 'not-a-token-SECRET-0123456789-websocket';
const LIMITS = {
  BACKPLANE_WS_INIT_TIMEOUT_MS: '1000',
  BACKPLANE_WS_MAX_CONNECTIONS: '12',
  BACKPLANE_WS_MAX_WAITING_PER_ADDRESS: '4',
  BACKPLANE_WS_MAX_CONNECTIONS_PER_TOKEN: '3',
  BACKPLANE_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '5',
  BACKPLANE_WS_MAX_SUBSCRIPTIONS_PER_TOKEN: '8',
  BACKPLANE_WS_MAX_BUFFERED_BYTES: String(512 * 1024),
};
/** A query of no cost to the database whose answer is large: the schema, several times over. */
const SCHEMA = '__schema { types { name description fields { name description } } }';
const LARGE_ANSWER = `{ ${['a', 'b', 'c', 'd', 'e'].map((alias) => `${alias}: ${SCHEMA}`).join(' ')} }`;

describe('the WebSocket edge holds clients to bounds, on pglite', () => {
  let storage: TestStorage;
  let api: TestApi;
  const output = captureOutput();
  const open: RawSocket[] = [];
  const socket = async () => {
    const raw = await openRawSocket(api.url);
    open.push(raw);
    return raw;
  };
  const subscribe = (raw: RawSocket, id: string, query = ops.auditEvents, variables: Record<string, unknown> = {}) =>
    raw.send({ type: 'subscribe', id, payload: { query, variables } });
  const token = async (name: string) => (await api.ok(api.rootToken, ops.createApiToken, { name, role: 'AUDITOR' })).createApiToken.token as string;

  beforeAll(async () => {
    storage = await testStorage('pglite');
    api = await startTestApi(storage, { logger: output.logger, env: LIMITS });
  });
  afterAll(async () => {
    output.restore();
    await api?.close();
    await storage?.dispose();
  });
  beforeEach(() => output.clear());
  afterEach(async () => {
    for (const raw of open.splice(0)) raw.socket.terminate();
    // The server counts a socket until it has seen it close.
    await new Promise((resolve) => setTimeout(resolve, 100));
  });

  describe('before authentication', () => {
    it('closes the socket on a message over 1 MB (1009), and prints nothing of it', async () => {
      const raw = await socket();
      raw.send({ type: 'connection_init', payload: { authorization: `Bearer ${SECRET}`, padding: 'x'.repeat(2 * 1024 * 1024) } });
      expect((await raw.closed).code).toBe(1009);
      expect(output.text()).not.toContain(SECRET);
      expect(output.errors()).toEqual([]);
    });

    it('closes a socket that sends no connection_init within the configured deadline (4408)', async () => {
      const raw = await socket();
      const started = Date.now();
      expect((await raw.closed).code).toBe(4408);
      expect(Date.now() - started).toBeLessThan(2_500);
    });

    it('refuses a connection_init without a token, or with an unknown one, at once (4403)', async () => {
      for (const authorization of [null, `Bearer ${SECRET}`, 'Basic x']) {
        const raw = await socket();
        raw.send({ type: 'connection_init', payload: authorization === null ? {} : { authorization } });
        expect([authorization, (await raw.closed).code]).toEqual([authorization, 4403]);
      }
      expect(output.text()).not.toContain(SECRET);
    });

    it('closes the socket on malformed frames with 4400: not JSON, binary, of an unknown type; and writes no line for them', async () => {
      const frames: [string, (raw: RawSocket) => void][] = [
        ['not JSON', (raw) => raw.send(`{"type":"connection_init","payload":"${SECRET}"`)],
        ['binary', (raw) => raw.socket.send(Buffer.from(JSON.stringify({ type: 'connection_init' })), { binary: true })],
        ['an unknown type', (raw) => raw.send({ type: 'hello', payload: SECRET })],
        ['a subscribe without a query', (raw) => raw.send({ type: 'subscribe', id: '1', payload: { variables: { s: SECRET } } })],
      ];
      for (const [label, send] of frames) {
        const raw = await socket();
        send(raw);
        expect([label, (await raw.closed).code]).toEqual([label, 4400]);
      }
      expect(output.text()).not.toContain(SECRET);
      expect(output.errors()).toEqual([]);
    });

    it('refuses a socket over the total number of connections (4420)', async () => {
      const sockets = await Promise.all(Array.from({ length: 3 }, () => socket()));
      for (const name of ['total one', 'total two', 'total three']) {
        const own = await token(name);
        for (let index = 0; index < 3; index += 1) {
          const signed = await socket();
          await signed.init(own);
          sockets.push(signed);
        }
      }
      const extra = await socket();
      expect((await extra.closed).code).toBe(4420);
      for (const raw of sockets) raw.socket.terminate();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const later = await socket();
      await later.init(api.rootToken);
    });
  });

  it('refuses more sockets of one address waiting to sign in than it allows (4420), and takes more once they sign in', async () => {
    const waiting = await Promise.all(Array.from({ length: 4 }, () => socket()));
    const extra = await socket();
    const closed = await extra.closed;
    expect([closed.code, closed.reason]).toEqual([4420, 'Too many connections waiting to sign in']);
    await waiting[0].init(api.rootToken);
    const next = await socket();
    await next.init(api.rootToken);
  });

  describe('once authenticated', () => {
    it('refuses a token its connections over the limit (4420), and serves other tokens', async () => {
      const own = await token('many sockets');
      for (let index = 0; index < 3; index += 1) await (await socket()).init(own);
      const extra = await socket();
      extra.send({ type: 'connection_init', payload: { authorization: `Bearer ${own}` } });
      expect((await extra.closed).code).toBe(4420);
      await (await socket()).init(api.rootToken);
    });

    it('refuses operations over the limit on one connection, then takes new ones as others end', async () => {
      const raw = await socket();
      await raw.init(api.rootToken);
      for (let id = 1; id <= 6; id += 1) subscribe(raw, String(id));
      const refused = await raw.next((message) => message.type === 'error');
      expect(refused.id).toBe('6');
      expect(refused.payload.map((error: any) => error.extensions?.code)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
      expect(refused.payload[0].message).toMatch(/limit is 5/);
      raw.send({ type: 'complete', id: '1' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      // A query over the socket: it answers at once when taken.
      subscribe(raw, '7', ops.me);
      await raw.next((message) => message.id === '7' && message.type === 'next');
      expect(raw.messages.filter((message) => message.type === 'error').map((message) => message.id)).toEqual(['6']);
    });

    it('refuses an auditEvents filter of more event types than a query takes', async () => {
      const raw = await socket();
      await raw.init(api.rootToken);
      subscribe(raw, 'types', ops.auditEvents, { filter: { types: Array.from({ length: 101 }, (_, n) => `T${n}`) } });
      const refused = await raw.next((message) => message.id === 'types' && (message.type === 'next' || message.type === 'error'));
      expect(JSON.stringify(refused)).toMatch(/BAD_USER_INPUT/);
      expect(JSON.stringify(refused)).toMatch(/at most 100 event types/);
    });

    it('refuses an auditEvents time range that ends where it starts, as auditLog does', async () => {
      const raw = await socket();
      await raw.init(api.rootToken);
      subscribe(raw, 'range', ops.auditEvents, { filter: { from: '2026-12-06T10:00:00Z', to: '2026-12-06T10:00:00Z' } });
      const refused = await raw.next((message) => message.id === 'range' && (message.type === 'next' || message.type === 'error'));
      // A refusal by the subscription's own resolver is an execution result with errors (next), not a protocol error.
      const errors = refused.type === 'error' ? refused.payload : refused.payload.errors;
      expect(errors).toEqual([
        expect.objectContaining({ message: 'to must be later than from', extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) }),
      ]);
      expect(refused.payload.data ?? null).toBeNull();
    });

    it.each([
      ['two operations and no operationName', 'query A { me { name } } query B { me { name } }', undefined],
      ['an operationName the document does not hold', 'query A { me { name } }', 'Nope'],
    ])('refuses a document with %s as OPERATION_RESOLUTION_FAILURE, writing no log line', async (_what, query, operationName) => {
      const raw = await socket();
      await raw.init(api.rootToken);
      raw.send({ type: 'subscribe', id: 'x', payload: { query, operationName } });
      const refused = await raw.next((message) => message.type === 'error');
      expect(refused.payload.map((error: any) => error.extensions?.code)).toEqual(['OPERATION_RESOLUTION_FAILURE']);
      expect(output.text()).not.toMatch(/request failed|"level":"error"/);
    });

    it('refuses a document over the cost limits each time it comes, with the same error, and still serves the documents in use', async () => {
      const costly = '{ plans { credentials { credential { organization { credentials { id login } } } } } }';
      const raw = await socket();
      await raw.init(api.rootToken);
      const answers: unknown[] = [];
      for (const id of ['me-1', 'costly-1', 'me-2', 'costly-2']) {
        raw.send({ type: 'subscribe', id, payload: { query: id.startsWith('me') ? ops.me : costly } });
        const answer = await raw.next((message) => message.id === id && (message.type === 'next' || message.type === 'error'));
        answers.push([answer.type, answer.type === 'error' ? answer.payload : answer.payload.data.me.root]);
      }
      const refusal = [{ message: expect.stringMatching(/complexity .* the limit is 10000/), extensions: { code: 'QUERY_TOO_COMPLEX' } }];
      expect(answers).toEqual([
        ['next', true],
        ['error', refusal],
        ['next', true],
        ['error', refusal],
      ]);
      expect(answers[3]).toEqual(answers[1]);
    });

    it("refuses operations over the token's limit across its connections", async () => {
      const own = await token('many subscriptions');
      const [first, second] = [await socket(), await socket()];
      await first.init(own);
      await second.init(own);
      for (let id = 1; id <= 5; id += 1) subscribe(first, String(id));
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (let id = 1; id <= 4; id += 1) subscribe(second, String(id));
      const refused = await second.next((message) => message.type === 'error');
      expect([refused.id, refused.payload[0].extensions.code]).toEqual(['4', 'TOO_MANY_SUBSCRIPTIONS']);
      expect(refused.payload[0].message).toMatch(/limit is 8/);
    });

    it('drops a client that does not read what it asked for (4421)', async () => {
      const raw = await socket();
      await raw.init(api.rootToken);
      raw.socket.pause();
      // Queries end as soon as their answer is queued: a few at a time stay within the limit of operations.
      const dropped = () => output.text().includes('"kind":"ws slow readers"');
      for (let id = 1; id <= 1000 && !dropped(); id += 1) {
        subscribe(raw, String(id), LARGE_ANSWER);
        if (id % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await eventually(() => expect(dropped()).toBe(true));
      raw.socket.resume();
      const closed = await Promise.race([raw.closed, new Promise((resolve) => setTimeout(() => resolve('still open'), 10_000))]);
      expect(closed).toEqual({ code: 4421, reason: expect.stringMatching(/slow/i) });
    });

    it('answers variables that do not fit BAD_USER_INPUT naming the variable, and logs no line', async () => {
      const client = api.ws(api.rootToken);
      const feed = listen(client, 'query($n: Int) { auditLog(first: $n) { edges { cursor } } }', { n: 2 ** 31 });
      const secretFeed = listen(client, 'mutation($s: String!) { storePassword(input: { name: "x", secret: $s }) { id } }', { s: [SECRET] });
      await eventually(() => expect(feed.errors.length * secretFeed.errors.length).toBeGreaterThan(0));
      const errors = [...feed.errors, ...secretFeed.errors].flat() as { message: string; extensions?: Record<string, unknown> }[];
      expect(errors.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT', 'BAD_USER_INPUT']);
      expect(errors.map((error) => error.message)).toEqual([expect.stringContaining('$n'), expect.stringContaining('$s')]);
      expect(JSON.stringify(errors)).not.toMatch(new RegExp(`${SECRET}|2147483648`));
      expect(output.text()).not.toContain(SECRET);
      expect(output.errors()).toEqual([]);
    });

    it('closes with 4400, not as its own failure, on messages only a server sends, and writes no line for them', async () => {
      const serverOnly = [
        { type: 'connection_ack' },
        { type: 'next', id: '1', payload: { data: { s: SECRET } } },
        { type: 'error', id: '1', payload: [{ message: SECRET }] },
      ];
      for (const message of serverOnly) {
        const raw = await socket();
        await raw.init(api.rootToken);
        raw.send(message);
        expect([message.type, (await raw.closed).code]).toEqual([message.type, 4400]);
      }
      expect(output.text()).not.toContain(SECRET);
      expect(output.errors()).toEqual([]);
    });

    it('refuses a NUL or an unpaired surrogate in any argument of a subscription BAD_USER_INPUT, naming it', async () => {
      const raw = await socket();
      await raw.init(api.rootToken);
      const cases: [string, string, Record<string, unknown>, string][] = [
        ['toggles', 'subscription($p: ID) { planCredentialToggled(planId: $p) { enabled } }', { p: '\u0000' }, 'planId'],
        ['history', 'subscription($t: [String!]) { auditEvents(filter: { types: $t }) { id } }', { t: ['PlanCreated\ud800'] }, 'filter.types[0]'],
        ['task', 'subscription($id: ID!) { taskProgress(taskId: $id) { id } }', { id: 'a\u0000b' }, 'taskId'],
      ];
      for (const [id, query, variables, path] of cases) {
        raw.send({ type: 'subscribe', id, payload: { query, variables } });
        const refused = await raw.next((message) => message.id === id && (message.type === 'error' || message.type === 'next'));
        expect([id, refused.payload.errors?.[0]?.extensions?.code, refused.payload.errors?.[0]?.message]).toEqual([
          id,
          'BAD_USER_INPUT',
          expect.stringMatching(new RegExp(`^${path.replace(/[[\].]/g, '\\$&')} must not contain`)),
        ]);
      }
      expect(output.errors()).toEqual([]);
    });

    it('answers variables nested too deep BAD_USER_INPUT, declared or not, and logs no line', async () => {
      // Written as text: nested so deep, no JSON.stringify of a client would send it.
      const deep = `${'['.repeat(5000)}"${SECRET}"${']'.repeat(5000)}`;
      const raw = await socket();
      await raw.init(api.rootToken);
      const queries: [string, string][] = [
        ['undeclared', '{ me { role } }'],
        ['declared', 'subscription($types: [String!]) { auditEvents(filter: { types: $types }) { id } }'],
      ];
      for (const [id, query] of queries) {
        raw.send(`{"type":"subscribe","id":"${id}","payload":{"query":${JSON.stringify(query)},"variables":{"types":${deep}}}}`);
        const refused = await raw.next((message) => message.id === id && message.type === 'error');
        expect(refused.payload.map((error: any) => [error.extensions?.code, error.message])).toEqual([['BAD_USER_INPUT', expect.stringContaining('nested')]]);
        expect(JSON.stringify(refused)).not.toContain(SECRET);
      }
      expect(output.text()).not.toContain(SECRET);
      expect(output.errors()).toEqual([]);
    });
  });
});
