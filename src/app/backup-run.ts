import { randomUUID } from 'node:crypto';
import { DomainError } from '../core/errors';
import { credential, credentialStream, type CredentialCommand, type CredentialEvent, type CredentialState } from '../domain/credential';
import { plan, planStream, switchedOnCredentials, type PlanEvent, type PlanState } from '../domain/plan';
import type { CredentialUse } from '../domain/repository';
import { task, taskStream, type RepositoryCounts, type RepositoryResult, type TaskCommand, type ThrottledPeriod } from '../domain/task';
import { BackplaneError, messageOf } from '../errors';
import { CredentialPool } from '../gitlab/credential-pool';
import { GitLabError, type ProjectList } from '../gitlab/types';
import { organizationById } from '../queries/organizations';
import { planById } from '../queries/plans';
import { protectedProjects, type RepositoryView } from '../queries/repositories';
import { taskById, unfinishedTaskOf, type TaskView } from '../queries/tasks';
import type { OrganizationView, PlanView } from '../queries/views';
import { execute, write, type AppDeps, type Request } from './deps';
import { found } from './found';
import type { GitLabSession } from './gitlab-port';
import { usableToken } from './verification';

const MAIN = 'main';
const LISTS: ProjectList[] = ['branches', 'tags', 'issues', 'mergeRequests'];
/** GitLab's largest page: the fewest requests for a list. */
const PER_PAGE = 100;
/** Results recorded together at most. */
const MAX_BATCH = 100;

/**
 * runPlan: records the start of a task over the organization's protected projects and answers
 * with it at once; the projects are read in the background. One task at a time per plan.
 */
export async function runPlan(deps: AppDeps, request: Request, planId: string): Promise<TaskView> {
  const { tenantId } = request.principal;
  const planView = found(await planById(deps.db, tenantId, planId), 'plan', planId);
  const organization = found(await organizationById(deps.db, tenantId, planView.organizationId), 'plan', planId);
  const taskId = randomUUID();
  // Under the tenant lock, and with the read model caught up before it is let go: a second
  // runPlan of the plan sees this task running.
  const repositories = await deps.tenantLock.run(tenantId, async () => {
    const unfinished = await unfinishedTaskOf(deps.db, tenantId, planId);
    if (unfinished !== null) await abandonIfStale(deps, request, unfinished.id);
    const repositories = await protectedProjects(deps.db, tenantId, organization.id);
    await execute(deps, request, task, taskStream(taskId), {
      type: 'StartBackupTask',
      data: {
        taskId,
        planId,
        organizationId: organization.id,
        repositoriesTotal: repositories.length,
        now: new Date().toISOString(),
        // Looked up again under the lock: a plan deleted since the first look gets no task.
        known: { planActive: (await planById(deps.db, tenantId, planId)) !== null },
      },
    });
    return repositories;
  });
  const run = new TaskRun(deps, request, { taskId, plan: planView, organization, repositories });
  if (deps.jobs.signal.aborted) await run.finish('the service stopped');
  else deps.jobs.start(`task ${taskId}`, (signal) => run.run(signal));
  return found(await taskById(deps.db, tenantId, taskId), 'task', taskId);
}

/**
 * Records a task that has shown no sign of life for too long as failed; refuses with CONFLICT
 * while it is alive. Its last event and its process's last beat are both signs of life: a live
 * task may record nothing for long, but beats.
 */
async function abandonIfStale(deps: AppDeps, request: Request, taskId: string): Promise<void> {
  const stream = taskStream(taskId);
  const [last] = await deps.store.readStream(stream, { fromRevision: 'end', direction: 'backwards', maxCount: 1 });
  const beat = await deps.heartbeats.lastBeat(request.principal.tenantId, taskId);
  const lastSignOfLife = beat !== null && beat > last.recordedAt ? beat : last.recordedAt;
  await execute(deps, request, task, stream, {
    type: 'AbandonBackupTask',
    data: { now: new Date().toISOString(), lastSignOfLifeAt: lastSignOfLife.toISOString(), staleAfterMs: deps.work.taskStaleAfterMs },
  });
  // Its process is gone and will not take its beat away itself.
  await deps.heartbeats.stop(taskId);
}

/** A repository request that must not go out: the run stopped, or its member left the pool meanwhile. */
class RunStopped extends Error {}
class MemberLeft extends Error {}

