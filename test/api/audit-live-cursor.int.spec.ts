import type { Client } from 'graphql-ws';
import { listen } from '../support/api-server';
import { eventually } from '../support/eventually';
import { ops } from '../support/scenario';
import { useTestApi } from '../support/use-test-api';

const DEADLINE = 30_000;

const auditLog = `query($filter: AuditFilter, $after: String) { auditLog(filter: $filter, first: 500, after: $after) {
    edges { node { cursor type } } pageInfo { hasNextPage endCursor liveCursor } } }`;

type Page = { edges: { node: { cursor: string; type: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null; liveCursor: string | null } };

describe('auditLog pageInfo.liveCursor: where auditEvents continues a query with nothing skipped or repeated', () => {
  const api = useTestApi();
  const open: Client[] = [];
  let actor: { id: string; token: string };

  const page = async (filter: Record<string, unknown>, after?: string): Promise<Page> =>
    (await api().ok(api().rootToken, auditLog, { filter, after })).auditLog;
  const subscribe = (filter: Record<string, unknown>, after: string | null) => {
    const client = api().ws(api().rootToken);
    open.push(client);
    return listen<{ auditEvents: { cursor: string; type: string } }>(client, ops.auditEvents, { filter, after });
  };
  const register = () => api().ok(actor.token, ops.registerDevice, { name: `device-${Math.random().toString(36).slice(2)}` });

  beforeAll(async () => {
    // A token that has done nothing yet: a filter on it as actor matches nothing until it acts.
    const { createApiToken } = await api().ok(api().rootToken, ops.createApiToken, { name: 'live cursor', role: 'ADMIN' });
    actor = { id: createApiToken.principal.id, token: createApiToken.token };
    // The token's own creation is in the history: its read has gone past something.
    await eventually(async () => expect((await page({ types: ['ApiTokenCreated'] })).edges.length).toBeGreaterThan(0), DEADLINE);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.dispose()));
  });

  it('on a page with no event, is the tenant’s last event in the history: an event recorded after the read, before the subscription, is delivered once', async () => {
    const filter = { actorId: actor.id };
    const empty = await page(filter);
    expect(empty.edges).toEqual([]);
    expect(empty.pageInfo.endCursor).toBeNull();
    expect(empty.pageInfo.liveCursor).toEqual(expect.any(String));
    // The tenant's own last event: nothing of other tenants' writes shows in it.
    let lastOwn: string | null = null;
    for (let read = await page({}); ; read = await page({}, read.pageInfo.endCursor ?? undefined)) {
      lastOwn = read.edges.at(-1)?.node.cursor ?? lastOwn;
      if (!read.pageInfo.hasNextPage) break;
    }
    expect(empty.pageInfo.liveCursor).toBe(lastOwn);

    await register();
    const feed = subscribe(filter, empty.pageInfo.liveCursor);
    await eventually(() => expect(feed.received.map((item) => item.auditEvents.type)).toEqual(['DeviceRegistered']), DEADLINE);
    await register();

    await eventually(async () => {
      const log = (await page(filter)).edges.map((edge) => edge.node);
      expect(log.map((event) => event.type)).toEqual(['DeviceRegistered', 'DeviceRegistered']);
      expect(feed.received.map(({ auditEvents: { cursor, type } }) => ({ cursor, type }))).toEqual(log);
    }, DEADLINE);
    expect(feed.errors).toEqual([]);
  });

  it('on a page with events, is its last event’s cursor; on an empty page after a cursor, never before that cursor', async () => {
    const filter = { actorId: actor.id };
    await register();
    const full = await eventually(async () => {
      const read = await page(filter);
      expect(read.edges.length).toBeGreaterThan(0);
      return read;
    }, DEADLINE);
    const last = full.edges.at(-1)!.node.cursor;
    expect(full.pageInfo.liveCursor).toBe(last);

    const after = await page(filter, last);
    expect(after.edges).toEqual([]);
    const feed = subscribe(filter, after.pageInfo.liveCursor);
    await register();
    await eventually(async () => {
      const log = (await page(filter, last)).edges.map((edge) => edge.node);
      expect(log).toHaveLength(1);
      expect(feed.received.map(({ auditEvents: { cursor, type } }) => ({ cursor, type }))).toEqual(log);
    }, DEADLINE);
  });
});
