/**
 * `npm run bench:scale`: the audit history at a million events. In a PostgreSQL database of its own
 * (backplane_scale on the server of BACKPLANE_BENCH_DATABASE_URL, dropped at the end), it writes
 * BENCH_SCALE_EVENTS events (1,000,000) of a year of 20 tenants through the event store's own
 * append (so the hash chains are real): organizations, a few hundred credentials and plans each,
 * credential toggles, repository syncs and plan runs. Then, in the same run:
 * - a rebuild of every read model from the whole log (events/s; this is also what projects them);
 * - `auditLog` through the query layer its resolver calls (auditPage): the first page and a page
 *   deep in the history, unfiltered and with each filter, against a floor taking turns with it: a
 *   raw SELECT of the same rows by their unique index, with their events' data;
 * - `planCredentialsAsOf` (the query layer) at random instants, against the same kind of floor;
 * - `verifyAuditLog` for one tenant (the use case the resolver calls), in rounds taking turns with
 *   two floors (the tenant's events read raw by the log's tenant index, every column parsed; the
 *   rows it reads, not hashed):
 *   events/s, this process's processor time per event, resident memory growth and the longest the
 *   event loop was held while it ran;
 * - the database's size, per million events.
 *
 * BENCH_SCALE_KEEP=1 keeps the database; BENCH_SCALE_REUSE=1 then measures it again without
 * writing it anew. BENCH_SCALE_ONLY=rebuild,audit,asof,verify,size picks measures.
 * BENCH_SCALE_DATABASE names the database (backplane_scale); BENCH_SCALE_VERIFY_ROUNDS the rounds of
 * verifyAuditLog (5); BENCH_SCALE_REBUILD=audit-log the read models rebuilt (all).
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client } from 'pg';
import { projections } from '../projections';
import { verifyAuditLog } from '../src/app/audit';
import type { AppDeps } from '../src/app/deps';
import { migrateDigests } from '../src/audit/digest-table';
import { ProjectionRunner } from '../src/core/projection-runner';
import { rebuildProjection } from '../src/core/rebuild';
import { SqlEventStore } from '../src/eventstore/postgres/sql-event-store';
import { chainHash, contentHash, GENESIS_HASH } from '../src/eventstore/hash-chain';
import type { JsonObject } from '../src/eventstore/types';
import { type AuditQuery, auditPage } from '../src/queries/audit';
import { tenantEventsPage } from '../src/queries/audit-verify';
import { planById, planCredentialsAsOf } from '../src/queries/plans';
import { PgDatabase } from '../src/sql/pg-database';
import { seeded } from '../test/support/bad-inputs';
import { median, percentile } from './client';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
/** BENCH_SCALE_DATABASE names another, so that two measures can run side by side. */
const DATABASE = process.env.BENCH_SCALE_DATABASE ?? 'backplane_scale';
if (!/^[a-z_][a-z0-9_]*$/.test(DATABASE)) throw new Error('BENCH_SCALE_DATABASE must be a plain lower-case identifier');
const TENANTS = 20;
const ORGANIZATIONS = 5;
const CREDENTIALS = 200;
const PLANS = 300;
const ACTORS = 4;
/** A credential may be on at most this many plans (the domain's rule). */
const PLANS_PER_CREDENTIAL = 10;
const YEAR_MS = 365 * 24 * 3600 * 1000;
const PAGE = 100;
const ROUNDS = 200;
const TARGET_MS = 20;

interface TenantSeed {
  id: string;
  organizations: string[];
  credentials: string[];
  plans: string[];
  /** People and tokens that toggle; runs and syncs are Backplane's own. */
  actors: string[];
}

interface Manifest {
  events: number;
  start: string;
  tenants: TenantSeed[];
}

const SYSTEM = { kind: 'system', id: 'backplane', name: 'Backplane' };

/** An event of the seed, with the stream it goes to. */
interface SeedEvent {
  stream: string;
  type: string;
  data: JsonObject;
  metadata: JsonObject;
}

type Written = Omit<SeedEvent, 'stream'>;