/** Membership checks start at most this often: under load one check serves many requests. */
const CHECK_SPACING_MS = 10;

/**
 * Runs `check` so that a caller of fresh() resumes only after a check that started after its
 * call. Callers share the check that has not started yet: however many requests wait, at most
 * one check runs and one more waits to start, no sooner than `spacingMs` after the last start.
 * Waiting for a later start keeps the promise (the check still starts after the call), and
 * bounds what checks cost the event store when requests come thick and fast.
 */
class FreshCheck {
  #pending: Promise<void> | null = null;
  #running: Promise<void> | null = null;
  #lastStart = 0;

  constructor(
    private readonly check: () => Promise<void>,
    private readonly spacingMs: number,
  ) {}

  fresh(): Promise<void> {
    this.#pending ??= this.#schedule();
    return this.#pending;
  }

  async #schedule(): Promise<void> {
    await this.#running?.catch(() => undefined);
    const wait = this.#lastStart + this.spacingMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // From here on a caller needs a check that starts later than this one.
    this.#pending = null;
    this.#lastStart = Date.now();
    const running = this.check();
    this.#running = running;
    try {
      await running;
    } finally {
      if (this.#running === running) this.#running = null;
    }
  }
}

interface RunSubject {
  taskId: string;
  plan: PlanView;
  organization: OrganizationView;
  repositories: RepositoryView[];
}

interface KnownCredential {
  /** The next revision of its stream to read. */
  next: bigint;
  state: CredentialState;
  login: string;
  passwordId: string;
}

/**
 * One run of a plan. Which accounts may make a request is decided per request, not per run:
 *
 * The pool holds the organization's main login and the plan's effective credentials (the plan's
 * additional credentials switch on, the credential switched on, not removed), and nothing else.
 * A credential switched off or removed while the run goes on must make no request after that
 * event, so every request, once the pool has handed it a member and before it is sent, waits
 * for a membership check that started after that moment. The check reads the plan's stream
 * from the revision last read and each candidate credential's stream tail (for its removal),
 * from the log itself (a read model could lag), then takes out of the pool whoever is no longer
 * effective and adds whoever became effective. A request whose member was taken out is handed
 * another. Checks are shared: requests that arrive while one runs wait for the next, so a busy
 * run makes one check at a time, not one per request. An event appended before a request's
 * check started is therefore seen by it; one appended after cannot be told from one appended
 * after the request was sent.
 */
class TaskRun {
  readonly #deps: AppDeps;
  readonly #request: Request;
  readonly #subject: RunSubject;
  readonly #pool: CredentialPool<GitLabSession>;
  readonly #gate = new FreshCheck(() => this.#checkMembership(), CHECK_SPACING_MS);
  readonly #logins = new Map<string, string>([[MAIN, '']]);
  #planState: PlanState = plan.initialState();
  #planNext = 0n;
  readonly #credentials = new Map<string, KnownCredential>();
  /** Credentials GitLab refused (401) during the run, and ones whose secret could not be read: never taken back. */
  readonly #unusable = new Set<string>();
  /** Hand-outs the pool counted that never reached GitLab (the member had left). */
  /** The main login's session as the run last took it: an SSO one is taken again after a 401. */
  #mainSession: GitLabSession | null = null;
  #mainToken: string | null = null;
  #renewing: Promise<boolean> | null = null;
  /** Every session each member had: their HTTP requests, retries and refusals included, are what it made. */
  readonly #sessions = new Map<string, GitLabSession[]>();
  #pending: RepositoryResult[] = [];
  #flushTimer: NodeJS.Timeout | null = null;
  /** Every append to the task's stream, in order, one at a time. */
  #appends: Promise<unknown> = Promise.resolve();
  #appendFailure: unknown = null;
  readonly #periods: ThrottledPeriod[] = [];
  #lastThrottle = new Map<string, string>();
  #done = 0;
  #failed = 0;
  #fatal: string | null = null;
  #signal: AbortSignal | null = null;
  #stopped: Promise<never> | null = null;
  readonly #started = Date.now();

