import type { ApiTokenDigests } from '../auth/api-tokens';
import type { OAuthAuthorizations } from '../auth/oauth-authorizations';
import type { OAuthApplication } from '../gitlab/oauth';
import type { CommandHandler, HandleOptions } from '../core/command-handler';
import { ChangeNotShownError, ConcurrencyError, DomainError, ProjectionTimeoutError, type ReadModelsCatchingUpError } from '../core/errors';
import { WrongExpectedVersionError } from '../eventstore/errors';
import type { Decider, DomainEvent } from '../core/decider';
import type { EventStore, Position } from '../eventstore/types';
import type { SecretVault } from '../secrets/vault';
import type { SqlDatabase } from '../sql/database';
import { commandContext, type Principal } from './principal';
import type { AuditDigestSettings } from './audit-digests';
import type { BackupPlaces } from './backup/storages';
import type { GitLabPort } from './gitlab-port';
import type { Jobs } from './jobs';
import type { TaskHeartbeats } from './task-heartbeats';
import type { TenantLock } from './tenant-lock';

/** What the use cases need: the handler to write, the read models to look things up, the vaults. */
export interface AppDeps {
  store: EventStore;
  commands: CommandHandler;
  /** The read models' database. */
  db: SqlDatabase;
  vault: SecretVault;
  tokens: ApiTokenDigests;
  /**
   * Resolves once every read model that answers show and that reads the streams written (all,
   * without streams) includes the position ('head': the log's end as readers can read it;
   * 'last-committed': the last event committed, past transactions still open): a mutation's answer
   * shows its own change. At once where the appends keep them inline.
   */
  settle(position: Position | 'head' | 'last-committed', streams?: string[], inlineReadModel?: string): Promise<void>;
  /** Resolves once the audit history includes the log as it stands (within a bound): before a query of it. */
  settleHistory(): Promise<void>;
  /** Resolves once every read model, the audit history too, includes the position: for what must hold all of it (an export). */
  settleAll(position: Position | 'last-committed'): Promise<void>;
  /**
   * While read models are catching up with the log, the refusal a change asked of the API gets
   * (null once they are current). Only the API's entries ask it: the service's own writes go through.
   */
  catchingUp(): ReadModelsCatchingUpError | null;
  /** Commands whose rules look across aggregates (unique names, references) run one at a time per tenant: see executeLocked. */
  tenantLock: TenantLock;
  gitlab: GitLabPort;
  /** Where snapshots are stored and mirrors kept. */
  backup: BackupPlaces;
  /** Work that goes on after a mutation answers (syncs, plan runs); stopped with the service. */
  jobs: Jobs;
  /** Beats of the tasks this process (or another on the database) runs, kept outside the log. */
  heartbeats: TaskHeartbeats;
  work: WorkSettings;
  sso: SsoSettings;
  /** SSO sign-ins under way, kept outside the log. */
  authorizations: OAuthAuthorizations;
  /** Signed digests of the log: the signing key, and where and how often they are written. */
  auditDigests: AuditDigestSettings;
}

/** Signing in to GitLab for organizations with authMethod SSO. */
export interface SsoSettings {
  /** Backplane's OAuth application on GitLab; null: SSO is not configured. */
  application: OAuthApplication | null;
  /** Where browsers reach this server; GitLab sends them back to its /oauth/gitlab/callback. Set once the server listens. */
  publicUrl: string;
}

export const OAUTH_CALLBACK_PATH = '/oauth/gitlab/callback';

export interface WorkSettings {
  /** A sync with no result after this long is taken to be dead, and another may start (ms). */
  syncStaleAfterMs: number;
  /** Repositories a plan run reads at once. */
  runConcurrency: number;
  /** How long results of a plan run wait to be recorded together (ms). */
  runFlushMs: number;
  /**
   * A task that shows no sign of life (an event, or a beat of its process) for this long is taken
   * to be dead, and its plan may run again (ms). A running task beats ten times as often.
   */
  taskStaleAfterMs: number;
}

export interface Request {
  principal: Principal;
  /** Ties together everything one API call caused. */
  correlationId: string;
}

/** Runs one command as the request's principal and waits until the read models show it. A command still being made is given as a promise (see CommandHandler.handle). */
export async function execute<State, Command, Event extends DomainEvent>(
  deps: AppDeps,
  request: Request,
  decider: Decider<State, Command, Event>,
  stream: string,
  command: Command | Promise<Command>,
  options: HandleOptions & { causationId?: string } = {},
) {
  return settled(deps, stream, await write(deps, request, decider, stream, command, options));
}

/** Runs one command without waiting for the read models: for callers that must tell a refusal from a slow read model. */
export function write<State, Command, Event extends DomainEvent>(
  deps: AppDeps,
  request: Request,
  decider: Decider<State, Command, Event>,
  stream: string,
  command: Command | Promise<Command>,
  options: HandleOptions & { causationId?: string } = {},
) {
  return deps.commands.handle(decider, stream, command, commandContext(request.principal, request.correlationId, options.causationId), options);
}

/** Waits until the read models that read `stream` show what was written. */
export async function settled<R extends { position: Position | null; inlineReadModel?: string }>(deps: AppDeps, stream: string, result: R): Promise<R> {
  // The read model its append kept inline holds it already: only the others are waited for.
  if (result.position === null) return result;
  const position = result.position;
  await deps.settle(position, [stream], result.inlineReadModel).catch((error: unknown) => {
    // Written for good: not an internal failure the client might answer by sending it again.
    throw error instanceof ProjectionTimeoutError ? new ChangeNotShownError(position) : error;
  });
  return result;
}

/**
 * Writes with something kept outside the log first (an encrypted secret, a token digest), and
 * takes that back when the command is refused. Once the events are written it stays, however
 * long the read models take; and when the outcome is unknown (a connection lost at commit) it
 * stays too: a leftover row is harmless, an event pointing at a discarded one is not.
 */
export async function writeWith<R extends { position: Position | null }>(
  deps: AppDeps,
  stream: string,
  attempt: () => Promise<R>,
  takeBack: () => Promise<void>,
): Promise<R> {
  let result: R;
  try {
    result = await attempt();
  } catch (error) {
    if (error instanceof DomainError || error instanceof ConcurrencyError || error instanceof WrongExpectedVersionError) await takeBack();
    throw error;
  }
  return settled(deps, stream, result);
}

/**
 * Whether the event log is this database's events table (PostgreSQL, PGlite): queries of the read
 * models may then read the events themselves (on EventStoreDB they are read from their streams).
 */
export function logInDatabase(deps: Pick<AppDeps, 'store'>): boolean {
  return deps.store.sharesReadModelDatabase === true;
}

/** The version the API shows (a stream revision) as the handler's expected revision. */
export function expectedRevision(version: number | null | undefined): bigint | undefined {
  if (version === null || version === undefined) return undefined;
  // Versions start at 0: a negative one is no version at all, not a stale one.
  if (version < 0) throw new DomainError('INVALID_INPUT', 'expectedVersion: a version is 0 or more', 'expectedVersion');
  return BigInt(version);
}
