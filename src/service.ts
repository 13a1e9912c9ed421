import { openBackplane, type Backplane } from './backplane';
import { backupPlaces } from './backup-places';
import { storageSettings } from './app/backup/storages';
import { checkGit } from './git';
import { ApiTokenDigests, newApiToken } from './auth/api-tokens';
import { OAuthAuthorizations } from './auth/oauth-authorizations';
import { openAuditDigests } from './app/audit-digests';
import { startAuditDigestScheduler } from './app/audit-digests-schedule';
import { startCredentialExpiryCheck } from './app/credential-expiry';
import { DELIVERY_DEFAULTS, type DeliveriesSettings, startAuditDeliveries } from './app/audit-delivery/deliveries';
import { DeliveryStates } from './app/audit-delivery/delivery-state';
import { NOTIFICATION_DEFAULTS, type NotificationsSettings, startNotifications } from './app/notifications/notifications';
import { NotificationStates } from './app/notifications/notification-state';
import { notificationSenders } from './app/notifications/senders';
import type { AppDeps, WorkSettings } from './app/deps';
import { Jobs } from './app/jobs';
import { TaskHeartbeats } from './app/task-heartbeats';
import { startSyncScheduler } from './app/sync-scheduler';
import { startPlanScheduler } from './app/plan-scheduler';
import { startStaleWorkCheck, type StaleWorkTimes } from './app/stale-work';
import type { GitLabSettings } from './gitlab/port';
import { backupGitLabPort } from './gitlab-session';
import { TenantLock } from './app/tenant-lock';
import { bootstrapTenant } from './app/tenants';
import type { Config } from './config';
import { silentLogger, type Logger } from './core/logger';
import { reportWhileWaiting, STOP_REPORT_MS } from './core/waiting-report';
import { ReadModelProgress } from './core/read-model-progress';
import { logReadable } from './core/readable';
import { ProjectionTimeoutError } from './core/errors';
import type { ProjectionRunner, WaitTarget } from './core/projection-runner';
import { backplaneSchema } from './graphql/schema';
import { loadMasterKey } from './secrets/master-key';
import { SecretVault } from './secrets/vault';
import { startServer, type RunningServer } from './server/http-server';
import { Metrics } from './metrics/metrics';
import { startMetricsListener, type MetricsListener } from './server/metrics-route';

/**
 * How far behind the log's head a read model may be and still serve (ms); also how long start-up
 * gives one to get there before taking it to be catching up.
 */
const READY_LAG_MS = 2000;
/** How long a query of the audit history waits for it to reach the log's end before answering what it holds (ms). */
const HISTORY_WAIT_MS = 5000;

export interface Service {
  backplane: Backplane;
  app: AppDeps;
  server: RunningServer;
  /** Set when this start created tenant "default" with a generated root token: to be shown once, here. */
  generatedRootToken: string | null;
  /** Whether this start created tenant "default". */
  bootstrapped: boolean;
  /** This process's metrics, and the port of their own listener (BACKPLANE_METRICS_PORT) when there is one. */
  metrics: Metrics;
  metricsListener: MetricsListener | null;
  close(): Promise<void>;
}

export interface ServiceOptions {
  logger?: Logger;
  host?: string;
  /** How long a mutation waits for the read models to show it (ms). */
  settleTimeoutMs?: number;
  gitlab?: Partial<GitLabSettings & { gitTimeoutMs: number }>;
  work?: Partial<WorkSettings>;
  /** What the sync and plan schedules and the credential expiry check take to be now. */
  scheduleClock?: () => Date;
  /** How often work whose process is gone is looked for, and leftovers swept. */
  staleWork?: Partial<StaleWorkTimes>;
  /** Deliveries to SIEM destinations: request deadline, retry waits, how often destinations are looked for. */
  auditDelivery?: Partial<DeliveriesSettings>;
  /** Notifications: attempt deadline, retry waits, how often channels are looked for. */
  notifications?: Partial<NotificationsSettings>;
}

/** Stale work looked for every five minutes; leftovers swept at start and daily, once a day old. */
const STALE_WORK: StaleWorkTimes = { everyMs: 5 * 60_000, sweepEveryMs: 24 * 60 * 60_000, leftoversAfterMs: 24 * 60 * 60_000 };