  constructor(deps: AppDeps, request: Request, subject: RunSubject) {
    this.#deps = deps;
    this.#request = request;
    this.#subject = subject;
    this.#logins.set(MAIN, subject.organization.login ?? '');
    this.#pool = new CredentialPool<GitLabSession>({
      onThrottled: (key, until) => this.#credentialThrottled(key, until),
      onAllThrottled: (until) => {
        const from = new Date().toISOString();
        this.#periods.push({ from, until: until.toISOString() });
        void this.#append({ type: 'RecordTaskThrottled', data: { from, until: until.toISOString() } });
      },
      onResumed: () => {
        const at = new Date().toISOString();
        // The period as it was, not as the estimate had it.
        const open = this.#periods.at(-1);
        if (open) open.until = at;
        void this.#append({ type: 'RecordTaskResumed', data: { at } });
      },
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    this.#signal = signal;
    const stopBeating = this.#beat();
    let stop = () => undefined as void;
    this.#stopped = new Promise<never>((_resolve, reject) => {
      stop = () => reject(new RunStopped());
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
    this.#stopped.catch(() => undefined);
    try {
      const { organization } = this.#subject;
      if (organization.passwordId === null) throw new Error('the organization has no token to reach GitLab with');
      this.#pool.add({ key: MAIN, client: await this.#session(MAIN, organization.passwordId) });
      const queue = this.#subject.repositories;
      let next = 0;
      const worker = async () => {
        while (next < queue.length && !this.#halted()) {
          const result = await this.#backUp(queue[next++]);
          if (result !== null) this.#record(result);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(this.#deps.work.runConcurrency, queue.length)) }, worker));
    } catch (error) {
      this.#fatal ??= `the task could not go on: ${messageOf(error)}`;
    }
    // The signal lives as long as the service: a listener per finished run would pile up.
    signal.removeEventListener('abort', stop);
    try {
      await this.finish(this.#fatal ?? (signal.aborted ? 'the service stopped' : undefined));
    } finally {
      await stopBeating();
    }
  }

  /**
   * Beats for the task until the returned function is called, ten times per stale time: the
   * task's liveness lease, which keeps another runPlan from taking a live task for a dead one.
   */
  #beat(): () => Promise<void> {
    const { heartbeats, work } = this.#deps;
    const { taskId } = this.#subject;
    const tenantId = this.#request.principal.tenantId;
    let beating: Promise<void> = Promise.resolve();
    const beat = () => {
      // A beat lost to a busy database is made up by the next; one at a time.
      beating = beating.then(() => heartbeats.beat(tenantId, taskId)).catch(() => undefined);
    };
    beat();
    const timer = setInterval(beat, Math.max(1, Math.floor(work.taskStaleAfterMs / 10)));
    return async () => {
      clearInterval(timer);
      await beating;
      await heartbeats.stop(taskId).catch(() => undefined);
    };
  }

  /** Records what is left and the end of the task, with the summary, after every append before it. */
  async finish(reason?: string): Promise<void> {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flush();
    const finishing = this.#appends.then(() => {
      const now = new Date().toISOString();
      const open = this.#periods.at(-1);
      if (open && open.until > now) open.until = now;
      const failure = reason ?? (this.#appendFailure !== null ? `results could not be recorded: ${messageOf(this.#appendFailure)}` : undefined);
      return execute(this.#deps, this.#request, task, taskStream(this.#subject.taskId), {
        type: 'FinishBackupTask',
        data: {
          repositoriesDone: this.#done,
          repositoriesFailed: this.#failed,
          durationMs: Date.now() - this.#started,
          credentialsUsed: this.#usage(),
          throttledPeriods: this.#periods,
          now,
          ...(failure === undefined ? {} : { reason: failure }),
        },
      });
    });
    // Whatever the pool still reports (a resume after the last request) comes after the end, and is refused there.
    this.#appends = finishing.catch(() => undefined);
    await finishing;
  }