/** One tenant's year in time order: set-up, then toggles, syncs and plan runs, as the domain would write them. */
function* tenantYear(tenant: TenantSeed, index: number, budget: number, start: number): Generator<SeedEvent> {
  const next = seeded(index + 1);
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)];
  const actors = tenant.actors.map((id, n) => ({ kind: 'api-token', id, name: `operator-${n}`, role: n === 0 ? 'OWNER' : 'ADMIN' }));
  const organizationOf = new Map<string, string>();
  for (const [n, id] of [...tenant.credentials, ...tenant.plans].entries()) organizationOf.set(id, tenant.organizations[n % ORGANIZATIONS]);
  const repositories = new Map(
    tenant.organizations.map((id) => [id, Array.from({ length: 40 }, (_, n) => ({ id: randomUUID(), gitlabId: index * 10_000 + n }))]),
  );
  let clock = start;
  let mine = 0;
  const setupEvents = 1 + ORGANIZATIONS + CREDENTIALS * 2 + PLANS * 2;
  // About 6 events per activity: the clock spreads them over the year.
  const step = YEAR_MS / Math.max((budget - setupEvents) / 6, 1);
  const meta = (actor: JsonObject, at: number): JsonObject => {
    const correlationId = randomUUID();
    return { tenantId: tenant.id, actor, correlationId, causationId: correlationId, occurredAt: new Date(at).toISOString() };
  };
  function* append(stream: string, events: Written[]): Generator<SeedEvent> {
    for (const event of events) yield { stream, ...event };
    mine += events.length;
  }
  const admin = actors[0];

  yield* append(`tenant-${tenant.id}`, [
    { type: 'TenantCreated', data: { tenantId: tenant.id, name: `tenant-${index}`, root: index === 0 }, metadata: meta(admin, clock) },
  ]);
  for (const [n, organizationId] of tenant.organizations.entries()) {
    clock += 60_000;
    yield* append(`organization-${organizationId}`, [
      {
        type: 'OrganizationAdded',
        data: {
          organizationId,
          provider: 'GITLAB',
          name: `group-${index}-${n}`,
          gitlabUrl: 'https://gitlab.example.com',
          authMethod: 'TOKEN',
          login: `backup-${index}-${n}`,
          passwordId: randomUUID(),
          defaultDeviceId: randomUUID(),
          gitlabGroupId: 1000 + n,
          access: { scopes: ['api', 'read_repository'], expiresAt: null, gitlabUserId: 500 + n },
          protectGroups: false,
          autoAddNewRepositories: true,
          repositoriesSync: { intervalMinutes: 60 },
        },
        metadata: meta(admin, clock),
      },
    ]);
  }
  for (const [n, credentialId] of tenant.credentials.entries()) {
    clock += 1000;
    const organizationId = organizationOf.get(credentialId)!;
    const access = { scopes: ['api'], expiresAt: null, gitlabUserId: 10_000 + n };
    yield* append(`credential-${credentialId}`, [
      {
        type: 'CredentialAdded',
        data: { credentialId, organizationId, login: `helper-${n}`, passwordId: randomUUID(), access },
        metadata: meta(pick(actors), clock),
      },
      { type: 'CredentialVerified', data: { credentialId, organizationId, ...access }, metadata: meta(SYSTEM, clock + 500) },
    ]);
  }
  for (const [n, planId] of tenant.plans.entries()) {
    clock += 1000;
    const organizationId = organizationOf.get(planId)!;
    yield* append(`plan-${planId}`, [
      { type: 'PlanCreated', data: { planId, organizationId, name: `plan-${n}` }, metadata: meta(pick(actors), clock) },
      { type: 'PlanAdditionalCredentialsSet', data: { planId, organizationId, enabled: true }, metadata: meta(pick(actors), clock + 500) },
    ]);
  }

  // Which credentials each plan has on, and on how many plans each credential is: toggles keep the domain's rules.
  const on = new Map(tenant.plans.map((id) => [id, new Set<string>()]));
  const plansOn = new Map(tenant.credentials.map((id) => [id, 0]));
  const sameOrganization = new Map(tenant.organizations.map((id) => [id, tenant.credentials.filter((c) => organizationOf.get(c) === id)]));
  while (mine < budget) {
    clock += step * (0.5 + next());
    const left = budget - mine;
    const roll = next();
    if (roll < 0.25) {
      // An operator switching credentials on a plan, a few at a sitting.
      const planId = pick(tenant.plans);
      const organizationId = organizationOf.get(planId)!;
      const actor = pick(actors);
      const events: Written[] = [];
      for (let n = 0; n < Math.min(6, left); n++) {
        const credentialId = pick(sameOrganization.get(organizationId)!);
        const enabled = !on.get(planId)!.has(credentialId);
        if (enabled && plansOn.get(credentialId)! >= PLANS_PER_CREDENTIAL) continue;
        if (enabled) on.get(planId)!.add(credentialId);
        else on.get(planId)!.delete(credentialId);
        plansOn.set(credentialId, plansOn.get(credentialId)! + (enabled ? 1 : -1));
        events.push({ type: 'PlanCredentialToggled', data: { planId, organizationId, credentialId, enabled }, metadata: meta(actor, clock + n * 2000) });
      }
      if (events.length > 0) yield* append(`plan-${planId}`, events);
    } else if (roll < 0.4) {
      // A scheduled sync of an organization's repository list.
      const organizationId = pick(tenant.organizations);
      const syncId = randomUUID();
      const used = [{ credentialId: null, login: 'main', requests: 3 }];
      const discovered = Math.min(Math.floor(next() * 3), Math.max(left - 2, 0));
      const events: Written[] = [
        {
          type: 'RepositoryListSyncStarted',
          data: { organizationId, syncId, trigger: 'SCHEDULE', startedAt: new Date(clock).toISOString() },
          metadata: meta(SYSTEM, clock),
        },
      ];
      for (let n = 0; n < discovered; n++) {
        const repository = pick(repositories.get(organizationId)!);
        events.push({
          type: 'RepositoryDiscovered',
          data: {
            organizationId,
            repositoryId: repository.id,
            gitlabId: repository.gitlabId,
            kind: 'PROJECT',
            fullPath: `group/project-${repository.gitlabId}`,
          },
          metadata: meta(SYSTEM, clock + 1000),
        });
      }
      events.push({
        type: 'RepositoryListSynced',
        data: { organizationId, syncId, added: discovered, removed: 0, renamed: 0, unchanged: 40, durationMs: 900, requests: 3, credentialsUsed: used },
        metadata: meta(SYSTEM, clock + 2000),
      });
      if (left < events.length) break;
      yield* append(`repositories-${organizationId}`, events);
    } else {
      // A scheduled plan run over a few repositories, with the credentials it used.
      const planId = pick(tenant.plans);
      const organizationId = organizationOf.get(planId)!;
      const taskId = randomUUID();
      const pool = [...on.get(planId)!].slice(0, 3);
      const used = [
        { credentialId: null, login: 'main', requests: 10 },
        ...pool.map((credentialId, n) => ({ credentialId, login: `helper-${n}`, requests: 10 })),
      ];
      const count = Math.max(Math.min(8, left - 2), 0);
      const ref = { taskId, planId, organizationId };
      const events: Written[] = [
        { type: 'BackupTaskStarted', data: { ...ref, repositoriesTotal: count, startedAt: new Date(clock).toISOString() }, metadata: meta(SYSTEM, clock) },
      ];
      for (let n = 0; n < count; n++) {
        const repository = repositories.get(organizationId)![n];
        events.push({
          type: 'RepositoryBackedUp',
          data: {
            ...ref,
            repositoryId: repository.id,
            fullPath: `group/project-${repository.gitlabId}`,
            counts: { branches: 4, tags: 2, issues: 30, mergeRequests: 12 },
            requests: 9,
            credentialsUsed: used,
          },
          metadata: meta(SYSTEM, clock + (n + 1) * 5000),
        });
      }
      events.push({
        type: 'BackupTaskCompleted',
        data: {
          ...ref,
          repositoriesDone: count,
          repositoriesFailed: 0,
          durationMs: (count + 1) * 5000,
          credentialsUsed: used,
          throttledPeriods: [],
          finishedAt: new Date(clock + (count + 1) * 5000).toISOString(),
        },
        metadata: meta(SYSTEM, clock + (count + 1) * 5000),
      });
      if (left < 2) break;
      yield* append(`task-${taskId}`, events);
    }
  }
}

