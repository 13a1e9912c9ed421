import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { SnapshotCounts } from '../../domain/snapshot';
import type { MetadataList } from '../../gitlab/types';
import type { RepositoryView } from '../../queries/repositories';
import {
  METADATA_KINDS,
  sameRefs,
  serializeManifest,
  type GitPart,
  type GitRef,
  type Manifest,
  type MetadataKind,
  type StoredObject,
} from '../backup/manifest';
import type { SnapshotStore } from '../backup/snapshot-store';
import type { GitLabSession } from '../gitlab-port';
import { withoutSecrets } from './secret-fields';
import { type Call, SnapshotWork } from './snapshot-work';

/** GitLab's largest page: the fewest requests for a list. */
const PER_PAGE = 100;

/** Items whose notes are asked for at once: enough to overlap the answers' waits, few enough not to flood the pool. */
const NOTES_AT_ONCE = 4;

/** Where a run keeps its mirrors and scratch files; a mirror is fetched into again by the next run. */
export interface SnapshotPlace {
  store: SnapshotStore;
  /** The bare mirrors of the tenant's repositories. */
  mirrors: string;
  /** Scratch space for bundles on their way to storage. */
  scratch: string;
  /** Splits a bundle into content-defined chunks, so that what did not change is stored once. */
  chunks(file: string): AsyncIterable<Buffer>;
  /** Writes a bundle of every ref of the mirror to the file and answers the refs it holds; null when the mirror has no refs. */
  bundle(mirror: string, file: string): Promise<GitRef[] | null>;
}

export interface TakenSnapshot {
  manifest: Manifest;
  manifestHash: string;
  bytes: number;
  objects: number;
  newBytes: number;
  storedBytes: number;
  counts: SnapshotCounts;
}

/** What goes into storage for one snapshot, counted as it goes. */
class Tally {
  bytes = 0;
  newBytes = 0;
  storedBytes = 0;
  readonly #named = new Set<string>();

  constructor(private readonly store: SnapshotStore) {}

  async put(plain: Buffer): Promise<StoredObject> {
    const stored = await this.store.put(plain);
    this.#name(stored);
    if (stored.isNew) this.newBytes += stored.size;
    this.storedBytes += stored.storedBytes;
    return { sha256: stored.sha256, size: stored.size };
  }

  /** An object already in storage, named again (a bundle that did not change since the last snapshot). */
  reuse(object: StoredObject): void {
    this.#name(object);
  }

  get objects(): number {
    return this.#named.size;
  }

  #name(object: StoredObject): void {
    if (this.#named.has(object.sha256)) return;
    this.#named.add(object.sha256);
    this.bytes += object.size;
  }
}

/**
 * Takes one snapshot of a repository: its metadata through the API, its git refs and objects
 * fetched into its mirror, each stored as content-addressed objects, then the manifest naming
 * them. Every request goes through `call`, which hands it to a member of the run's pool. The
 * objects are durably stored before this returns; the caller records the snapshot after that.
 */
export async function takeSnapshot(
  repository: RepositoryView,
  gitlabUrl: string,
  call: Call,
  place: SnapshotPlace,
  previous: Manifest | null,
): Promise<TakenSnapshot> {
  const tally = new Tally(place.store);
  const work = new SnapshotWork(call);
  const settings = await work.call((session) => session.projectSettings(repository.gitlabId));
  const url = sameOrigin(settings.httpUrlToRepo, gitlabUrl, repository.fullPath);
  await mkdir(place.mirrors, { recursive: true, mode: 0o700 });
  // The API pages and the git work wait on different things (GitLab's answers, git processes): they overlap.
  const [metadata, git, wiki] = await work.allDone([
    readMetadata(repository.gitlabId, settings.raw, work, tally),
    gitPart(join(place.mirrors, `${repository.id}.git`), url, work, place, tally, previous?.git ?? null),
    settings.wikiEnabled
      ? gitPart(join(place.mirrors, `${repository.id}.wiki.git`), url.replace(/\.git$/, '.wiki.git'), work, place, tally, previous?.wiki ?? null, {
          absentIsEmpty: true,
        })
      : Promise.resolve(null),
  ]);
  const manifest: Manifest = {
    format: 'backplane-snapshot/1',
    repository: { id: repository.id, gitlabId: repository.gitlabId, fullPath: repository.fullPath },
    takenAt: new Date().toISOString(),
    git,
    wiki: wiki !== null && wiki.refs.length > 0 ? wiki : null,
    metadata: metadata.files,
  };
  const stored = await tally.put(serializeManifest(manifest));
  const heads = git.refs.filter((ref) => ref.name.startsWith('refs/heads/')).length;
  const tags = git.refs.filter((ref) => ref.name.startsWith('refs/tags/')).length;
  return {
    manifest,
    manifestHash: stored.sha256,
    bytes: tally.bytes,
    objects: tally.objects,
    newBytes: tally.newBytes,
    storedBytes: tally.storedBytes,
    counts: { refs: git.refs.length, branches: heads, tags, ...metadata.counts },
  };
}

/**
 * The repository's git address as GitLab gives it, on the organization's own GitLab: a token
 * goes with every git request, so an address elsewhere (a project answer that was tampered with,
 * a misconfigured external URL) is refused rather than followed.
 */
