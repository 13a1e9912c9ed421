import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { DomainError } from '../../core/errors';
import { restore, restoreStream, type RestoreCommand, type RestoreCounts, type RestoreTarget } from '../../domain/restore';
import type { RefusalCode } from '../../errors';
import { messageOf } from '../../errors';
import { OAuthGrantError } from '../../gitlab/oauth';
import { GitLabError, type GitLabNamespace } from '../../gitlab/types';
import { passwordById } from '../../queries/catalog';
import { credentialsOf, organizationById } from '../../queries/organizations';
import { restoreById, type RestoreView } from '../../queries/restores';
import { snapshotById, type SnapshotView } from '../../queries/snapshots';
import type { OrganizationView } from '../../queries/views';
import { execute, type AppDeps, type Request } from '../deps';
import type { JobOutcome } from '../jobs';
import { found } from '../found';
import { beatWhileRunning } from '../plan-run/heartbeat';
import type { GitLabSession } from '../gitlab-port';
import { checkUsable, type UsableToken, usableToken } from '../verification';
import type { Manifest, MetadataKind } from './manifest';
import { manifestOf } from './snapshots';

export interface RestoreInput {
  snapshotId: string;
  target: RestoreTarget;
  namespacePath?: string | null;
  projectName?: string | null;
  passwordId?: string | null;
}

/** A restore refused before anything was made or recorded, naming the input field at fault. */
export class RestoreRefused extends DomainError {
  constructor(code: RefusalCode, field: string, message: string) {
    super(code, message, field);
  }
}

/** What writing a new project and its content through the API and git takes. */
const WRITE_SCOPES = ['api', 'write_repository'];
/** GitLab's rule for a project's path. */
const PROJECT_PATH = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,254}$/;
/** The settings of the backed-up project the new one takes; the rest (its id, its URLs, its counts) are the old project's own. */
const KEPT_SETTINGS = ['description', 'topics', 'issues_enabled', 'merge_requests_enabled', 'wiki_enabled', 'lfs_enabled', 'request_access_enabled'];
/** Creating the project, pushing its refs, then labels, milestones, issues with their notes, releases. */
const STEPS = ['project', 'repository', 'labels', 'milestones', 'issues', 'releases'] as const;

export function archiveUrlOf(snapshotId: string): string {
  return `/snapshots/${snapshotId}/archive`;
}

/**
 * Restores a snapshot. As an archive, the restore is recorded and complete at once: its URL is
 * the snapshot's archive download. Into GitLab, everything that can be checked is checked first
 * (the snapshot, the password entry's token with api and write_repository, the namespace, no
 * project at the path), and a refusal records nothing and makes nothing; then RestoreStarted is
 * recorded and the restore answers RUNNING while the work goes on in the background.
 */
export async function restoreSnapshot(deps: AppDeps, request: Request, input: RestoreInput): Promise<RestoreView> {
  const { tenantId } = request.principal;
  const view = await snapshotById(deps.db, tenantId, input.snapshotId);
  if (view === null) throw new RestoreRefused('NOT_FOUND', 'snapshotId', `no snapshot ${input.snapshotId}`);
  if (view.expiredAt !== null)
    throw new RestoreRefused('CONFLICT', 'snapshotId', `snapshot ${view.id} has expired under its plan's retention: its objects may be gone`);
  const restoreId = randomUUID();
  const stream = restoreStream(restoreId);
  const base = { restoreId, snapshotId: view.id, repositoryId: view.repositoryId, organizationId: view.organizationId, startedAt: new Date().toISOString() };
  if (input.target === 'ARCHIVE') {
    await execute(deps, request, restore, stream, {
      type: 'StartRestore',
      data: { ...base, target: 'ARCHIVE', namespacePath: null, projectName: null, passwordId: null },
    });
    await execute(deps, request, restore, stream, {
      type: 'CompleteRestore',
      data: {
        projectPath: null,
        projectId: null,
        archiveUrl: archiveUrlOf(view.id),
        counts: { refs: 0, labels: 0, milestones: 0, issues: 0, notes: 0, releases: 0 },
        leftOut: { refs: [], mergeRequests: 0, wiki: false },
        finishedAt: new Date().toISOString(),
      },
    });
    return found(await restoreById(deps.db, tenantId, restoreId), 'restore', restoreId);
  }
  const target = await checkedTarget(deps, request, view, input);
  await execute(deps, request, restore, stream, {
    type: 'StartRestore',
    data: { ...base, target: 'GITLAB_PROJECT', namespacePath: target.namespace.fullPath, projectName: target.projectName, passwordId: target.passwordId },
  });
  deps.jobs.start(`restore ${restoreId}`, (signal) => new RestoreWork(deps, request, restoreId, view, target, signal).run(), 'restore');
  return found(await restoreById(deps.db, tenantId, restoreId), 'restore', restoreId);
}