function newTenant(): TenantSeed {
  return {
    id: randomUUID(),
    organizations: Array.from({ length: ORGANIZATIONS }, () => randomUUID()),
    credentials: Array.from({ length: CREDENTIALS }, () => randomUUID()),
    plans: Array.from({ length: PLANS }, () => randomUUID()),
    actors: Array.from({ length: ACTORS }, () => randomUUID()),
  };
}

const SEED_BATCH = 5000;

/**
 * Writes the tenants' years merged in time order, as they would have been appended, in
 * transactions of SEED_BATCH events: the rows append_events would write (the same content hash and
 * chain, hash-chain.ts) and each stream's head, in the log's global order. One append per event
 * would take an hour here.
 */
async function seed(db: PgDatabase, total: number): Promise<Manifest> {
  const start = Date.now() - YEAR_MS;
  const tenants = Array.from({ length: TENANTS }, newTenant);
  const budgets = tenants.map((_, n) => Math.floor(total / TENANTS) + (n < total % TENANTS ? 1 : 0));
  const years = tenants.map((tenant, n) => tenantYear(tenant, n, budgets[n], start));
  const heads = years.map((year) => year.next());
  const streams = new Map<string, { revision: number; hash: string }>();
  let written = 0;
  const began = performance.now();
  let last = began;
  let writing: Promise<void> = Promise.resolve();
  for (;;) {
    const rows: unknown[][] = [[], [], [], [], [], [], [], []];
    const touched = new Set<string>();
    while (rows[0].length < SEED_BATCH) {
      // The tenant whose next event happened first.
      let first = -1;
      for (const [n, head] of heads.entries()) {
        if (head.done) continue;
        if (first === -1 || String(head.value.metadata.occurredAt) < String((heads[first].value as SeedEvent).metadata.occurredAt)) first = n;
      }
      if (first === -1) break;
      const event = heads[first].value as SeedEvent;
      heads[first] = years[first].next();
      const id = randomUUID();
      const previous = streams.get(event.stream) ?? { revision: -1, hash: GENESIS_HASH };
      const revision = previous.revision + 1;
      const hash = chainHash(previous.hash, event.stream, BigInt(revision), contentHash({ id, type: event.type, data: event.data, metadata: event.metadata }));
      streams.set(event.stream, { revision, hash });
      touched.add(event.stream);
      for (const [column, value] of [
        id,
        event.stream,
        revision,
        event.type,
        JSON.stringify(event.data),
        JSON.stringify(event.metadata),
        hash,
        event.metadata.occurredAt,
      ].entries()) {
        rows[column].push(value);
      }
    }
    if (rows[0].length === 0) break;
    const heads_ = [...touched].map((name) => ({ name, ...streams.get(name)! }));
    await writing;
    writing = db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO events (id, stream, revision, type, data, metadata, hash, recorded_at)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::jsonb[], $7::text[], $8::timestamptz[])`,
        rows,
      );
      await tx.query(
        `INSERT INTO event_streams (name, revision, last_hash, last_tx) SELECT *, pg_current_xact_id() FROM unnest($1::text[], $2::bigint[], $3::text[])
         ON CONFLICT (name) DO UPDATE SET revision = EXCLUDED.revision, last_hash = EXCLUDED.last_hash, last_tx = EXCLUDED.last_tx`,
        [heads_.map((head) => head.name), heads_.map((head) => head.revision), heads_.map((head) => head.hash)],
      );
    });
    written += rows[0].length;
    if (performance.now() - last > 10_000) {
      last = performance.now();
      process.stderr.write(`  writing: ${written} of ${total} events, ${Math.round(written / ((last - began) / 1000))} events/s\n`);
    }
  }
  await writing;
  return { events: written, start: new Date(start).toISOString(), tenants };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

interface Timing {
  ours: number[];
  floor: number[];
}

function line(label: string, timing: Timing, rows: number): string {
  const p99 = percentile(timing.ours, 99);
  const floorP99 = percentile(timing.floor, 99);
  const verdict = p99 < TARGET_MS ? 'met' : 'MISSED';
  return `  ${label.padEnd(34)} median ${median(timing.ours).toFixed(2).padStart(7)} ms  p99 ${p99.toFixed(2).padStart(7)} ms  | floor median ${median(timing.floor).toFixed(2).padStart(6)} ms  p99 ${floorP99.toFixed(2).padStart(6)} ms  | floor/ours (p99) ${(floorP99 / p99).toFixed(2)}  | ${rows.toFixed(0)} rows/page  | < ${TARGET_MS} ms ${verdict}\n`;
}

/** Per tenant, what a filter can name and the places the history is read from. */
interface TenantPlaces {
  seed: TenantSeed;
  /** The cursor of an event 90% through the tenant's history. */
  deepCursor: string;
  /** When 80% of the tenant's history had happened, and its last event. */
  lateFrom: Date;
  end: Date;
}

async function placesOf(db: PgDatabase, seed: TenantSeed): Promise<TenantPlaces> {
  const [{ n }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1', [seed.id]);
  const at = async (offset: number) =>
    (
      await db.query<{ position: string; occurred_at: Date }>(
        'SELECT position, occurred_at FROM audit_log WHERE tenant_id = $1 ORDER BY ordinal OFFSET $2 LIMIT 1',
        [seed.id, Math.max(Math.min(offset, n - 1), 0)],
      )
    )[0];
  const deep = await at(Math.floor(n * 0.9));
  const late = await at(Math.floor(n * 0.8));
  const last = await at(n - 1);
  return { seed, deepCursor: deep.position, lateFrom: late.occurred_at, end: new Date(last.occurred_at.getTime() + 1) };
}

async function measureAudit(db: PgDatabase, places: TenantPlaces[]): Promise<void> {
  process.stdout.write(`\nauditLog through auditPage (the resolver's query), pages of ${PAGE}, ${ROUNDS} calls each, ours and the floor taking turns\n`);
  const next = seeded(7);
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)];
  const filters: [string, (tenant: TenantPlaces) => AuditQuery][] = [
    ['unfiltered', () => ({})],
    ['organization', (t) => ({ organizationId: pick(t.seed.organizations) })],
    ['plan', (t) => ({ planId: pick(t.seed.plans) })],
    ['credential', (t) => ({ credentialId: pick(t.seed.credentials) })],
    ['actor', (t) => ({ actorId: pick(t.seed.actors) })],
    ['types (2 of them)', () => ({ types: ['PlanCredentialToggled', 'PlanAdditionalCredentialsSet'] })],
    ['time range (the last 20%)', (t) => ({ from: t.lateFrom, to: t.end })],
  ];
  for (const [name, filterOf] of filters) {
    for (const deep of [false, true]) {
      const timing: Timing = { ours: [], floor: [] };
      let rows = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const tenant = pick(places);
        const query = filterOf(tenant);
        const ours = await timed(() => auditPage(db, tenant.seed.id, query, { first: PAGE, after: deep ? tenant.deepCursor : undefined }, true));
        const positions = ours.value.events.map((event) => event.cursor);
        // The same rows with the events' data, which the rows do not copy.
        const floor = await timed(() =>
          db.query(
            'SELECT a.*, e.data AS event_data FROM audit_log a JOIN events e ON e.id = a.event_id WHERE a.position = ANY($1::text[]) ORDER BY a.ordinal',
            [positions],
          ),
        );
        if (floor.value.length !== positions.length) throw new Error('the floor read other rows than the page');
        timing.ours.push(ours.ms);
        timing.floor.push(floor.ms);
        rows += positions.length / ROUNDS;
      }
      process.stdout.write(line(`${name}, ${deep ? 'deep page' : 'first page'}`, timing, rows));
    }
  }
}

