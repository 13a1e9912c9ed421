import { randomUUID } from 'node:crypto';
import type { RepositoryResult } from '../../domain/task';
import { BackplaneError, messageOf } from '../../errors';
import { CredentialPool } from '../../gitlab/credential-pool';
import { GitLabError } from '../../gitlab/types';
import type { RepositoryView } from '../../queries/repositories';
import { latestSnapshotOf } from '../../queries/snapshots';
import type { OrganizationView, PlanView } from '../../queries/views';
import { parseManifest, type Manifest } from '../backup/manifest';
import { expireSnapshots } from '../backup/expiry';
import { recordSnapshot } from '../backup/record-snapshot';
import type { AppDeps, Request } from '../deps';
import type { GitLabSession } from '../gitlab-port';
import type { JobOutcome } from '../jobs';
import { storageOfPlan } from '../plans';
import { FreshCheck } from './fresh-check';
import { beatWhileRunning } from './heartbeat';
import { MAIN } from './membership';
import { MembershipLog } from './membership-log';
import { PoolMembers } from './pool-members';
import { ResultBatch } from './result-batch';
import { RunSessions } from './sessions';
import { takeSnapshot, type SnapshotPlace } from './snapshot-writer';
import { MainLogin } from './sso-renewal';
import { TaskLog } from './task-log';
import { workThrough } from './workers';

/** A repository request that must not go out: the run stopped, or its member left the pool meanwhile. */
class RunStopped extends Error {}
class MemberLeft extends Error {}

const seesNothing = (error: unknown): error is GitLabError => error instanceof GitLabError && (error.failure === 'FORBIDDEN' || error.failure === 'NOT_FOUND');

/** Membership checks start at most this often: under load one check serves many requests. */
const CHECK_SPACING_MS = 10;

export interface RunSubject {
  taskId: string;
  plan: PlanView;
  organization: OrganizationView;
  repositories: RepositoryView[];
}

/**
 * One run of a plan. Which accounts may make a request is decided per request, not per run:
 *
 * The pool holds the members the membership rule lets in (./membership.ts). A credential
 * switched off or removed while the run goes on must make no request after that event, so every
 * request, once the pool has handed it a member and before it is sent, waits for a membership
 * check that started after that moment. A request whose member was taken out is handed another.
 * Checks are shared: requests that arrive while one runs wait for the next, so a busy run makes
 * one check at a time, not one per request. An event appended before a request's check started
 * is therefore seen by it; one appended after cannot be told from one appended after the
 * request was sent.
 */
export class TaskRun {
  readonly #deps: AppDeps;
  readonly #subject: RunSubject;
  readonly #log: TaskLog;
  readonly #results: ResultBatch;
  readonly #pool: CredentialPool<GitLabSession>;
  readonly #sessions: RunSessions;
  readonly #main: MainLogin;
  readonly #members: PoolMembers;
  readonly #gate: FreshCheck;
  readonly #tenantId: string;
  readonly #request: Request;
  readonly #storageId: string;
  readonly #place: SnapshotPlace;
  #fatal: string | null = null;
  #signal: AbortSignal | null = null;
  #stopped: Promise<never> | null = null;
  readonly #started = Date.now();