interface RestoreTargetChecked {
  organization: OrganizationView;
  namespace: GitLabNamespace;
  projectName: string;
  passwordId: string;
  session: GitLabSession;
}

/** Every check a restore into GitLab can make before it makes anything; each refusal names its field. */
async function checkedTarget(deps: AppDeps, request: Request, view: SnapshotView, input: RestoreInput): Promise<RestoreTargetChecked> {
  const { tenantId } = request.principal;
  const namespacePath = input.namespacePath?.trim().replace(/^\/+|\/+$/g, '') ?? '';
  const projectName = input.projectName?.trim() ?? '';
  const passwordId = input.passwordId ?? '';
  if (namespacePath === '') throw new RestoreRefused('INVALID_INPUT', 'namespacePath', 'namespacePath: name the group the new project goes into');
  if (!PROJECT_PATH.test(projectName) || /\.(git|atom)$/.test(projectName)) {
    throw new RestoreRefused(
      'INVALID_INPUT',
      'projectName',
      "projectName: a project's path has letters, digits, '_', '-' and '.', does not start with '-' nor end in .git or .atom",
    );
  }
  if (passwordId === '') throw new RestoreRefused('INVALID_INPUT', 'passwordId', 'passwordId: name the password entry whose token writes the new project');
  const organization = await organizationById(deps.db, tenantId, view.organizationId);
  if (organization === null) throw new RestoreRefused('NOT_FOUND', 'snapshotId', "the snapshot's organization is no longer in Backplane");
  if ((await passwordById(deps.db, tenantId, passwordId)) === null)
    throw new RestoreRefused('INVALID_INPUT', 'passwordId', `passwordId: no password ${passwordId}`);

  // The token is checked against the account it is known for (the organization's main login or a
  // credential's); an entry of its own, kept for restores, answers for whoever GitLab says it is.
  const main = organization.passwordId === passwordId;
  const credential = main
    ? undefined
    : (await credentialsOf(deps.db, tenantId, organization.id)).find((c) => c.passwordId === passwordId && c.removedAt === null);
  const authMethod = main ? organization.authMethod : 'TOKEN';
  let token: UsableToken;
  try {
    token = await usableToken(deps, { tenantId, gitlabUrl: organization.gitlabUrl, passwordId, authMethod });
  } catch (error) {
    if (error instanceof OAuthGrantError) throw new RestoreRefused('GITLAB_AUTH_FAILED', 'passwordId', `passwordId: ${error.message}`);
    throw error;
  }
  const session = deps.gitlab.session(
    { gitlabUrl: organization.gitlabUrl, token: token.token, kind: token.kind, login: organization.login },
    { signal: deps.jobs.signal },
  );
  const login = main ? organization.login : (credential?.login ?? (await whoseToken(session)));
  const check = await checkUsable(
    deps,
    { tenantId, deviceId: organization.defaultDeviceId, gitlabUrl: organization.gitlabUrl, groupPath: namespacePath, login },
    token,
  );
  if (!check.ok) {
    if (check.failure === 'GROUP_NOT_FOUND') throw new RestoreRefused('INVALID_INPUT', 'namespacePath', `namespacePath: ${check.reason}`);
    throw new RestoreRefused('GITLAB_AUTH_FAILED', 'passwordId', `passwordId: ${check.reason}`);
  }
  const missing = token.kind === 'oauth' ? [] : WRITE_SCOPES.filter((scope) => !check.scopes.includes(scope));
  if (missing.length > 0) {
    throw new RestoreRefused(
      'GITLAB_AUTH_FAILED',
      'passwordId',
      `passwordId: the token lacks the scopes ${missing.join(', ')}: a restore writes a project and pushes to it; use a token with api and write_repository`,
    );
  }
  let namespace: GitLabNamespace;
  try {
    namespace = await session.namespace(namespacePath);
  } catch (error) {
    if (error instanceof GitLabError && (error.failure === 'NOT_FOUND' || error.failure === 'FORBIDDEN')) {
      throw new RestoreRefused(
        'INVALID_INPUT',
        'namespacePath',
        `namespacePath: GitLab has no namespace ${namespacePath} that ${check.login ?? login} can see`,
      );
    }
    throw error;
  }
  const projectPath = `${namespace.fullPath}/${projectName}`;
  if ((await session.findProject(projectPath)) !== null) {
    throw new RestoreRefused('CONFLICT', 'projectName', `projectName: a project at ${projectPath} exists: a restore never overwrites a project`);
  }
  return { organization, namespace, projectName, passwordId, session };
}

/** The token's user, or null when GitLab does not take the token: the check that follows says why. */
async function whoseToken(session: GitLabSession): Promise<string | null> {
  try {
    return (await session.currentUser()).username;
  } catch (error) {
    if (error instanceof GitLabError && (error.failure === 'UNAUTHORIZED' || error.failure === 'FORBIDDEN')) return null;
    throw error;
  }
}