async function measureAsOf(db: PgDatabase, manifest: Manifest): Promise<void> {
  process.stdout.write(`\nplanCredentialsAsOf through the query layer, a random plan at a random instant of the year, ${ROUNDS * 2} calls\n`);
  const next = seeded(11);
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)];
  const start = Date.parse(manifest.start);
  const timing: Timing = { ours: [], floor: [] };
  let rows = 0;
  for (let round = 0; round < ROUNDS * 2; round++) {
    const tenant = pick(manifest.tenants);
    const plan = await planById(db, tenant.id, pick(tenant.plans));
    if (!plan) throw new Error('a seeded plan is missing from the read model');
    const at = new Date(start + next() * YEAR_MS);
    const ours = await timed(() => planCredentialsAsOf(db, tenant.id, plan, at));
    const credentialIds = ours.value.map((row) => row.credential.id);
    const from = ours.value.map((row) => row.enabledAt!.toISOString());
    const floor = await timed(async () => {
      await db.query(
        'SELECT * FROM plan_credential_intervals WHERE plan_id = $1 AND (credential_id, enabled_from) IN (SELECT * FROM unnest($2::uuid[], $3::timestamptz[]))',
        [plan.id, credentialIds, from],
      );
      await db.query('SELECT * FROM credentials WHERE id = ANY($1::uuid[])', [credentialIds]);
    });
    timing.ours.push(ours.ms);
    timing.floor.push(floor.ms);
    rows += credentialIds.length / (ROUNDS * 2);
  }
  process.stdout.write(line('planCredentialsAsOf', timing, rows));
}