/** Everything `npm start` runs: the store, the read models kept up to date, and the API. */
export async function startService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? silentLogger;
  // Backups run the git client: without it, say so now rather than at the first plan run.
  await checkGit();
  const metrics = new Metrics();
  const backplane = await openBackplane(config, { logger, metrics });
  let server: RunningServer | undefined;
  const progress = new ReadModelProgress(backplane.store, backplane.runners, { logger, graceMs: READY_LAG_MS });
  metrics.watchReadModelProgress(progress);
  let metricsListener: MetricsListener | null = null;
  try {
    const { key } = await loadMasterKey({ fromEnv: config.masterKey, dataDir: config.dataDir });
    const vault = await SecretVault.open(backplane.db, key);
    const tokens = await ApiTokenDigests.open(backplane.db);
    const heartbeats = await TaskHeartbeats.open(backplane.db);
    const authorizations = await OAuthAuthorizations.open(backplane.db);
    const deliveryStates = await DeliveryStates.open(backplane.db);
    const notificationStates = await NotificationStates.open(backplane.db);
    const auditDigests = await openAuditDigests(backplane.db, {
      pem: config.auditSigningKey,
      dataDir: config.dataDir,
      dir: config.auditDigestDir ?? null,
      intervalMinutes: config.auditDigestMinutes,
      clock: options.scheduleClock ?? (() => new Date()),
    });
    const settleTimeoutMs = options.settleTimeoutMs ?? 30_000;
    const waitFor = (runners: ProjectionRunner[], position: WaitTarget) =>
      Promise.all(runners.map((runner) => runner.waitForPosition(position, settleTimeoutMs))).then(() => undefined);
    // What answers show: kept inline on PostgreSQL and PGlite, where the wait is one read of a checkpoint.
    const settle = async (position: WaitTarget, streams?: string[], inlineReadModel?: string) => {
      await waitFor(
        backplane.runners.filter(
          (runner) => !runner.history && runner.name !== inlineReadModel && (streams === undefined || streams.some((stream) => runner.reads(stream))),
        ),
        position,
      );
      // A change's events readable in the log too, as the answer promises (a runner's wait gave that
      // before the read models were kept inline): on a SQL store, once older transactions have ended.
      if (position !== 'head' && position !== 'last-committed' && backplane.store.lastCommittedPosition) {
        await logReadable(backplane.store, position, settleTimeoutMs);
      }
    };
    // The audit history, before a query of it: up to the log's end as it stands, unless it is catching
    // up (a rebuild), when the query answers what it holds; after a while, it answers what it holds too.
    const settleHistory = async () => {
      const behind = new Set(
        progress
          .statuses()
          .filter((status) => !status.current)
          .map((status) => status.name),
      );
      const histories = backplane.runners.filter((runner) => runner.history && !behind.has(runner.name));
      await Promise.all(
        histories.map((runner) =>
          runner.waitForPosition('last-committed', HISTORY_WAIT_MS).catch((error: unknown) => {
            if (!(error instanceof ProjectionTimeoutError)) throw error;
          }),
        ),
      );
    };
    const jobs = new Jobs(logger, metrics.jobs);
    const app: AppDeps = {
      store: backplane.store,
      commands: backplane.commands,
      db: backplane.db,
      vault,
      tokens,
      settle,
      settleHistory,
      settleAll: (position) => waitFor(backplane.runners, position),
      catchingUp: () => progress.catchingUp(),
      tenantLock: new TenantLock(backplane.db),
      gitlab: backupGitLabPort({
        timeoutMs: config.gitlabTimeoutMs,
        maxRetryMs: config.gitlabMaxRetryMs,
        checkMaxRetryMs: Math.min(config.gitlabMaxRetryMs, 10_000),
        gitTimeoutMs: config.gitTimeoutMs,
        observe: metrics.gitlab,
        ...options.gitlab,
      }),
      backup: backupPlaces(config.dataDir, key, (tenantId, storageId) => storageSettings({ db: backplane.db, vault }, tenantId, storageId)),
      jobs,
      heartbeats,
      work: { syncStaleAfterMs: 60 * 60_000, runConcurrency: config.runConcurrency, runFlushMs: 200, taskStaleAfterMs: 30 * 60_000, ...options.work },
      sso: { application: config.gitlabOAuth ?? null, publicUrl: config.publicUrl ?? `http://localhost:${config.port}` },
      authorizations,
      auditDigests,
    };

    // Built before the runners start: a catch-up on the embedded store shares this thread with it.
    const schema = await backplaneSchema();
    for (const runner of backplane.runners) runner.start();
    await Promise.all(backplane.runners.map((runner) => runner.waitForReadModel()));
    // Read models far behind (a long history new to them, a rebuild) catch up while the API serves.
    await progress.start();
    // A log with no tenant is new, or nearly: its read models are current in a moment, and the tenant's creation reads them.
    const [tenantCreated] = await backplane.store.readAll({ filter: { eventTypes: ['TenantCreated'] }, maxCount: 1 });
    if (!tenantCreated) await progress.whenCurrent;
    const bootstrap = tenantCreated ? null : await bootstrapTenant(app, config.bootstrapToken ?? newApiToken());

    server = await startServer({
      schema,
      app,
      logger,
      port: config.port,
      host: options.host,
      webSocket: config.webSocket,
      metrics,
      // Ready when the stores answer and every read model reaches the head of the log within a
      // moment: a read model that lags a little under load is ready; one catching up, or stuck, is not.
      ready: async () => {
        await backplane.db.query('SELECT 1');
        const head = await backplane.store.headPosition();
        const projections = progress.statuses();
        const behind = projections.filter((projection) => !projection.current).map((projection) => projection.name);
        if (head !== null && behind.length === 0) {
          await Promise.all(backplane.runners.map((runner) => runner.waitForPosition(head, READY_LAG_MS).catch(() => behind.push(runner.name))));
        }
        return { ready: behind.length === 0, detail: { head, behind, projections } };
      },
    });
    const running = server;
    if (config.metricsPort !== undefined) metricsListener = await startMetricsListener(metrics, logger, config.metricsPort, config.metricsHost);
    const listener = metricsListener;
    // Unset, the public address is the server's own, known once it listens (PORT=0 picks one).
    if (config.publicUrl === undefined) app.sso.publicUrl = new URL(running.url).origin;
    // Work in the background decides what is due from the read models: it starts once they are current.
    const startBackground = () => {
      const scheduler = startSyncScheduler(app, logger, config.syncCheckIntervalMs, options.scheduleClock);
      const planScheduler = startPlanScheduler(app, logger, config.syncCheckIntervalMs, options.scheduleClock);
      const digestScheduler = startAuditDigestScheduler(app, logger, config.syncCheckIntervalMs);
      const expiryCheck = startCredentialExpiryCheck(app, logger, config.syncCheckIntervalMs, options.scheduleClock);
      const staleWork = startStaleWorkCheck(app, logger, { ...STALE_WORK, ...options.staleWork });
      const deliveries = startAuditDeliveries({ ...app, states: deliveryStates }, logger, { ...DELIVERY_DEFAULTS, ...options.auditDelivery });
      const notifying: NotificationsSettings = {
        ...NOTIFICATION_DEFAULTS,
        throttledLongerThanMs: config.notifyThrottledMinutes * 60_000,
        ...options.notifications,
      };
      const notifications = startNotifications(
        { store: backplane.store, db: backplane.db, states: notificationStates, senders: notificationSenders(config.smtp ?? null, vault, notifying.timeoutMs) },
        logger,
        notifying,
      );
      return [scheduler, planScheduler, digestScheduler, expiryCheck, staleWork, deliveries, notifications];
    };
    let background: { stop(): Promise<unknown> }[] = [];
    let closing = false;
    if (progress.allCurrent) background = startBackground();
    else void progress.whenCurrent.then(() => (background = closing ? [] : startBackground()));
    return {
      backplane,
      app,
      server: running,
      generatedRootToken: bootstrap !== null && config.bootstrapToken === undefined ? bootstrap.token : null,
      bootstrapped: bootstrap !== null,
      metrics,
      metricsListener: listener,
      async close() {
        // Checks under way end before the database closes under them.
        closing = true;
        progress.stop();
        await stopStage(logger, 'the schedulers and background loops', () => Promise.all(background.map((work) => work.stop())));
        await stopStage(logger, 'the API server', () => running.close());
        await stopStage(logger, 'the metrics listener', async () => listener?.close());
        await jobs.close();
        await stopStage(logger, 'the read models and the store', () => backplane.close());
      },
    };
  } catch (error) {
    progress.stop();
    await server?.close();
    await metricsListener?.close();
    await backplane.close();
    throw error;
  }
}

/** Runs a stage of a stop; one that takes long is named in the log while it runs. */
function stopStage(logger: Logger, name: string, stage: () => Promise<unknown>): Promise<unknown> {
  return reportWhileWaiting(logger, 'stopping: waiting for a stage of the stop', () => ({ stage: name }), STOP_REPORT_MS, stage);
}