  #halted(): boolean {
    return this.#fatal !== null || this.#signal?.aborted === true;
  }

  async #backUp(repository: RepositoryView): Promise<RepositoryResult | null> {
    const counts = new Map<string, number>();
    const base = { repositoryId: repository.id, fullPath: repository.fullPath };
    const used = () => {
      const credentialsUsed = this.#uses(counts);
      return { requests: credentialsUsed.reduce((sum, use) => sum + use.requests, 0), credentialsUsed };
    };
    try {
      await this.#call(counts, (session) => session.project(repository.gitlabId));
      const found: RepositoryCounts = { branches: 0, tags: 0, issues: 0, mergeRequests: 0 };
      for (const list of LISTS) {
        for (let page: number | null = 1; page !== null; ) {
          const at: number = page;
          const answer = await this.#call(counts, (session) => session.projectListPage(list, repository.gitlabId, at, PER_PAGE));
          found[list] += answer.items.length;
          page = answer.nextPage;
        }
      }
      return { ok: true, ...base, counts: found, ...used() };
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

  /** One request through the pool, with a member that the membership check still lets in. */
  async #call<T>(counts: Map<string, number>, send: (session: GitLabSession) => Promise<T>): Promise<T> {
    /** What an additional credential was refused; the request then goes to the main login alone. */
    let refusal: GitLabError | null = null;
    for (;;) {
      if (this.#halted()) throw new RunStopped();
      let member: string | null = null;
      let used: GitLabSession | null = null;
      try {
        const attempt = this.#pool.run(async ({ key, client }) => {
          await this.#gate.fresh();
          if (this.#halted() || !this.#pool.has(key)) throw this.#halted() ? new RunStopped() : new MemberLeft();
          member = key;
          counts.set(key, (counts.get(key) ?? 0) + 1);
          used = client;
          return send(client);
        }, refusal === null ? {} : { member: MAIN });
        return await Promise.race([attempt, this.#stopped!]);
      } catch (error) {
        if (error instanceof MemberLeft) continue;
        if (error instanceof GitLabError && error.failure === 'UNAUTHORIZED' && member !== null) {
          // Sent with a main-login token the run has taken again since: the new one is tried.
          if (member === MAIN && used !== this.#mainSession) continue;
          if (member === MAIN && (await this.#renewMain())) continue;
          await this.#refused(member);
          continue;
        }
        // An additional account may see less of the group than the main login (not a member of
        // a subgroup, a project shared elsewhere): its 403 or 404 says nothing of the repository.
        // The request is made once more with the main login, whose answer is the one recorded.
        if (refusal === null && error instanceof GitLabError && (error.failure === 'FORBIDDEN' || error.failure === 'NOT_FOUND') && member !== null && member !== MAIN && this.#pool.has(MAIN)) {
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
   * An SSO authorization is refreshed by whichever process needs it first (a sync, a verification,
   * another run), and GitLab then ends the access token this run holds; or it simply expires. A 401
   * to the main login is first answered by taking the entry's token again (refreshed if due): only
   * when that is the token GitLab refused is the main login refused.
   */
  #renewMain(): Promise<boolean> {
    const { authMethod, passwordId } = this.#subject.organization;
    if (authMethod !== 'SSO' || passwordId === null) return Promise.resolve(false);
    this.#renewing ??= (async () => {
      const before = this.#mainToken;
      const session = await this.#session(MAIN, passwordId);
      if (this.#mainToken === before) return false;
      this.#pool.add({ key: MAIN, client: session });
      return true;
    })()
      .catch(() => false)
      .finally(() => (this.#renewing = null));
    return this.#renewing;
  }

  /** GitLab answered 401 to a member: it leaves the pool for good, and a credential's refusal is recorded. */
  async #refused(key: string): Promise<void> {
    if (this.#unusable.has(key)) return;
    this.#unusable.add(key);
    this.#pool.remove(key);
    if (key === MAIN) return;
    const command: CredentialCommand = {
      type: 'RecordCredentialVerification',
      data: { credentialId: key, token: { ok: false, failure: 'REVOKED', reason: `GitLab answered 401 during task ${this.#subject.taskId}` } },
    };
    try {
      await write(this.#deps, this.#request, credential, credentialStream(key), command);
    } catch (error) {
      // Removed meanwhile: nothing left to mark.
      if (!(error instanceof DomainError)) throw error;
    }
  }

  async #checkMembership(): Promise<void> {
    const { store } = this.#deps;
    for (const event of await store.readStream(planStream(this.#subject.plan.id), { fromRevision: this.#planNext })) {
      this.#planState = plan.evolve(this.#planState, { type: event.type, data: event.data } as PlanEvent);
      this.#planNext = event.revision + 1n;
    }
    const state = this.#planState;
    const switchedOn = switchedOnCredentials(state);
    const members = [...this.#logins.keys()].filter((key) => key !== MAIN && this.#pool.has(key));
    const candidates = [...new Set([...switchedOn, ...members])].filter((id) => !this.#unusable.has(id));
    await Promise.all(candidates.map((id) => this.#readCredential(id)));
    const effective = (id: string) => switchedOn.includes(id) && !this.#unusable.has(id) && this.#credentials.get(id)?.state.status === 'active';
    for (const key of members) if (!effective(key)) this.#pool.remove(key);
    for (const id of candidates) {
      if (!effective(id) || this.#pool.has(id)) continue;
      const known = this.#credentials.get(id)!;
      try {
        this.#logins.set(id, known.login);
        this.#pool.add({ key: id, client: await this.#session(id, known.passwordId) });
      } catch {
        // Its password entry is gone: the credential cannot be used, and is not tried again.
        this.#unusable.add(id);
      }
    }
  }

  /** Reads what was appended to the credential's stream since the last check. */
  async #readCredential(id: string): Promise<void> {
    const known = this.#credentials.get(id) ?? { next: 0n, state: credential.initialState(), login: '', passwordId: '' };
    for (const event of await this.#deps.store.readStream(credentialStream(id), { fromRevision: known.next })) {
      if (event.metadata.tenantId !== this.#request.principal.tenantId) break;
      const recorded = { type: event.type, data: event.data } as CredentialEvent;
      known.state = credential.evolve(known.state, recorded);
      if (recorded.type === 'CredentialAdded') {
        known.login = recorded.data.login;
        known.passwordId = recorded.data.passwordId;
      }
      known.next = event.revision + 1n;
    }
    this.#credentials.set(id, known);
  }

  async #session(key: string, passwordId: string): Promise<GitLabSession> {
    // An SSO organization's main login holds an OAuth authorization, refreshed when about to expire.
    const { gitlabUrl, authMethod } = this.#subject.organization;
    const { token, kind } = await usableToken(this.#deps, { tenantId: this.#request.principal.tenantId, gitlabUrl, passwordId, authMethod: key === MAIN ? authMethod : undefined });
    const session = this.#deps.gitlab.session(
      { gitlabUrl, token, kind },
      {
        rateLimit: 'fail',
        onResponse: (info) => this.#pool.observe(key, info.rateLimit),
        // A stopping service does not wait for GitLab's Retry-After or backoff.
        signal: this.#signal ?? this.#deps.jobs.signal,
        beforeRetry: () => this.#mayRetry(key),
      },
    );
    this.#sessions.set(key, [...(this.#sessions.get(key) ?? []), session]);
    if (key === MAIN) {
      this.#mainSession = session;
      this.#mainToken = token;
    }
    return session;
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

  #credentialThrottled(key: string, until: Date): void {
    const at = until.toISOString();
    // A burst of 429s for one window is one event.
    if (this.#lastThrottle.get(key) === at) return;
    this.#lastThrottle.set(key, at);
    void this.#append({ type: 'RecordCredentialThrottled', data: { credentialId: key === MAIN ? null : key, login: this.#logins.get(key) ?? '', until: at } });
  }

  #record(result: RepositoryResult): void {
    this.#done += 1;
    if (!result.ok) this.#failed += 1;
    this.#pending.push(result);
    if (this.#pending.length >= MAX_BATCH) this.#flush();
    else this.#flushTimer ??= setTimeout(() => this.#flush(), this.#deps.work.runFlushMs);
  }

  #flush(): void {
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    if (this.#pending.length === 0) return;
    const results = this.#pending;
    this.#pending = [];
    void this.#append({ type: 'RecordRepositoryResults', data: { results } });
  }

  #append(command: TaskCommand): Promise<unknown> {
    this.#appends = this.#appends.then(() =>
      write(this.#deps, this.#request, task, taskStream(this.#subject.taskId), command).catch((error: unknown) => {
        this.#appendFailure ??= error;
      }),
    );
    return this.#appends;
  }

  #uses(counts: Map<string, number>): CredentialUse[] {
    return [...counts]
      .filter(([, requests]) => requests > 0)
      .map(([key, requests]) => ({ credentialId: key === MAIN ? null : key, login: this.#logins.get(key) ?? '', requests }));
  }

  /** The HTTP requests each member's sessions made: what GitLab saw of it, attempt by attempt. */
  #usage(): CredentialUse[] {
    const counts = new Map([...this.#sessions].map(([key, sessions]) => [key, sessions.reduce((sum, session) => sum + session.requests, 0)]));
    return this.#uses(counts);
  }
}