/** Verifications measured, each taking turns with its floors. */
const VERIFY_ROUNDS = Number(process.env.BENCH_SCALE_VERIFY_ROUNDS ?? 5);

async function measureVerify(store: SqlEventStore, db: PgDatabase, manifest: Manifest): Promise<void> {
  await migrateDigests(db);
  const deps = { store, db, auditDigests: { dir: null, keyFiles: [] } } as unknown as AppDeps;
  const tenantId = manifest.tenants[TENANTS - 1].id;
  const request = { principal: { tenantId, tokenId: 'bench', name: 'bench', role: 'ADMIN', root: false }, correlationId: randomUUID() } as Parameters<
    typeof verifyAuditLog
  >[1];
  const [{ n }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log WHERE tenant_id = $1', [tenantId]);
  process.stdout.write(
    `\nverifyAuditLog for one tenant (${n} of its events in a log of ${manifest.events}), the use case the resolver calls, ${VERIFY_ROUNDS} rounds taking turns with its floors\n`,
  );
  // The floors: the same tenant's events read raw in log order by the log's index of each tenant's
  // events, in pages of 1,000, nothing computed: every column as pg parses it (jsonb into objects),
  // and as the verification reads them.
  const readRaw = async () => {
    let after = { tx: '0', seq: '0' };
    for (;;) {
      // Whether a row is the tenant's is told in the select list, as the verification tells it: as a
      // condition, which the planner cannot estimate, it read and sorted the tenant's whole rest each page.
      const rows = await db.query<{ tx_id: string; seq: string }>(
        `SELECT *, metadata ->> 'tenantId' = $1 AS ours FROM events
          WHERE md5(metadata ->> 'tenantId') = md5($1) AND (tx_id, seq) > ($2::xid8, $3::bigint) ORDER BY events.tx_id, events.seq LIMIT 1000`,
        [tenantId, after.tx, after.seq],
      );
      if (rows.length < 1000) break;
      after = { tx: rows[rows.length - 1].tx_id, seq: rows[rows.length - 1].seq };
    }
  };
  const readAsVerified = async () => {
    let after: string | null = null;
    for (;;) {
      const page = await tenantEventsPage(db, tenantId, after, 1000);
      if (page.next === null) break;
      after = page.next;
    }
  };
  const rates = { ours: [] as number[], raw: [] as number[], text: [] as number[] };
  /** This process's processor time per event (user and system, µs): what the load of the machine inflates least. */
  const cpu = { ours: [] as number[], text: [] as number[] };
  const cpuPerEvent = (since: NodeJS.CpuUsage, events: number) => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / events;
  };
  let rssGrowth = 0;
  let held = 0;
  let heldCpu = 0;
  let checked = 0;
  for (let round = 0; round < VERIFY_ROUNDS; round++) {
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 20);
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    // The wall clock's delay counts the time the loaded machine gave the process no processor; the
    // processor time spent between two turns of the loop counts only what the process did.
    let turn = process.cpuUsage();
    const ticker = () => {
      const used = process.cpuUsage(turn);
      heldCpu = Math.max(heldCpu, used.user + used.system);
      turn = process.cpuUsage();
      ticking = setTimeout(ticker, 1);
    };
    let ticking = setTimeout(ticker, 1);
    const cpuBefore = process.cpuUsage();
    const run = await timed(() => verifyAuditLog(deps, request));
    clearTimeout(ticking);
    delay.disable();
    clearInterval(sampler);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    if (!run.value.ok) throw new Error(`the log did not verify: ${run.value.problem}`);
    checked = run.value.checked;
    rates.ours.push(checked / (run.ms / 1000));
    cpu.ours.push(cpuPerEvent(cpuBefore, checked));
    rssGrowth = Math.max(rssGrowth, rssPeak - rssBefore);
    held = Math.max(held, delay.max);
    rates.raw.push(n / ((await timed(readRaw)).ms / 1000));
    const textBefore = process.cpuUsage();
    rates.text.push(n / ((await timed(readAsVerified)).ms / 1000));
    cpu.text.push(cpuPerEvent(textBefore, n));
  }
  const rate = median(rates.ours);
  const all = (values: number[]) => values.map((value) => Math.round(value)).join(' · ');
  process.stdout.write(
    `  ${checked} events checked: median ${Math.round(rate)} events/s (${all(rates.ours)}) (target >= 100,000: ${rate >= 100_000 ? 'met' : 'MISSED'})\n` +
      `  floor, every column parsed: median ${Math.round(median(rates.raw))} events/s (${all(rates.raw)}), ours/floor ${(rate / median(rates.raw)).toFixed(2)}\n` +
      `  floor, the rows the verification reads, data and metadata as text: median ${Math.round(median(rates.text))} events/s (${all(rates.text)}), ours/floor ${(rate / median(rates.text)).toFixed(2)}\n` +
      `  processor time of this process per event: median ${median(cpu.ours).toFixed(1)} µs verifying, ${median(cpu.text).toFixed(1)} µs reading as it reads\n` +
      `  resident memory growth at most +${(rssGrowth / 2 ** 20).toFixed(0)} MB | event loop held at most ${(held / 1e6).toFixed(1)} ms at a time by the wall clock,` +
      ` ${(heldCpu / 1000).toFixed(1)} ms of processor time\n`,
  );
}

