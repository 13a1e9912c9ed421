import { openBackplane } from '../../src/backplane';
import type { Logger } from '../../src/core/logger';
import { startTestApi, testStorage, type TestApi, type TestStorage } from '../support/api-server';
import { describeWithPostgres } from '../support/databases';
import { eventually } from '../support/eventually';
import { ops } from '../support/scenario';

function recordingLogger() {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  const record = (message: string, fields: Record<string, unknown> = {}) => void lines.push({ message, fields });
  const logger: Logger = { info: record, warn: record, error: record };
  return { logger, lines };
}

/**
 * The product's read models are kept by the appends, so no batch of a runner tells a service that a
 * rebuild set them back: each service hears it from the checkpoint, whichever process made the
 * reset and whichever applies the rebuild.
 */
describeWithPostgres('a rebuild of the read models kept by the appends, made by another process', () => {
  let storage: TestStorage;
  const services: { api: TestApi; lines: ReturnType<typeof recordingLogger>['lines'] }[] = [];

  beforeAll(async () => {
    storage = await testStorage('postgres');
    const first = recordingLogger();
    const a = await startTestApi(storage, { logger: first.logger });
    const second = recordingLogger();
    const b = await startTestApi(storage, { rootToken: a.rootToken, logger: second.logger });
    services.push({ api: a, lines: first.lines }, { api: b, lines: second.lines });
    // A log of some length, kept by the appends.
    for (let n = 0; n < 40; n++) await a.ok(a.rootToken, ops.createApiToken, { name: `token-${n}`, role: 'VIEWER' });
  });
  afterAll(async () => {
    for (const { api } of services.reverse()) await api.close();
    await storage?.dispose();
  });

  it('is noticed by every service, which follows the catch-up and is current again; its read models then show everything', async () => {
    for (const { api } of services) {
      const product = (await api.service.backplane.runner('product').checkpoint())!;
      expect(product.inline).toBe(true);
    }
    const linesBefore = services.map(({ lines }) => lines.length);
    // As `npm run cli -- rebuild product` does, in a process of its own.
    const cli = await openBackplane(services[0].api.config);
    try {
      await cli.runner('product').reset();
    } finally {
      await cli.close();
    }
    // Whichever service holds the projection replays it and hands it back to the appends; both say
    // they followed a catch-up to its end.
    await eventually(async () => {
      for (const [index, { lines }] of services.entries()) {
        expect(lines.slice(linesBefore[index]).some((line) => line.message === 'read models current')).toBe(true);
      }
    }, 60_000);
    for (const { api } of services) {
      await eventually(async () => expect((await fetch(new URL('/readyz', api.url))).status).toBe(200), 60_000);
      expect((await api.service.backplane.runner('product').checkpoint())!.inline).toBe(true);
      const { apiTokens } = await api.ok(api.rootToken, ops.apiTokens);
      expect(apiTokens.filter((token: { name: string }) => token.name.startsWith('token-'))).toHaveLength(40);
    }
  }, 120_000);
});
