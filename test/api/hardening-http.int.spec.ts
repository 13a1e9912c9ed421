import { connect } from 'node:net';
import { startTestApi, testStorage, type GraphQLResponse, type TestApi, type TestStorage } from '../support/api-server';
import { captureOutput } from '../support/output-capture';

const SECRET = 'not-a-token-SECRET-0123456789-hardening';
const STORE_PASSWORD = 'mutation($s: String!) { storePassword(input: { name: "x", secret: $s }) { id } }';
const AS_OF = 'query($at: DateTime!, $p: ID!) { planCredentialsAsOf(at: $at, planId: $p) { enabled } }';
const FILTERED = 'query($f: AuditFilter) { auditLog(filter: $f) { edges { cursor } } }';
/** What a stack trace or a path on the server looks like in a page or a log. */
const STACK = /\bat \S+ \(|\/node_modules\/|\/work\/|\.[jt]s:\d+/;

describe('the HTTP edge refuses bad requests in JSON, without stacks or secrets, on pglite', () => {
  let storage: TestStorage;
  let api: TestApi;
  const output = captureOutput();

  beforeAll(async () => {
    storage = await testStorage('pglite');
    api = await startTestApi(storage, { logger: output.logger });
  });
  afterAll(async () => {
    output.restore();
    await api?.close();
    await storage?.dispose();
  });
  beforeEach(() => output.clear());

  const send = async (init: RequestInit & { path?: string; token?: boolean }) => {
    const headers = { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${api.rootToken}` } : {}), ...(init.headers as object) };
    const response = await fetch(init.path === undefined ? api.url : `${api.url.replace(/\/graphql$/, '')}${init.path}`, { ...init, headers });
    const text = await response.text();
    return { status: response.status, type: response.headers.get('content-type') ?? '', text, body: JSON.parse(text) as GraphQLResponse };
  };
  const variables = (query: string, values: unknown, token = true) => send({ method: 'POST', token, body: JSON.stringify({ query, variables: values }) });
  const codes = (body: GraphQLResponse) => body.errors?.map((error) => error.extensions?.code);

  describe('a body the JSON parser refuses', () => {
    it('answers malformed JSON 400 BAD_USER_INPUT, and prints neither the body nor its secret', async () => {
      const answer = await send({ method: 'POST', token: true, body: `{"variables":{"s":"${SECRET}"}x}` });
      expect([answer.status, codes(answer.body)]).toEqual([400, ['BAD_USER_INPUT']]);
      expect(answer.text).not.toMatch(STACK);
      expect(answer.text).not.toContain(SECRET);
      expect(output.text()).not.toContain(SECRET);
      expect(output.text()).not.toMatch(STACK);
    });

    it('answers a cut-off body, or JSON that is no object, 400 BAD_USER_INPUT in JSON, with no stack in the page or the log', async () => {
      for (const body of ['{"query":', '"{ me { id } }"', 'null']) {
        const answer = await send({ method: 'POST', body });
        expect([body, answer.status, answer.type, codes(answer.body)]).toEqual([body, 400, expect.stringMatching(/^application\/json/), ['BAD_USER_INPUT']]);
        expect(answer.body.errors?.[0].message).toBe('the request body must be a JSON object');
        expect(answer.text).not.toMatch(STACK);
      }
      expect(output.text()).not.toMatch(STACK);
    });

    it('answers a body whose bytes are not UTF-8 400 BAD_USER_INPUT, and writes nothing', async () => {
      const before = await api.service.backplane.store.headPosition();
      const query = (name: string) => `mutation { registerDevice(input: { name: "${name}" }) { name } }`;
      for (const bytes of [[0xff], [0xc3], [0xed, 0xa0, 0x80]]) {
        // A name of three letters and bytes no UTF-8 text holds (a cut sequence, an encoded surrogate).
        const [head, tail] = JSON.stringify({ query: query('dev@') }).split('@');
        const body = Buffer.concat([Buffer.from(head), Buffer.from(bytes), Buffer.from(tail)]);
        const answer = await send({ method: 'POST', token: true, body });
        expect([bytes, answer.status, codes(answer.body)]).toEqual([bytes, 400, ['BAD_USER_INPUT']]);
        expect(answer.body.errors?.[0].message).toBe('the request body must be UTF-8 text');
      }
      expect(await api.service.backplane.store.headPosition()).toBe(before);
    });

    it('answers CONNECT 405 in JSON rather than dropping the connection', async () => {
      const { port } = new URL(api.url);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.write('CONNECT /graphql HTTP/1.1\r\nHost: localhost\r\n\r\n'));
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk.toString();
        });
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).errors[0].extensions.code).toBe('BAD_REQUEST');
    });

    it('answers a body over 1 MB 413 PAYLOAD_TOO_LARGE in JSON, with no stack in the page or the log', async () => {
      const answer = await send({ method: 'POST', body: JSON.stringify({ query: '{ me { id } }', variables: { s: `${SECRET}${'x'.repeat(1_100_000)}` } }) });
      expect([answer.status, codes(answer.body)]).toEqual([413, ['PAYLOAD_TOO_LARGE']]);
      expect(answer.body.errors?.[0].message).toMatch(/1 MB|too large/i);
      expect(answer.text).not.toMatch(STACK);
      expect(output.text()).not.toMatch(STACK);
      expect(output.text()).not.toContain(SECRET);
    });
  });

  describe('requests the API does not serve', () => {
    it('answers a content type other than JSON, or a method other than GET and POST, in JSON with a code', async () => {
      const requests: RequestInit[] = [
        { method: 'POST', headers: { 'content-type': 'application/xml', 'apollo-require-preflight': 'true' }, body: '<query/>' },
        { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ me { id } }"}' },
        { method: 'PUT', body: '{"query":"{ me { id } }"}' },
        { method: 'DELETE' },
      ];
      for (const init of requests) {
        const answer = await send(init);
        expect({ init, status: answer.status, code: codes(answer.body)?.[0] }).toEqual({ init, status: expect.any(Number), code: expect.any(String) });
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
        expect(answer.text).not.toMatch(STACK);
      }
      expect(output.errors()).toEqual([]);
    });

    it('answers a subscription over HTTP 400 BAD_REQUEST, pointing to the WebSocket, and logs no line', async () => {
      for (const token of [true, false]) {
        const answer = await variables('subscription($a: String) { auditEvents(after: $a) { cursor } }', { a: SECRET }, token);
        expect([token, answer.status, codes(answer.body)]).toEqual([token, 400, ['BAD_REQUEST']]);
        expect(answer.body.errors?.[0].message).toMatch(/WebSocket/);
      }
      expect(output.errors()).toEqual([]);
    });

    it('answers GET and POST to an unknown path 404 NOT_FOUND in JSON', async () => {
      for (const method of ['GET', 'POST']) {
        const answer = await send({ method, path: '/no-such-page', ...(method === 'POST' ? { body: '{}' } : {}) });
        expect([method, answer.status, answer.type, codes(answer.body)]).toEqual([method, 404, expect.stringMatching(/^application\/json/), ['NOT_FOUND']]);
      }
    });
  });

  describe('variables that do not fit their types', () => {
    const cases: [string, string, string, unknown, boolean][] = [
      ['a secret of the wrong type', STORE_PASSWORD, 's', { s: [SECRET] }, true],
      ['a secret of the wrong type, without a token', STORE_PASSWORD, 's', { s: { nested: SECRET } }, false],
      ['null for a required variable', STORE_PASSWORD, 's', { s: null }, true],
      ['a missing variable', STORE_PASSWORD, 's', {}, false],
      ['2^31 for an Int', 'query($n: Int) { auditLog(first: $n) { edges { cursor } } }', 'n', { n: 2 ** 31 }, true],
      ['a bad DateTime', AS_OF, 'at', { at: `${SECRET}T25:00`, p: 'x' }, true],
      ['a bad enum', 'mutation($r: Role!) { createApiToken(input: { name: "n", role: $r }) { token } }', 'r', { r: SECRET }, true],
      ['a __proto__ key in the variables', STORE_PASSWORD, 's', JSON.parse(`{"__proto__": {"s": "${SECRET}"}}`), true],
      ['a __proto__ key in an input', FILTERED, 'f', JSON.parse(`{"f": {"__proto__": {"types": ["${SECRET}"]}}}`), true],
    ];

    it.each(cases)('answers %s 400 BAD_USER_INPUT naming the variable, without its value, and logs no line', async (_label, query, name, values, token) => {
      const answer = await variables(query, values, token);
      expect([answer.status, codes(answer.body)]).toEqual([400, ['BAD_USER_INPUT']]);
      expect(answer.body.errors?.[0].message).toContain(`$${name}`);
      expect(answer.text).not.toContain(SECRET);
      expect(answer.text).not.toMatch(/T25:00|2147483648/);
      expect(output.text()).not.toContain(SECRET);
      expect(output.errors()).toEqual([]);
    });

    it('still answers valid variables', async () => {
      const answer = await variables(STORE_PASSWORD, { s: SECRET }, true);
      expect([answer.status, answer.body.errors]).toEqual([200, undefined]);
      expect(output.text()).not.toContain(SECRET);
    });
  });
});