/** The whole log read through the store in the pages a rebuild reads, nothing applied: what a rebuild cannot go below. */
async function readWholeLog(store: SqlEventStore): Promise<void> {
  let from = 'start';
  for (;;) {
    const page = await store.readAll({ fromPosition: from, maxCount: 2000 });
    if (page.length === 0) return;
    from = page[page.length - 1].position;
  }
}

async function measureRebuild(store: SqlEventStore, db: PgDatabase, events: number): Promise<void> {
  process.stdout.write(
    `\nrebuild of every read model from the whole log (${events} events), one after the other, each after its floor (the whole log read through the store in pages of 2,000, nothing applied)\n`,
  );
  let total = 0;
  const picked = process.env.BENCH_SCALE_REBUILD?.split(',');
  for (const projection of projections.filter((projection) => picked === undefined || picked.includes(projection.name))) {
    const floor = await timed(() => readWholeLog(store));
    // Wired as the product wires it on this store: the log is the events table of the same database.
    const runner = new ProjectionRunner({ store, db, projection, logInDatabase: true });
    let last = 0;
    const run = await timed(() =>
      rebuildProjection(runner, store, (progress) => {
        if (progress.done || Date.now() - last < 10_000) return;
        last = Date.now();
        process.stderr.write(`  ${projection.name}: ${progress.eventsApplied} events applied, ${progress.eventsPerSecond} events/s\n`);
      }),
    );
    total += run.ms;
    const rate = events / (run.ms / 1000);
    const floorRate = events / (floor.ms / 1000);
    process.stdout.write(
      `  ${projection.name.padEnd(12)} ${(run.ms / 1000).toFixed(1).padStart(7)} s  ${Math.round(rate).toString().padStart(7)} events of the log/s` +
        `  (${run.value.eventsApplied} applied, ${Math.round(run.value.eventsApplied / (run.ms / 1000))}/s)  | floor ${Math.round(floorRate)} events/s, ours/floor ${(rate / floorRate).toFixed(2)}` +
        `  | target >= 30,000: ${rate >= 30_000 ? 'met' : 'MISSED'}\n`,
    );
  }
  const rate = events / (total / 1000);
  process.stdout.write(
    `  all read models ${(total / 1000).toFixed(1)} s: ${Math.round(rate)} events/s  target >= 30,000: ${rate >= 30_000 ? 'met' : 'MISSED'}\n`,
  );
}

