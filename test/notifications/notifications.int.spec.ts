import { randomBytes, randomUUID } from 'node:crypto';
import type { CommandHandler } from '../../src/core/command-handler';
import { repositoryList, repositoryListStream } from '../../src/domain/repository';
import { task, type TaskCommand } from '../../src/domain/task';
import { SYSTEM_ACTOR } from '../../src/app/principal';
import { apiStores, startTestApi, testStorage, type StoreName, type TestApi, type TestStorage } from '../support/api-server';
import { eventually } from '../support/eventually';
import { GitLabDouble } from '../support/gitlab-double';
import { ops } from '../support/scenario';
import { startHookReceiver, startSmtpReceiver } from './receivers';

const FAST = { minBackoffMs: 20, maxBackoffMs: 200, scanEveryMs: 50, timeoutMs: 5000 };
const add = `mutation($input: AddNotificationChannelInput!) { addNotificationChannel(input: $input) {
  id name url email kinds addedPosition addedBy { name role } } }`;
const list = `query { notificationChannels { id name url email kinds
  delivery { sent pending lastSentAt failingSince lastError attempts } } }`;
const remove = 'mutation($id: ID!) { removeNotificationChannel(id: $id) }';

/** A backup task recorded as failed, through the task's own decider, as a plan run records one. */
async function recordFailedTask(commands: CommandHandler, tenantId: string, reason: string): Promise<string> {
  const taskId = randomUUID();
  const ref = { taskId, planId: randomUUID(), organizationId: randomUUID() };
  const context = { tenantId, actor: SYSTEM_ACTOR };
  const now = new Date().toISOString();
  const start: TaskCommand = { type: 'StartBackupTask', data: { ...ref, repositoriesTotal: 2, now, known: { planActive: true } } };
  await commands.handle(task, `task-${taskId}`, start, context);
  const finish: TaskCommand = {
    type: 'FinishBackupTask',
    data: { repositoriesDone: 0, repositoriesFailed: 2, durationMs: 5, credentialsUsed: [], throttledPeriods: [], now, reason },
  };
  await commands.handle(task, `task-${taskId}`, finish, context);
  return taskId;
}

/** A repository-list sync recorded as failed, through the organization's repository decider. */
async function recordFailedSync(commands: CommandHandler, tenantId: string, organizationId: string, reason: string): Promise<void> {
  const syncId = randomUUID();
  const context = { tenantId, actor: SYSTEM_ACTOR };
  const stream = repositoryListStream(organizationId);
  const now = new Date().toISOString();
  await commands.handle(
    repositoryList,
    stream,
    { type: 'StartRepositorySync', data: { organizationId, syncId, trigger: 'MANUAL', now, staleAfterMs: 60_000 } },
    context,
  );
  await commands.handle(repositoryList, stream, { type: 'FailRepositorySync', data: { organizationId, syncId, reason } }, context);
}

const channelEvents = async (api: TestApi) =>
  (await api.service.backplane.store.readAll()).filter((event) => event.type.startsWith('NotificationChannel')).length;

