import { openBackplane } from '../../src/backplane';
import { startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { describeWithPostgres } from '../support/databases';
import { eventually } from '../support/eventually';
import { recordingLogger } from '../support/recording-logger';
import { ops } from '../support/scenario';

/**
 * A service hears of its runner's batches as they commit, but not of another process's, and the
 * product's read models, kept by the appends, have no batches at all: each service follows a
 * rebuild through the checkpoint, whichever process made the reset and whichever applies it.
 */
describeWithPostgres('a rebuild made by another process', () => {
  let storage: TestStorage;
  const services: { api: TestApi; lines: ReturnType<typeof recordingLogger>['lines'] }[] = [];

  beforeAll(async () => {
    storage = await testStorage('postgres');
    const first = recordingLogger();
    const a = await startTestApi(storage, { logger: first.logger });
    const second = recordingLogger();
    const b = await startTestApi(storage, { rootToken: a.rootToken, logger: second.logger });
    services.push({ api: a, lines: first.lines }, { api: b, lines: second.lines });
    // A log longer than a runner's batch (2,000 events), so that a rebuild's first batch stands
    // before the end of the log: one that rebuilt the whole log at once would leave nothing behind to notice.
    for (let n = 0; n < 40; n++) await a.ok(a.rootToken, ops.createApiToken, { name: `token-${n}`, role: 'VIEWER' });
    const metadata = { tenantId: 'default', actor: { kind: 'system', id: 'seed', name: 'seed', role: 'ADMIN' } };
    for (let stream = 0; stream < 6; stream++) {
      await a.service.backplane.store.appendToStream(
        `seed-${stream}`,
        Array.from({ length: 500 }, (_, n) => ({ type: 'Seeded', data: { n }, metadata })),
      );
    }
  });
  afterAll(async () => {
    for (const { api } of services.reverse()) await api.close();
    await storage?.dispose();
  });

  /**
   * Resets the read model in a process of its own, as `npm run cli -- rebuild <name>` does; then
   * every service says it followed a catch-up to its end, and is ready again.
   */
  async function rebuiltElsewhere(name: string): Promise<void> {
    const linesBefore = services.map(({ lines }) => lines.length);
    const cli = await openBackplane(services[0].api.config);
    try {
      await cli.runner(name).reset();
    } finally {
      await cli.close();
    }
    await eventually(async () => {
      for (const [index, { lines }] of services.entries()) {
        expect(lines.slice(linesBefore[index]).some((line) => line.message === 'read models current')).toBe(true);
      }
    }, 60_000);
    for (const { api } of services) await eventually(async () => expect((await fetch(new URL('/readyz', api.url))).status).toBe(200), 60_000);
  }

  it('of the audit history is noticed by every service, whichever applies it', async () => {
    await rebuiltElsewhere('audit-log');
    for (const { api } of services) {
      const { auditLog } = await api.ok(api.rootToken, ops.auditLog, { filter: { types: ['ApiTokenCreated'] }, first: 100 });
      expect(auditLog.edges.filter((edge: any) => edge.node.data.name.startsWith('token-'))).toHaveLength(40);
    }
  }, 120_000);

  it('of the read models the appends keep is noticed by every service, which follows the catch-up and is current again; its read models then show everything', async () => {
    for (const { api } of services) expect((await api.service.backplane.runner('product').checkpoint())!.inline).toBe(true);
    // Whichever service holds the projection replays it and hands it back to the appends.
    await rebuiltElsewhere('product');
    for (const { api } of services) {
      expect((await api.service.backplane.runner('product').checkpoint())!.inline).toBe(true);
      const { apiTokens } = await api.ok(api.rootToken, ops.apiTokens);
      expect(apiTokens.filter((token: { name: string }) => token.name.startsWith('token-'))).toHaveLength(40);
    }
  }, 120_000);
});