async function measureSize(db: PgDatabase, events: number): Promise<void> {
  const perMillion = (bytes: number) => `${((bytes * 1_000_000) / events / 2 ** 20).toFixed(0)} MB per million events`;
  const [database] = await db.query<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes');
  const tables = await db.query<{ name: string; bytes: string }>(
    `SELECT c.relname AS name, pg_total_relation_size(c.oid)::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname = current_schema() ORDER BY pg_total_relation_size(c.oid) DESC`,
  );
  process.stdout.write(`\nsize (${events} events): database ${(Number(database.bytes) / 2 ** 20).toFixed(0)} MB, ${perMillion(Number(database.bytes))}\n`);
  const events_ = tables.filter((table) => table.name === 'events' || table.name === 'event_streams');
  const audit = tables.filter((table) => table.name === 'audit_log');
  const rest = tables.filter((table) => !events_.includes(table) && !audit.includes(table));
  const sum = (rows: { bytes: string }[]) => rows.reduce((total, row) => total + Number(row.bytes), 0);
  for (const [label, rows] of [
    ['events + event_streams (with indexes)', events_],
    ['audit_log (with indexes)', audit],
    ['other read models', rest],
  ] as const) {
    process.stdout.write(`  ${label.padEnd(40)} ${(sum(rows) / 2 ** 20).toFixed(0).padStart(6)} MB  ${perMillion(sum(rows))}\n`);
  }
}

