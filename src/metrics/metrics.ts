import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobObserver, JobOutcome } from '../app/jobs';
import type { ProjectionRunner } from '../core/projection-runner';
import type { ProjectionStatus } from '../core/read-model-progress';
import type { EventStore } from '../eventstore/types';
import type { RequestObserver } from '../gitlab/requester';
import { endpointClass } from './gitlab-endpoint';

/** Seconds: from a fast read to a mutation that waits on a slow store. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: from a sync of an empty group to a plan run of many repositories. */
const TASK_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600];
/**
 * A projection's lag is counted by reading what it has not applied, up to this many events: a
 * reading stays cheap when a projection is far behind, which then reads as this many (one catching
 * up, a rebuild, is counted by the read models' progress instead, as /readyz shows it).
 */
export const LAG_COUNT_LIMIT = 100;
/** Lags are read at most this often, whoever scrapes and however often: scrapes in between get the last reading (ms). */
export const LAG_READ_EVERY_MS = 5000;
/**
 * Logins labelled at most: past it, the series of the login least recently used are removed (its
 * counts start again from zero if it comes back), so that logins gone for good free their place.
 */
export const MAX_LOGINS = 500;

/**
 * prom-client's process metrics (memory, CPU, event loop, GC), collected once per process: each
 * collection starts a GC observer and an event-loop monitor that are never stopped, and the
 * process is the same whatever the number of services in it.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export interface OperationLabels {
  operation: string;
  type: string;
  outcome: string;
  transport: 'http' | 'ws';
}

/**
 * This process's metrics, in a registry of its own (not prom-client's global one), so that
 * several services in one process count apart. Labels never carry tenant ids or names, nor any
 * id that grows without bound (task, event, plan): they are the operator's, whatever the tenant.
 */
export class Metrics {
  /** This service's own metrics; the exposition adds the process's. */
  readonly registry = new Registry();
  readonly #exposed: Registry;
  readonly #operations: Histogram<keyof OperationLabels>;
  readonly #appends: Histogram<'outcome'>;
  readonly #eventsAppended: Counter<'category'>;
  readonly #subscriptions: Gauge;
  readonly #subscriptionResults: Counter<'execution'>;
  readonly #connections: Gauge;
  readonly #gitlabRequests: Counter<'login' | 'endpoint' | 'status'>;
  readonly #gitlabThrottled: Counter<'login'>;
  readonly #tasks: Histogram<'kind' | 'outcome'>;
  readonly #tasksRunning: Gauge<'kind'>;
  /** Per login, until when GitLab's 429s asked it to rest: overlapping rests count once. */
  readonly #restUntil = new Map<string, number>();
  /** Logins labelled, least recently used first, each with the endpoint and status labels its requests had. */
  readonly #logins = new Map<string, Set<string>>();
  readonly #now: () => number;
  #projections: (() => { store: EventStore; runners: readonly ProjectionRunner[] }) | null = null;
  #progress: { statuses(): ProjectionStatus[] } | null = null;
  #lagsInFlight: Promise<Map<string, Lag> | null> | null = null;
  #lastLags: { at: number; lags: Map<string, Lag> | null } | null = null;