describe.each(apiStores)('notifications of what needs a person, on %s', (store: StoreName) => {
  const smtpUser = 'backplane-mailer';
  const smtpPassword = `smtp-${randomBytes(18).toString('base64url')}`;
  let storage: TestStorage;
  let gitlab: GitLabDouble;
  let smtp: Awaited<ReturnType<typeof startSmtpReceiver>>;
  let api: TestApi | undefined;
  let tenantId: string;
  const start = () =>
    startTestApi(storage, {
      gitlab,
      rootToken: api?.rootToken,
      service: { notifications: FAST },
      env: { BACKPLANE_SMTP_HOST: '127.0.0.1', BACKPLANE_SMTP_PORT: String(smtp.port), BACKPLANE_SMTP_USER: smtpUser, BACKPLANE_SMTP_PASSWORD: smtpPassword },
    });

  beforeAll(async () => {
    storage = await testStorage(store);
    gitlab = await GitLabDouble.start();
    smtp = await startSmtpReceiver(smtpUser, smtpPassword);
    api = await start();
    tenantId = (await api.ok(api.rootToken, ops.me)).me.tenant.id;
  });
  afterAll(async () => {
    await api?.close();
    await smtp?.close();
    await gitlab?.close();
    await storage?.dispose();
  });

  it.each([
    ['url', { url: 'http://hooks.example.test/in' }],
    ['url', { url: 'https://user:pw@hooks.example.test/in' }],
    ['url', { url: 'https://hooks.example.test/in', email: 'ops@example.test' }],
    ['url', {}],
    ['email', { email: 'ops@example.test, boss@example.test' }],
    ['kinds', { url: 'https://hooks.example.test/in', kinds: [] }],
    ['kinds', { url: 'https://hooks.example.test/in', kinds: ['EVERYTHING'] }],
    ['name', { url: 'https://hooks.example.test/in', name: ' ' }],
  ])('refuses a bad %s with BAD_USER_INPUT naming it, and writes nothing (%j)', async (field, overrides) => {
    const before = await channelEvents(api!);
    const response = await api!.request(api!.rootToken, add, { input: { name: 'refused', kinds: ['TASK_FAILED'], ...overrides } });
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toContain(field);
    expect(await channelEvents(api!)).toBe(before);
  });

  it('mails and posts a failed task once each, retrying a webhook that refuses at first, and resumes after a restart', async () => {
    // The first two attempts are refused: the notice is retried until taken, then never sent again.
    let refuse = 2;
    const hooks = await startHookReceiver(() => (refuse-- > 0 ? 500 : 200));
    try {
      const { addNotificationChannel: mail } = await api!.ok(api!.rootToken, add, {
        input: { name: 'ops mail', email: 'ops@example.test', kinds: ['TASK_FAILED'] },
      });
      // As Slack's do, the URL carries the credential in its path: it is kept in the vault, shown masked.
      const hookToken = randomBytes(18).toString('base64url');
      const { addNotificationChannel: hook } = await api!.ok(api!.rootToken, add, {
        input: { name: 'ops hook', url: hooks.url(`/services/T0/B0/${hookToken}`), kinds: ['SYNC_FAILED', 'TASK_FAILED'] },
      });
      expect(mail).toMatchObject({ email: 'ops@example.test', url: null, kinds: ['TASK_FAILED'], addedBy: { role: 'ADMIN' } });
      expect(hook).toMatchObject({ url: hooks.url('/***/***/***/***'), email: null, kinds: ['TASK_FAILED', 'SYNC_FAILED'] });
      // Neither the log nor the read model holds the whole URL.
      const recorded = async () =>
        JSON.stringify([
          (await api!.service.backplane.store.readAll()).map(({ data, metadata }) => ({ data, metadata })),
          await api!.service.app.db.query('SELECT * FROM notification_channels'),
        ]);
      expect(await recorded()).not.toContain(hookToken);

      const taskId = await recordFailedTask(api!.service.app.commands, tenantId, 'GitLab answered 503 for every project');
      await eventually(() => expect(smtp.mails.length).toBe(1), 30_000);
      await eventually(() => expect(hooks.accepted.length).toBe(1), 30_000);
      const [received] = smtp.mails;
      expect(received.to).toEqual(['ops@example.test']);
      expect(received.raw).toMatch(/^Subject: \[Backplane\] TASK_FAILED: /m);
      expect(received.text).toContain(`Backup task ${taskId} of plan`);
      expect(received.text).toContain('failed: GitLab answered 503 for every project');
      expect(received.text).toContain('kind: TASK_FAILED');
      expect(hooks.received.length).toBe(3);
      const [posted] = hooks.accepted;
      expect(posted.kind).toBe('TASK_FAILED');
      expect(posted.body).toMatchObject({ kind: 'TASK_FAILED', eventType: 'BackupTaskFailed', tenantId, fields: { taskId, repositoriesFailed: 2 } });
      expect(posted.body.text).toContain(taskId);
      expect(hooks.received.every((h) => h.eventId === posted.eventId)).toBe(true);
      expect(hooks.received.every((h) => h.path === `/services/T0/B0/${hookToken}`)).toBe(true);

      const channels = await eventually(async () => {
        const { notificationChannels } = await api!.ok(api!.rootToken, list);
        expect(notificationChannels.find((c: { id: string }) => c.id === hook.id).delivery).toMatchObject({ sent: 1, pending: 0, failingSince: null });
        return notificationChannels;
      });
      expect(channels.find((c: { id: string }) => c.id === mail.id).delivery).toMatchObject({ sent: 1, pending: 0, attempts: 0, lastError: null });

      // Refused while Backplane stops: the notice waits in its table, and the next start sends it.
      refuse = 1_000_000;
      const second = await recordFailedTask(api!.service.app.commands, tenantId, 'the storage refused a write');
      await eventually(async () => {
        const { notificationChannels } = await api!.ok(api!.rootToken, list);
        const state = notificationChannels.find((c: { id: string }) => c.id === hook.id).delivery;
        expect(state).toMatchObject({ pending: 1, lastError: 'answered 500' });
        expect(state.failingSince).not.toBeNull();
      });
      await eventually(() => expect(smtp.mails.length).toBe(2), 30_000);
      await api!.close();
      api = await start();
      refuse = 0;
      await eventually(() => expect(hooks.accepted.length).toBe(2), 30_000);
      expect(hooks.accepted[1].body.fields.taskId).toBe(second);
      // Once each, after deduplication by event id; the mail channel was not told again on restart.
      expect(new Set(hooks.accepted.map((h) => h.eventId)).size).toBe(2);
      expect(smtp.mails.length).toBe(2);
      // No message carries a secret: the SMTP password went to the server's login only.
      expect(smtp.logins.every((login) => login === smtpUser)).toBe(true);
      for (const message of [...smtp.mails.map((m) => m.raw), ...hooks.received.map((h) => JSON.stringify(h.body))])
        expect(message).not.toContain(smtpPassword);

      await api.ok(api.rootToken, remove, { id: mail.id });
      await api.ok(api.rootToken, remove, { id: hook.id });
      const { notificationChannels } = await api.ok(api.rootToken, list);
      expect(notificationChannels.map((c: { id: string }) => c.id)).not.toContain(hook.id);
      expect(JSON.stringify(notificationChannels)).not.toContain(hookToken);
      expect(await recorded()).not.toContain(hookToken);
      const history = (await api.service.backplane.store.readAll()).filter((e) => e.type === 'NotificationChannelRemoved');
      expect(history.map((e) => (e.metadata.actor as { role: string }).role)).toEqual(['ADMIN', 'ADMIN']);
      // The encrypted URL went with the channel; an e-mail channel had none.
      const urlSecretIds = history.map((e) => (e.data as { urlSecretId: string | null }).urlSecretId);
      expect(urlSecretIds[0]).toBeNull();
      expect(await api.service.app.db.query('SELECT 1 FROM password_secrets WHERE secret_id = $1', [urlSecretIds[1]])).toEqual([]);
    } finally {
      await hooks.close();
    }
  });

  it('mails again a notice the SMTP server refused, until it takes it, once', async () => {
    const { addNotificationChannel: mail } = await api!.ok(api!.rootToken, add, {
      input: { name: 'busy mail', email: 'busy@example.test', kinds: ['SYNC_FAILED'] },
    });
    smtp.control.refusing = 3;
    const organizationId = randomUUID();
    await recordFailedSync(api!.service.app.commands, tenantId, organizationId, 'GitLab answered 502');
    const failing = await eventually(async () => {
      const { notificationChannels } = await api!.ok(api!.rootToken, list);
      const state = notificationChannels.find((c: { id: string }) => c.id === mail.id).delivery;
      expect(state.attempts).toBeGreaterThan(0);
      return state;
    });
    // How it failed, in a few words: never what the server said.
    expect(failing.lastError).toMatch(/^SMTP failure/);
    expect(failing.lastError).not.toContain('secret-server-detail');
    const delivered = () => smtp.mails.filter((m) => m.to.includes('busy@example.test'));
    await eventually(() => expect(delivered()).toHaveLength(1), 30_000);
    expect(smtp.refused.filter((m) => m.to.includes('busy@example.test'))).toHaveLength(3);
    expect(delivered()[0].text).toContain(`The repository list of organization ${organizationId} did not sync: GitLab answered 502`);
    await eventually(async () => {
      const { notificationChannels } = await api!.ok(api!.rootToken, list);
      expect(notificationChannels.find((c: { id: string }) => c.id === mail.id).delivery).toMatchObject({ sent: 1, pending: 0, attempts: 0, lastError: null });
    });
    await api!.ok(api!.rootToken, remove, { id: mail.id });
  });

  it('sends nothing a channel did not ask for, nor what another tenant recorded', async () => {
    const hooks = await startHookReceiver();
    try {
      const { addNotificationChannel: hook } = await api!.ok(api!.rootToken, add, { input: { name: 'sync only', url: hooks.url(), kinds: ['SYNC_FAILED'] } });
      await recordFailedTask(api!.service.app.commands, tenantId, 'not for this channel');
      await recordFailedTask(api!.service.app.commands, randomUUID(), 'another tenant');
      // A marker the channel does want, recorded after: once it arrives, nothing before it was sent.
      const organizationId = randomUUID();
      await recordFailedSync(api!.service.app.commands, tenantId, organizationId, 'GitLab is down');
      await eventually(() => expect(hooks.accepted.length).toBe(1), 30_000);
      expect(hooks.accepted[0].body).toMatchObject({ kind: 'SYNC_FAILED', fields: { organizationId, reason: 'GitLab is down' } });
      await api!.ok(api!.rootToken, remove, { id: hook.id });
    } finally {
      await hooks.close();
    }
  });
});