type Raw = Record<string, unknown>;

/** One restore into a new GitLab project, from the snapshot's storage, recorded step by step. */
class RestoreWork {
  readonly #counts: RestoreCounts = { refs: 0, labels: 0, milestones: 0, issues: 0, notes: 0, releases: 0 };
  #project: { id: number; fullPath: string; httpUrlToRepo: string } | null = null;
  #leftOutRefs: string[] = [];
  #pushedTags = new Set<string>();
  #stepsDone = 0;

  constructor(
    private readonly deps: AppDeps,
    private readonly request: Request,
    private readonly restoreId: string,
    private readonly view: SnapshotView,
    private readonly target: RestoreTargetChecked,
    private readonly signal: AbortSignal,
  ) {}

  async run(): Promise<JobOutcome> {
    const scratch = join(this.deps.backup.scratch, `restore-${this.restoreId}`);
    // Its liveness lease: a restore whose process is gone is recorded as failed by the stale-work check, not left RUNNING.
    const stopBeating = beatWhileRunning(this.deps, this.request.principal.tenantId, this.restoreId);
    try {
      const store = this.deps.backup.store(this.request.principal.tenantId, this.view.storageId);
      const manifest = await manifestOf(this.deps, this.request.principal.tenantId, this.view);
      const metadata = async <T>(kind: MetadataKind): Promise<T> => JSON.parse((await store.get(manifest.metadata[kind].sha256)).toString('utf8')) as T;
      const project = await metadata<Raw>('project');
      await this.#createProject(project);
      await this.#step('project');
      await mkdir(scratch, { recursive: true });
      await this.#pushRepository(manifest, scratch, (sha256) => store.get(sha256));
      await this.#step('repository');
      await this.#labels(await metadata<Raw[]>('labels'));
      await this.#step('labels');
      const milestones = await this.#milestones(await metadata<Raw[]>('milestones'));
      await this.#step('milestones');
      await this.#issues(await metadata<Raw[]>('issues'), milestones);
      await this.#step('issues');
      await this.#releases(await metadata<Raw[]>('releases'));
      await this.#step('releases');
      const mergeRequests = (await metadata<Raw[]>('mergeRequests')).length;
      const made = this.#project!;
      await this.#record({
        type: 'CompleteRestore',
        data: {
          projectPath: made.fullPath,
          projectId: made.id,
          archiveUrl: null,
          counts: this.#counts,
          // GitLab cannot take merge requests without their branches' history as it was: they stay in the archive.
          leftOut: { refs: this.#leftOutRefs, mergeRequests, wiki: manifest.wiki !== null },
          finishedAt: new Date().toISOString(),
        },
      });
      return 'completed';
    } catch (error) {
      const reason = this.signal.aborted ? 'the service stopped before the restore ended' : `the restore could not go on: ${messageOf(error)}`;
      await this.#record({ type: 'FailRestore', data: { reason, projectPath: this.#project?.fullPath ?? null, finishedAt: new Date().toISOString() } });
      return this.signal.aborted ? 'stopped' : 'failed';
    } finally {
      await rm(scratch, { recursive: true, force: true });
      await stopBeating();
    }
  }

  async #record(command: RestoreCommand): Promise<void> {
    await execute(this.deps, this.request, restore, restoreStream(this.restoreId), command);
  }

  async #step(step: (typeof STEPS)[number]): Promise<void> {
    if (this.signal.aborted) throw new Error('stopped');
    this.#stepsDone += 1;
    await this.#record({ type: 'RecordRestoreProgress', data: { step, stepsDone: this.#stepsDone, stepsTotal: STEPS.length, at: new Date().toISOString() } });
  }

  async #createProject(project: Raw): Promise<void> {
    const settings = Object.fromEntries(KEPT_SETTINGS.flatMap((key) => (project[key] === undefined || project[key] === null ? [] : [[key, project[key]]])));
    // Private whatever the original was, or the instance's default: a restore never widens who sees the code.
    const made = await this.target.session.createProject({
      namespaceId: this.target.namespace.id,
      path: this.target.projectName,
      name: this.target.projectName,
      settings: { ...settings, visibility: 'private' },
    });
    // The token goes with the push: only to the organization's own GitLab.
    if (new URL(made.httpUrlToRepo).origin !== new URL(this.target.organization.gitlabUrl).origin) {
      throw new Error(
        `GitLab gave the new project's git address on ${new URL(made.httpUrlToRepo).origin}, not on ${new URL(this.target.organization.gitlabUrl).origin}: nothing is pushed there`,
      );
    }
    this.#project = made;
  }

  /** The bundle, read chunk by chunk from storage into a scratch file, then cloned and pushed. */
  async #pushRepository(manifest: Manifest, scratch: string, get: (sha256: string) => Promise<Buffer>): Promise<void> {
    const bundle = manifest.git.bundle;
    if (bundle === null) return;
    const file = join(scratch, 'repository.bundle');
    const out = createWriteStream(file);
    // A full or failing disk is this restore's failure, not an error event nobody listens to.
    const failed = new Promise<never>((_resolve, reject) => out.once('error', reject));
    failed.catch(() => undefined);
    try {
      for (const chunk of bundle.chunks) {
        const bytes = await get(chunk.sha256);
        if (!out.write(bytes)) await Promise.race([new Promise<void>((resolve) => out.once('drain', () => resolve())), failed]);
      }
    } finally {
      out.end();
      await finished(out);
    }
    const pushed = await this.target.session.pushBundle({ file, dir: join(scratch, 'repository.git'), url: this.#project!.httpUrlToRepo });
    this.#counts.refs = pushed.pushed.length;
    this.#leftOutRefs = pushed.leftOut;
    for (const ref of pushed.pushed) if (ref.name.startsWith('refs/tags/')) this.#pushedTags.add(ref.name.slice('refs/tags/'.length));
  }

  async #labels(labels: Raw[]): Promise<void> {
    for (const label of labels) {
      const name = stringOf(label.name);
      const color = stringOf(label.color);
      if (name === null || color === null) continue;
      await this.target.session.createLabel(this.#project!.id, { name, color, description: stringOf(label.description) });
      this.#counts.labels += 1;
    }
  }

  /** The new milestones' ids by the old ones', for the issues that name them. */
  async #milestones(milestones: Raw[]): Promise<Map<number, number>> {
    const ids = new Map<number, number>();
    for (const milestone of milestones) {
      const title = stringOf(milestone.title);
      if (title === null) continue;
      const created = await this.target.session.createMilestone(this.#project!.id, {
        title,
        description: stringOf(milestone.description),
        due_date: stringOf(milestone.due_date),
        start_date: stringOf(milestone.start_date),
      });
      if (typeof milestone.id === 'number') ids.set(milestone.id, created.id);
      if (milestone.state === 'closed') await this.target.session.setMilestoneState(this.#project!.id, created.id, 'close');
      this.#counts.milestones += 1;
    }
    return ids;
  }

  /** Authors and dates cannot be set through the API by a non-admin: each body says whose and when it was. */
  async #issues(issues: Raw[], milestones: Map<number, number>): Promise<void> {
    for (const issue of issues) {
      const title = stringOf(issue.title);
      if (title === null) continue;
      const oldMilestone = (issue.milestone as Raw | null | undefined)?.id;
      const created = await this.target.session.createIssue(this.#project!.id, {
        title,
        description: originally(issue, stringOf(issue.description)),
        labels: Array.isArray(issue.labels) ? issue.labels.filter((label): label is string => typeof label === 'string') : [],
        milestone_id: typeof oldMilestone === 'number' ? (milestones.get(oldMilestone) ?? null) : null,
        confidential: issue.confidential === true,
        due_date: stringOf(issue.due_date),
      });
      this.#counts.issues += 1;
      // GitLab makes every issue open: one closed in the backup is closed again.
      if (issue.state === 'closed') await this.target.session.setIssueState(this.#project!.id, created.iid, 'close');
      for (const note of Array.isArray(issue.notes) ? (issue.notes as Raw[]) : []) {
        // System notes (label changes, mentions) are GitLab's own record; a new project makes its own.
        if (note.system === true) continue;
        // An internal note stays internal (confidential is GitLab's older name for it).
        await this.target.session.createIssueNote(
          this.#project!.id,
          created.iid,
          originally(note, stringOf(note.body)),
          note.internal === true || note.confidential === true,
        );
        this.#counts.notes += 1;
      }
    }
  }

  /** A release hangs on a tag: only those whose tag was pushed come back. */
  async #releases(releases: Raw[]): Promise<void> {
    for (const release of releases) {
      const tag = stringOf(release.tag_name);
      if (tag === null || !this.#pushedTags.has(tag)) continue;
      await this.target.session.createRelease(this.#project!.id, {
        tag_name: tag,
        name: stringOf(release.name),
        description: stringOf(release.description),
        released_at: stringOf(release.released_at),
      });
      this.#counts.releases += 1;
    }
  }
}

/** The body with a first line saying who wrote it and when, as the backup had it. */
function originally(item: Raw, body: string | null): string {
  const author = stringOf((item.author as Raw | null | undefined)?.username) ?? 'unknown';
  const at = stringOf(item.created_at) ?? 'an unknown date';
  return `Originally by \`${author}\` on ${at}\n\n${body ?? ''}`;
}

function stringOf(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