  constructor(deps: AppDeps, request: Request, subject: RunSubject) {
    this.#deps = deps;
    this.#subject = subject;
    this.#tenantId = request.principal.tenantId;
    this.#request = request;
    this.#storageId = storageOfPlan(subject.plan);
    const { backup } = deps;
    this.#place = {
      store: backup.store(this.#tenantId, this.#storageId),
      mirrors: backup.mirrors(this.#tenantId),
      scratch: backup.scratch,
      chunks: (file) => backup.chunks(file),
      bundle: (mirror, file) => backup.bundle(mirror, file),
    };
    this.#log = new TaskLog(deps, request, subject.taskId);
    this.#results = new ResultBatch((results) => this.#log.append({ type: 'RecordRepositoryResults', data: { results } }), deps.work.runFlushMs);
    this.#pool = new CredentialPool<GitLabSession>({
      onThrottled: (key, until) => this.#log.credentialThrottled(this.#sessions.who(key), until),
      onAllThrottled: (until) => this.#log.allThrottled(until),
      onResumed: () => this.#log.resumed(),
    });
    this.#sessions = new RunSessions(deps, this.#tenantId, subject.organization, {
      observe: (key, rateLimit) => this.#pool.observe(key, rateLimit),
      signal: () => this.#signal ?? deps.jobs.signal,
      beforeRetry: (key) => this.#mayRetry(key),
    });
    this.#main = new MainLogin(subject.organization, this.#sessions, this.#pool);
    const membershipLog = new MembershipLog(deps.store, this.#tenantId, subject.plan.id);
    this.#members = new PoolMembers(deps, request, subject.taskId, this.#pool, membershipLog, this.#sessions);
    this.#gate = new FreshCheck(() => this.#members.check(), CHECK_SPACING_MS);
  }

  async run(signal: AbortSignal): Promise<JobOutcome> {
    this.#signal = signal;
    const stopBeating = beatWhileRunning(this.#deps, this.#tenantId, this.#subject.taskId);
    let stop: () => void = () => undefined;
    this.#stopped = new Promise<never>((_resolve, reject) => {
      stop = () => reject(new RunStopped());
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
    this.#stopped.catch(() => undefined);
    try {
      await this.#main.join();
      await workThrough(
        this.#subject.repositories,
        this.#deps.work.runConcurrency,
        async (repository) => {
          const result = await this.#backUp(repository);
          if (result !== null) this.#results.add(result);
        },
        () => this.#halted(),
      );
    } catch (error) {
      this.#fatal ??= `the task could not go on: ${messageOf(error)}`;
    }
    // The signal lives as long as the service: a listener per finished run would pile up.
    signal.removeEventListener('abort', stop);
    // The plan's retention is applied while the task still runs (no prune removes objects meanwhile);
    // should it fail, the next run or prune applies it.
    if (!signal.aborted) await expireSnapshots(this.#deps, this.#request, this.#subject.plan).catch(() => undefined);
    try {
      await this.finish(this.#fatal ?? (signal.aborted ? 'the service stopped' : undefined));
    } finally {
      await stopBeating();
    }
    return this.#fatal !== null ? 'failed' : signal.aborted ? 'stopped' : 'completed';
  }

  /** Records what is left and the end of the task, with the summary, after every append before it. */
  async finish(reason?: string): Promise<void> {
    this.#results.flush();
    await this.#log.finish(
      () => ({
        repositoriesDone: this.#results.done,
        repositoriesFailed: this.#results.failed,
        durationMs: Date.now() - this.#started,
        credentialsUsed: this.#sessions.usage(),
      }),
      reason,
    );
  }

  #halted(): boolean {
    return this.#fatal !== null || this.#signal?.aborted === true;
  }

  async #backUp(repository: RepositoryView): Promise<RepositoryResult | null> {
    const counts = new Map<string, number>();
    const base = { repositoryId: repository.id, fullPath: repository.fullPath };
    const used = () => {
      const credentialsUsed = this.#sessions.uses(counts);
      return { requests: credentialsUsed.reduce((sum, use) => sum + use.requests, 0), credentialsUsed };
    };
    try {
      const taken = await takeSnapshot(
        repository,
        this.#subject.organization.gitlabUrl,
        (send) => this.#call(counts, send),
        this.#place,
        await this.#previous(repository),
      );
      const { credentialsUsed, requests } = used();
      // Recorded only now that every object it names is stored: a run cut short leaves objects
      // that the next run reuses, never a snapshot that names something missing.
      const snapshotId = randomUUID();
      await recordSnapshot(this.#deps, this.#request, {
        snapshotId,
        taskId: this.#subject.taskId,
        planId: this.#subject.plan.id,
        organizationId: this.#subject.organization.id,
        repositoryId: repository.id,
        fullPath: repository.fullPath,
        storageId: this.#storageId,
        takenAt: taken.manifest.takenAt,
        manifestHash: taken.manifestHash,
        bytes: taken.bytes,
        objects: taken.objects,
        newBytes: taken.newBytes,
        storedBytes: taken.storedBytes,
        wiki: taken.manifest.wiki !== null,
        counts: taken.counts,
        credentialsUsed,
      });
      const { branches, tags, issues, mergeRequests } = taken.counts;
      return { ok: true, ...base, counts: { branches, tags, issues, mergeRequests }, requests, credentialsUsed };
    } catch (error) {
      // Stopped, the run records nothing more: an attempt cut short by the stop is no result.
      if (error instanceof RunStopped || (error instanceof GitLabError && error.failure === 'ABORTED')) return null;
      if (error instanceof BackplaneError && error.code === 'GITLAB_NO_CREDENTIAL') {
        this.#fatal ??= 'no credential is left to reach GitLab with: the main login and every effective credential were refused or switched off';
        return null;
      }
      return { ok: false, ...base, reason: messageOf(error), ...used() };
    }
  }

  /** The manifest of the repository's last snapshot in this storage, if it can still be read: what the new one is taken against. */
  async #previous(repository: RepositoryView): Promise<Manifest | null> {
    const last = await latestSnapshotOf(this.#deps.db, this.#tenantId, repository.id, this.#storageId);
    if (last === null) return null;
    try {
      return parseManifest(await this.#place.store.get(last.manifestHash));
    } catch {
      return null;
    }
  }

  /** One request through the pool, with a member that the membership check still lets in. */
  async #call<T>(counts: Map<string, number>, send: (session: GitLabSession) => Promise<T>): Promise<T> {
    /** What an additional credential was refused; the request then goes to the main login alone. */
    let refusal: GitLabError | null = null;
    for (;;) {
      if (this.#halted()) throw new RunStopped();
      let member: string | null = null;
      let used: GitLabSession | null = null;
      try {
        const attempt = this.#pool.run(
          async ({ key, client }) => {
            await this.#gate.fresh();
            if (this.#halted() || !this.#pool.has(key)) throw this.#halted() ? new RunStopped() : new MemberLeft();
            member = key;
            counts.set(key, (counts.get(key) ?? 0) + 1);
            used = client;
            return send(client);
          },
          refusal === null ? {} : { member: MAIN },
        );
        return await Promise.race([attempt, this.#stopped!]);
      } catch (error) {
        if (error instanceof MemberLeft) continue;
        if (error instanceof GitLabError && error.failure === 'UNAUTHORIZED' && member !== null) {
          // Sent with a main-login token the run has taken again since: the new one is tried.
          if (member === MAIN && !this.#main.holds(used)) continue;
          if (member === MAIN && (await this.#main.renew())) continue;
          await this.#members.refused(member);
          continue;
        }
        // An additional account may see less of the group than the main login (not a member of
        // a subgroup, a project shared elsewhere): its 403 or 404 says nothing of the repository.
        // The request is made once more with the main login, whose answer is the one recorded.
        if (refusal === null && seesNothing(error) && member !== null && member !== MAIN && this.#pool.has(MAIN)) {
          refusal = error;
          continue;
        }
        // The main login left meanwhile (GitLab refused it): the credential's answer stands.
        if (refusal !== null && error instanceof BackplaneError && error.code === 'GITLAB_MEMBER_GONE') throw refusal;
        throw error;
      }
    }
  }

  /**
   * Before a request is sent again (after a 5xx, a timeout): the membership gate of a hand-out
   * holds for each retry too, or a credential switched off or removed would keep sending for as
   * long as retries go on. A member that left gives the request back to the pool.
   */
  async #mayRetry(key: string): Promise<void> {
    // The main login leaves only on GitLab's own refusal, which this run records as it happens.
    if (key !== MAIN) await this.#gate.fresh();
    if (this.#halted()) throw new RunStopped();
    if (!this.#pool.has(key)) throw new MemberLeft();
  }
}