  constructor(options: { now?: () => number } = {}) {
    const now = options.now ?? Date.now;
    this.#now = now;
    const registers = [this.registry];
    this.#operations = new Histogram({
      name: 'backplane_graphql_operation_duration_seconds',
      help: 'GraphQL operations by root field (else introspection, multiple or other), type, outcome (ok or the error code) and transport; _count counts them',
      labelNames: ['operation', 'type', 'outcome', 'transport'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#appends = new Histogram({
      name: 'backplane_event_append_duration_seconds',
      help: 'Appends to the event store by outcome (ok, conflict, error); _count counts them',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#eventsAppended = new Counter({
      name: 'backplane_events_appended_total',
      help: 'Events appended, by stream category (the aggregate: plan, credential, ...)',
      labelNames: ['category'],
      registers,
    });
    this.#subscriptions = new Gauge({ name: 'backplane_graphql_subscriptions_open', help: 'GraphQL subscriptions open now', registers });
    this.#subscriptionResults = new Counter({
      name: 'backplane_graphql_subscription_results_total',
      help: 'Results handed to subscribers, by execution: executed for this subscriber, or shared (the same event, operation, variables and view as one executed for another)',
      labelNames: ['execution'],
      registers,
    });
    this.#connections = new Gauge({ name: 'backplane_websocket_connections_open', help: 'WebSocket connections open now', registers });
    this.#gitlabRequests = new Counter({
      name: 'backplane_gitlab_requests_total',
      help: 'HTTP requests to the GitLab API (each attempt) by credential login, endpoint class and status (or TIMEOUT, UNREACHABLE)',
      labelNames: ['login', 'endpoint', 'status'],
      registers,
    });
    this.#gitlabThrottled = new Counter({
      name: 'backplane_gitlab_throttled_seconds_total',
      help: "Time GitLab's rate limits (429) told each login to rest",
      labelNames: ['login'],
      registers,
    });
    this.#tasks = new Histogram({
      name: 'backplane_task_duration_seconds',
      help: 'Background tasks (plan_run, repository_sync, restore) ended in this process, by outcome; _count counts them',
      labelNames: ['kind', 'outcome'],
      buckets: TASK_BUCKETS,
      registers,
    });
    this.#tasksRunning = new Gauge({ name: 'backplane_tasks_running', help: 'Background tasks running in this process', labelNames: ['kind'], registers });
    // Both lag gauges are collected together at each scrape, from one look at each checkpoint.
    const lags = () => this.#lags();
    new Gauge({
      name: 'backplane_projection_lag_events',
      help: `Events in the log after a projection's checkpoint, counted up to ${LAG_COUNT_LIMIT}; for one catching up, the events it has yet to apply as /readyz counts them, up to the head it fell behind at (those appended since where /readyz counts none)`,
      labelNames: ['projection'],
      registers,
      async collect() {
        setLags(this, await lags(), 'events');
      },
    });
    new Gauge({
      name: 'backplane_projection_lag_seconds',
      help: 'How long the oldest event a projection has not applied has waited (0: caught up)',
      labelNames: ['projection'],
      registers,
      async collect() {
        setLags(this, await lags(), 'seconds');
      },
    });
    // Once a replay has applied the log up to where it fell behind, the lag reads 0 (or what was appended since) while the indexes it leaves for its end are built.
    new Gauge({
      name: 'backplane_projection_indexes_pending',
      help: 'Whether a projection has applied the log but its replay has still to build the indexes it leaves for the end (1), as /readyz says with indexesPending; 0 otherwise',
      labelNames: ['projection'],
      registers,
      async collect() {
        setLags(this, await lags(), 'indexesPending');
      },
    });
    this.#exposed = Registry.merge([processMetrics(), this.registry]);
  }

  get contentType(): string {
    return this.#exposed.contentType;
  }

  /** The exposition text, Prometheus' format: the process's metrics and this service's. */
  text(): Promise<string> {
    return this.#exposed.metrics();
  }

  operation(labels: OperationLabels, seconds: number): void {
    this.#operations.observe({ ...labels }, seconds);
  }

  append(stream: string, events: number, outcome: 'ok' | 'conflict' | 'error', seconds: number): void {
    this.#appends.observe({ outcome }, seconds);
    if (outcome === 'ok') this.#eventsAppended.inc({ category: streamCategory(stream) }, events);
  }

  /** The projections whose lag is reported, looked up at each scrape (runners may change). */
  watchProjections(source: () => { store: EventStore; runners: readonly ProjectionRunner[] }): void {
    this.#projections = source;
  }

  /** The read models' progress /readyz reports: what a projection catching up has left is taken from it, not read again. */
  watchReadModelProgress(progress: { statuses(): ProjectionStatus[] }): void {
    this.#progress = progress;
  }

  subscriptionOpened(): void {
    this.#subscriptions.inc();
  }

  subscriptionClosed(count = 1): void {
    this.#subscriptions.dec(count);
  }

  subscriptionResult(shared: boolean): void {
    this.#subscriptionResults.inc({ execution: shared ? 'shared' : 'executed' });
  }

  connectionOpened(): void {
    this.#connections.inc();
  }

  connectionClosed(): void {
    this.#connections.dec();
  }

  /** The observer of one login's requests to GitLab. */
  readonly gitlab = (login: string | null): RequestObserver => {
    // The label is looked up at each request: a session that outlives its login's place takes a new one.
    const request = (path: string, status: string) => {
      const endpoint = endpointClass(path);
      const who = this.#login(login);
      this.#logins.get(who)?.add(`${endpoint} ${status}`);
      this.#gitlabRequests.inc({ login: who, endpoint, status });
    };
    return {
      answered: ({ path, status }) => request(path, String(status)),
      unanswered: ({ path, failure }) => request(path, failure),
      throttled: (ms) => {
        const who = this.#login(login);
        const now = this.#now();
        const from = Math.max(now, this.#restUntil.get(who) ?? 0);
        const until = now + ms;
        if (until <= from) return;
        this.#restUntil.set(who, until);
        this.#gitlabThrottled.inc({ login: who }, (until - from) / 1000);
      },
    };
  };

  readonly jobs: JobObserver = {
    started: (kind) => this.#tasksRunning.inc({ kind }),
    ended: (kind, outcome: JobOutcome | 'error', seconds) => {
      this.#tasksRunning.dec({ kind });
      this.#tasks.observe({ kind, outcome }, seconds);
    },
  };

  /**
   * Each projection's lag. One reading serves the collections of one scrape (prom-client runs them
   * at once) and every scrape for LAG_READ_EVERY_MS: the listener without a token is anyone's to call.
   */
  #lags(): Promise<Map<string, Lag> | null> {
    const last = this.#lastLags;
    if (last !== null && this.#now() - last.at < LAG_READ_EVERY_MS) return Promise.resolve(last.lags);
    this.#lagsInFlight ??= this.#readLags()
      .then((lags) => {
        this.#lastLags = { at: this.#now(), lags };
        return lags;
      })
      .finally(() => {
        this.#lagsInFlight = null;
      });
    return this.#lagsInFlight;
  }

  async #readLags(): Promise<Map<string, Lag> | null> {
    const source = this.#projections?.();
    if (!source) return null;
    const head = await source.store.headPosition();
    const statuses = new Map((this.#progress?.statuses() ?? []).map((status) => [status.name, status]));
    const lags = new Map<string, Lag>();
    for (const runner of source.runners) {
      const status = statuses.get(runner.name);
      const lag = await projectionLag(source.store, runner, head, this.#now(), status && !status.current ? status.eventsBehind : null);
      // Whether the indexes are being built, as /readyz says it (not the checkpoint's note alone: the
      // head /readyz compares with is the one the read model fell behind at, and events appended
      // during the builds wait for their end).
      lags.set(runner.name, { ...lag, indexesPending: status?.indexesPending ? 1 : 0 });
    }
    return lags;
  }

  #login(login: string | null): string {
    if (login === null || login === '') return 'unknown';
    const labels = this.#logins.get(login) ?? new Set<string>();
    // Taken out and put back: a Map keeps insertion order, so the first key is the least recently used.
    this.#logins.delete(login);
    this.#logins.set(login, labels);
    if (this.#logins.size > MAX_LOGINS) {
      const [[oldest, used]] = this.#logins;
      this.#logins.delete(oldest);
      this.#restUntil.delete(oldest);
      this.#gitlabThrottled.remove({ login: oldest });
      for (const pair of used) {
        const [endpoint, status] = pair.split(' ');
        this.#gitlabRequests.remove({ login: oldest, endpoint, status });
      }
    }
    return login;
  }
}

/** The aggregate a stream belongs to: `<aggregate>-<id>` gives the aggregate, a bounded set. */
export function streamCategory(stream: string): string {
  const category = stream.split('-', 1)[0];
  return /^[a-z][a-z_]{0,31}$/i.test(category) ? category : 'other';
}

interface Lag {
  events: number;
  seconds: number;
  /** 1 while a replay has applied the log up to where it fell behind and builds the indexes it leaves for its end. */
  indexesPending: number;
}

function setLags(gauge: Gauge<'projection'>, lags: Map<string, Lag> | null, unit: keyof Lag): void {
  if (lags === null) return;
  gauge.reset();
  for (const [projection, lag] of lags) gauge.set({ projection }, lag[unit]);
}

/**
 * Events after the checkpoint (up to LAG_COUNT_LIMIT, or `counted` when the read models' progress
 * has counted some: only the first is read then), and the age of the first of them. The progress
 * counts up to the head the read model fell behind at: where it counts none (its indexes being
 * built), those appended since are read and counted here.
 */
async function projectionLag(
  store: EventStore,
  runner: ProjectionRunner,
  head: string | null,
  now: number,
  counted: number | null,
): Promise<Omit<Lag, 'indexesPending'>> {
  if (head === null) return { events: 0, seconds: 0 };
  const checkpoint = await runner.checkpoint();
  // Kept inline by the appends: it holds every committed event.
  if (runner.includesAll(checkpoint)) return { events: 0, seconds: 0 };
  const reached = checkpoint?.position ?? null;
  if (reached !== null && store.comparePositions(reached, head) >= 0) return { events: 0, seconds: 0 };
  const counting = counted === null || counted === 0;
  const behind = await store.readAll({ fromPosition: reached ?? 'start', maxCount: counting ? LAG_COUNT_LIMIT : 1 });
  if (behind.length === 0) return { events: 0, seconds: 0 };
  return { events: counting ? behind.length : counted, seconds: Math.max(0, (now - behind[0].recordedAt.getTime()) / 1000) };
}