// Two processes on one PostgreSQL database, as a deployment scales out; PGlite serves one process only.
const describeOnPostgres = apiStores.includes('postgres') ? describe : describe.skip;

describeOnPostgres('notifications served by two processes on one database', () => {
  let storage: TestStorage;
  let gitlab: GitLabDouble;
  let a: TestApi | undefined;
  let b: TestApi | undefined;

  beforeAll(async () => {
    storage = await testStorage('postgres');
    gitlab = await GitLabDouble.start();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await gitlab?.close();
    await storage?.dispose();
  });

  it('sends each notice once, not once per process', async () => {
    const hooks = await startHookReceiver();
    try {
      a = await startTestApi(storage, { gitlab, service: { notifications: FAST } });
      b = await startTestApi(storage, { gitlab, rootToken: a.rootToken, service: { notifications: FAST } });
      const tenantId = (await a.ok(a.rootToken, ops.me)).me.tenant.id;
      await a.ok(a.rootToken, add, { input: { name: 'both', url: hooks.url(), kinds: ['TASK_FAILED'] } });
      const tasks: string[] = [];
      for (let i = 0; i < 6; i++) tasks.push(await recordFailedTask((i % 2 === 0 ? a : b).service.app.commands, tenantId, `failure ${i}`));
      await eventually(() => expect(hooks.accepted.map((h) => h.body.fields.taskId)).toEqual(tasks), 30_000);
      // The other process would have sent each a second time; give it the time to.
      await recordFailedTask(b.service.app.commands, tenantId, 'last');
      await eventually(() => expect(hooks.accepted.length).toBe(7), 30_000);
      expect(hooks.received.length).toBe(7);
    } finally {
      await hooks.close();
    }
  });
});
