import type { Client } from 'graphql-ws';
import { backplaneSchema } from '../../src/graphql/schema';
import type { Logger } from '../../src/core/logger';
import { startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { badInputs, SECRET_MARKER, type BadInput } from '../support/bad-inputs';
import { buildScenario, ops, type Scenario } from '../support/scenario';

/**
 * Generated bad inputs per mutation (from a seed of the mutation's own), each sent over HTTP and
 * over the WebSocket: 300 requests to every mutation. With some sixty mutations that is about
 * 18,000, which a loaded 2-core machine serves in minutes beside the other suites (a thousand each
 * took over 15); 150 inputs show about 95% of the kinds of breakage 500 do.
 */
const PER_MUTATION = 150;
/** Requests in flight at once on each transport. */
const IN_FLIGHT = 8;
/** What a stack trace or a path of the server's files looks like in a text. */
const STACK = /\n\s+at |\bat [\w.<>]+ \(|\/work\/|node_modules|\.ts:\d+|\.js:\d+:\d+|stacktrace/;

interface Answer {
  status: number;
  text: string;
  codes: string[];
}

/**
 * Every mutation, sent hundreds of requests that must be refused (wrong kinds, nulls and missing
 * values, NUL bytes, Ints out of range, enum values and instants that do not exist, unknown and
 * prototype keys, variables that are no object), over HTTP and over graphql-ws, as an ADMIN:
 * none may answer INTERNAL_SERVER_ERROR, write an event, or show a secret or a stack, in an
 * answer or in a log line.
 */
describe('bad input to every mutation, on pglite', () => {
  let storage: TestStorage;
  let api: TestApi;
  let s: Scenario;
  const logLines: string[] = [];
  const logger: Logger = {
    info: (message, fields) => logLines.push(JSON.stringify({ message, ...fields })),
    warn: (message, fields) => logLines.push(JSON.stringify({ message, ...fields })),
    error: (message, fields) => logLines.push(JSON.stringify({ message, ...fields })),
  };
  const printed: string[] = [];
  const writes = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) };

  beforeAll(async () => {
    storage = await testStorage('pglite');
    api = await startTestApi(storage, { logger });
    s = await buildScenario(api, api.rootToken, 'fuzz');
    await api.service.app.jobs.idle();
    // Whatever the server prints past its logger (a body parser, Express, graphql-ws) is read too.
    for (const stream of ['stdout', 'stderr'] as const) {
      process[stream].write = ((chunk: unknown, ...rest: unknown[]) => {
        printed.push(String(chunk));
        return (writes[stream] as (...args: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof process.stdout.write;
    }
  });
  afterAll(async () => {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    await api?.close();
    await storage?.dispose();
  });

  const ids = () => ({
    id: s.planId,
    planId: s.planId,
    organizationId: s.organizationId,
    credentialId: s.credentialIds[0],
    passwordId: s.passwordId,
    deviceId: s.deviceId,
    defaultDeviceId: s.deviceId,
  });

  const overHttp = async (input: BadInput): Promise<Answer> => {
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${api.rootToken}` },
      body: JSON.stringify({ query: input.query, variables: input.variables }),
    });
    const text = await response.text();
    let codes: string[] = [];
    try {
      codes = ((JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] }).errors ?? []).map((error) => String(error.extensions?.code));
    } catch {
      codes = ['NOT_JSON'];
    }
    return { status: response.status, text, codes };
  };

  const overSocket =
    (client: Client) =>
    (input: BadInput): Promise<Answer> =>
      new Promise((resolve) => {
        const seen: unknown[] = [];
        client.subscribe(
          // graphql-ws refuses variables that are no object before sending; the server sees such a request over HTTP.
          {
            query: input.query,
            variables: (typeof input.variables === 'object' && !Array.isArray(input.variables) ? input.variables : {}) as Record<string, unknown>,
          },
          {
            next: (value) => seen.push(value),
            error: (error) => {
              seen.push(error);
              finish();
            },
            complete: () => finish(),
          },
        );
        const finish = () => {
          const text = JSON.stringify(seen, (_key, value: unknown) => (value instanceof Error ? { message: value.message, name: value.name } : value));
          const errors = seen.flatMap((item) => (Array.isArray(item) ? item : ((item as { errors?: unknown[] }).errors ?? [])));
          resolve({ status: 0, text, codes: errors.map((error) => String((error as { extensions?: { code?: string } }).extensions?.code)) });
        };
      });

  async function send(inputs: BadInput[], transport: (input: BadInput) => Promise<Answer>): Promise<{ input: BadInput; answer: Answer }[]> {
    const answers: { input: BadInput; answer: Answer }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < inputs.length) {
          const input = inputs[next++];
          answers.push({ input, answer: await transport(input) });
        }
      }),
    );
    return answers;
  }

  /** What went wrong in an answer, or null. */
  function problem({ answer }: { input: BadInput; answer: Answer }): string | null {
    if (answer.status >= 500) return `HTTP ${answer.status}`;
    if (answer.codes.includes('INTERNAL_SERVER_ERROR')) return 'INTERNAL_SERVER_ERROR';
    if (answer.codes.length === 0) return 'not refused';
    if (answer.text.includes(SECRET_MARKER)) return 'a secret in the answer';
    if (answer.text.includes('\u0000') || answer.text.includes('\\u0000')) return 'a NUL echoed';
    if (STACK.test(answer.text)) return 'a stack in the answer';
    if (answer.text.length > 4_000) return `an answer of ${answer.text.length} characters`;
    return null;
  }

  it(`refuses ${PER_MUTATION * 2} generated bad inputs to each mutation, half over HTTP and half over the WebSocket, writing nothing`, async () => {
    const schema = await backplaneSchema();
    const mutations = Object.keys(schema.getMutationType()!.getFields());
    expect(mutations.length).toBeGreaterThanOrEqual(20);
    const head = await api.service.backplane.store.headPosition();
    const socket = api.ws(api.rootToken);
    // One example of each kind of failure, so that a report shows them all and not the first twenty of one.
    const failures = new Map<string, string>();
    let sent = 0;
    // A mutation that takes no arguments can only be sent bad variables (no object); over the socket those go as {},
    // which makes a good request of it: such a mutation is tried over HTTP only.
    const takesNone = mutations.filter((mutation) => schema.getMutationType()!.getFields()[mutation].args.length === 0);
    for (const [index, mutation] of mutations.entries()) {
      const inputs = badInputs(schema, mutation, PER_MUTATION, ids(), 1_000 + index);
      for (const [transport, send1] of [
        ['HTTP', overHttp],
        ['WebSocket', overSocket(socket)],
      ] as const) {
        if (transport === 'WebSocket' && takesNone.includes(mutation)) continue;
        const answers = await send(inputs, send1);
        sent += answers.length;
        for (const answer of answers) {
          const wrong = problem(answer);
          if (wrong !== null) failures.set(`${transport} ${mutation} ${wrong}`, `(${answer.input.broken}): ${answer.answer.text.slice(0, 300)}`);
        }
      }
    }
    expect(Object.fromEntries(failures)).toEqual({});
    expect(sent).toBeGreaterThanOrEqual((mutations.length * 2 - takesNone.length) * PER_MUTATION);
    // Not one event: a refused command leaves nothing behind.
    expect(await api.service.backplane.store.headPosition()).toBe(head);
    const lines = [...logLines, ...printed.join('').split('\n')];
    expect(lines.filter((line) => line.includes(SECRET_MARKER))).toEqual([]);
    expect(lines.filter((line) => STACK.test(line)).slice(0, 5)).toEqual([]);
    // A flood of bad input is not a flood of log lines.
    expect(lines.filter((line) => line.trim() !== '').length).toBeLessThan(100);
    // The server still answers as before.
    expect((await api.ok(api.rootToken, ops.me)).me.role).toBe('ADMIN');
  }, 900_000);
});