function sameOrigin(httpUrlToRepo: string, gitlabUrl: string, fullPath: string): string {
  let url: URL;
  try {
    url = new URL(httpUrlToRepo);
  } catch {
    throw new Error(`GitLab gave no usable git address for ${fullPath}`);
  }
  const expected = new URL(gitlabUrl);
  if (url.origin !== expected.origin || url.username !== '' || url.password !== '') {
    throw new Error(
      `GitLab gave the git address of ${fullPath} on ${url.origin}, not on the organization's ${expected.origin}: it is not fetched with the organization's tokens`,
    );
  }
  return url.href;
}

const LIST_OF: Record<Exclude<MetadataKind, 'project'>, MetadataList> = {
  labels: 'labels',
  milestones: 'milestones',
  issues: 'issues',
  mergeRequests: 'mergeRequests',
  releases: 'releases',
};

type Item = Record<string, unknown>;

async function readMetadata(projectId: number, project: Item, work: SnapshotWork, tally: Tally) {
  const lists = {} as Record<Exclude<MetadataKind, 'project'>, Item[]>;
  // Each list is paged in order, the lists side by side: the pool spreads them over its members.
  await work.allDone(
    (Object.keys(LIST_OF) as (keyof typeof LIST_OF)[]).map(async (kind) => {
      lists[kind] = await allPages(work, LIST_OF[kind], projectId);
    }),
  );
  const withNotes = async (items: Item[], list: 'issueNotes' | 'mergeRequestNotes') => {
    let count = 0;
    for (let at = 0; at < items.length; at += NOTES_AT_ONCE) {
      await work.allDone(
        items.slice(at, at + NOTES_AT_ONCE).map(async (item) => {
          const notes = await allPages(work, list, projectId, iidOf(item));
          item.notes = notes;
          count += notes.length;
        }),
      );
    }
    return count;
  };
  const [issueNotes, mergeRequestNotes] = await work.allDone([withNotes(lists.issues, 'issueNotes'), withNotes(lists.mergeRequests, 'mergeRequestNotes')]);
  const files = {} as Manifest['metadata'];
  for (const kind of METADATA_KINDS) {
    const content = kind === 'project' ? withoutSecrets(project) : lists[kind];
    const object = await tally.put(Buffer.from(JSON.stringify(content)));
    files[kind] = { ...object, count: kind === 'project' ? 1 : lists[kind].length };
  }
  return {
    files,
    counts: {
      labels: lists.labels.length,
      milestones: lists.milestones.length,
      issues: lists.issues.length,
      issueNotes,
      mergeRequests: lists.mergeRequests.length,
      mergeRequestNotes,
      releases: lists.releases.length,
    },
  };
}

async function allPages(work: SnapshotWork, list: MetadataList, projectId: number, parentIid?: number): Promise<Item[]> {
  const items: Item[] = [];
  for (let page: number | null = 1; page !== null; ) {
    const at: number = page;
    // work.call refuses once another part has failed: the rest of the list is not asked for.
    const answer = await work.call((session: GitLabSession) => session.metadataPage(list, projectId, at, PER_PAGE, parentIid));
    items.push(...answer.items);
    page = answer.nextPage;
  }
  return items;
}

function iidOf(item: Item): number {
  const iid = item.iid;
  if (typeof iid !== 'number' || !Number.isInteger(iid)) throw new Error('GitLab listed an item without an iid');
  return iid;
}

/**
 * Fetches the repository into its mirror and stores a bundle of it. A mirror whose refs are
 * those of the last snapshot names that snapshot's chunks again (when they are all still
 * stored) rather than bundling anew: an unchanged repository costs a fetch and nothing more.
 */
async function gitPart(
  mirror: string,
  url: string,
  work: SnapshotWork,
  place: SnapshotPlace,
  tally: Tally,
  previous: GitPart | null,
  options: { absentIsEmpty?: boolean } = {},
): Promise<GitPart> {
  let refs: GitRef[];
  try {
    // Not held to the API limit (a clone can take many minutes), but stopped with the rest.
    refs = (await work.git((session) => session.fetchMirror({ url, dir: mirror, signal: work.signal }))).refs;
  } catch (error) {
    // A wiki that was never written has no repository on GitLab.
    if (options.absentIsEmpty && (error as { failure?: string }).failure === 'NOT_FOUND') return { refs: [], bundle: null };
    throw error;
  }
  // Another part failed while git ran: no bundle is written for a snapshot that will not be recorded.
  work.check();
  if (refs.length === 0) return { refs, bundle: null };
  if (previous?.bundle && sameRefs(previous.refs, refs) && (await allStored(place.store, previous.bundle.chunks))) {
    for (const chunk of previous.bundle.chunks) tally.reuse(chunk);
    return { refs, bundle: previous.bundle };
  }
  await mkdir(place.scratch, { recursive: true, mode: 0o700 });
  const folder = await mkdtemp(join(place.scratch, 'bundle-'));
  try {
    const file = join(folder, 'repository.bundle');
    // Another plan's run may have fetched into the mirror since: the manifest names the refs the bundle holds.
    const bundled = await place.bundle(mirror, file);
    if (bundled === null) return { refs: [], bundle: null };
    const whole = createHash('sha256');
    let size = 0;
    const chunks: StoredObject[] = [];
    for await (const chunk of place.chunks(file)) {
      whole.update(chunk);
      size += chunk.length;
      chunks.push(await tally.put(chunk));
    }
    return { refs: bundled, bundle: { sha256: whole.digest('hex'), size, chunks } };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

async function allStored(store: SnapshotStore, objects: StoredObject[]): Promise<boolean> {
  for (const object of objects) if (!(await store.has(object.sha256))) return false;
  return true;
}