async function main(): Promise<void> {
  const total = Number(process.env.BENCH_SCALE_EVENTS ?? 1_000_000);
  if (!Number.isSafeInteger(total) || total < TENANTS * 2000) throw new Error(`BENCH_SCALE_EVENTS must be an integer of at least ${TENANTS * 2000}`);
  const only = new Set((process.env.BENCH_SCALE_ONLY ?? 'rebuild,audit,asof,verify,size').split(','));
  const keep = process.env.BENCH_SCALE_KEEP === '1';
  const reuse = process.env.BENCH_SCALE_REUSE === '1';
  const serverUrl = process.env.BACKPLANE_BENCH_DATABASE_URL ?? process.env.BACKPLANE_TEST_DATABASE_URL ?? DEFAULT_URL;
  const url = new URL(serverUrl);
  url.pathname = `/${DATABASE}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  const [{ exists }] = (await admin.query<{ exists: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists', [DATABASE])).rows;
  if (exists && !reuse) await admin.query(`DROP DATABASE ${DATABASE} WITH (FORCE)`);
  if (!exists || !reuse) await admin.query(`CREATE DATABASE ${DATABASE}`);
  const db = await PgDatabase.connect({ connectionString: url.toString(), maxConnections: 16 });
  try {
    const store = await SqlEventStore.open(db);
    process.stdout.write(`Backplane scale benchmark: Node ${process.version}, ${availableParallelism()} CPUs, PostgreSQL (database ${DATABASE})\n`);
    let manifest: Manifest;
    if (reuse && exists) {
      manifest = (await db.query<{ data: Manifest }>('SELECT data FROM bench_scale_manifest'))[0].data;
      process.stdout.write(`reusing ${manifest.events} events written earlier\n`);
    } else {
      const seeding = await timed(() => seed(db, total));
      manifest = seeding.value;
      await db.exec('CREATE TABLE bench_scale_manifest (data jsonb NOT NULL)');
      await db.query('INSERT INTO bench_scale_manifest VALUES ($1)', [JSON.stringify(manifest)]);
      process.stdout.write(
        `wrote ${manifest.events} events of ${TENANTS} tenants (${ORGANIZATIONS} organizations, ${CREDENTIALS} credentials, ${PLANS} plans each) (the store's rows, chains and heads) in ${(seeding.ms / 1000).toFixed(1)} s (${Math.round(manifest.events / (seeding.ms / 1000))} events/s)\n`,
      );
    }
    await db.exec('VACUUM ANALYZE');
    if (only.has('rebuild') || !(reuse && exists)) await measureRebuild(store, db, manifest.events);
    await db.exec('VACUUM ANALYZE');
    if (only.has('audit')) await measureAudit(db, await Promise.all(manifest.tenants.map((seed) => placesOf(db, seed))));
    if (only.has('asof')) await measureAsOf(db, manifest);
    if (only.has('verify')) await measureVerify(store, db, manifest);
    if (only.has('size')) await measureSize(db, manifest.events);
    await store.close();
  } finally {
    await db.close();
    if (!keep) await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await admin.end();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
