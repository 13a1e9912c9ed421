import { DomainError } from '../../core/errors';
import { BackplaneError } from '../../errors';
import { snapshot, snapshotStream } from '../../domain/snapshot';
import { snapshotById, type SnapshotView } from '../../queries/snapshots';
import { execute, type AppDeps, type Request } from '../deps';
import { found } from '../found';
import { METADATA_KINDS, objectsOf, parseManifest, type GitPart, type Manifest } from './manifest';

/** A snapshot's manifest, read back from its storage and checked against the hash the history holds. */
export async function manifestOf(deps: AppDeps, tenantId: string, view: SnapshotView): Promise<Manifest> {
  const bytes = await deps.backup.store(tenantId, view.storageId).get(view.manifestHash);
  return parseManifest(bytes);
}

/**
 * Reads back every object of the snapshot, checks each against its hash (the store checks it),
 * and records the outcome with who asked. The first object missing or altered is named.
 */
export async function verifySnapshot(deps: AppDeps, request: Request, snapshotId: string): Promise<SnapshotView> {
  const { tenantId } = request.principal;
  const view = found(await snapshotById(deps.db, tenantId, snapshotId), 'snapshot', snapshotId);
  if (view.expiredAt !== null) throw new DomainError('CONFLICT', `snapshot ${view.id} has expired under its plan's retention: its objects may be gone`);
  const store = deps.backup.store(tenantId, view.storageId);
  let checkedObjects = 1;
  let firstBrokenObject: string | null = null;
  let manifest: Manifest | null = null;
  try {
    manifest = parseManifest(await store.get(view.manifestHash));
  } catch (error) {
    damageOnly(error);
    firstBrokenObject = view.manifestHash;
  }
  for (const object of manifest === null ? [] : objectsOf(manifest)) {
    checkedObjects += 1;
    try {
      if ((await store.get(object.sha256)).length !== object.size) firstBrokenObject ??= object.sha256;
    } catch (error) {
      damageOnly(error);
      firstBrokenObject ??= object.sha256;
    }
  }
  // A manifest naming fewer objects than recorded is itself a broken snapshot.
  if (firstBrokenObject === null && checkedObjects !== view.objects) firstBrokenObject = view.manifestHash;
  await execute(deps, request, snapshot, snapshotStream(view.id), {
    type: 'RecordSnapshotVerification',
    data: { verifiedAt: new Date().toISOString(), ok: firstBrokenObject === null, checkedObjects: Math.min(checkedObjects, view.objects), firstBrokenObject },
  });
  return found(await snapshotById(deps.db, tenantId, snapshotId), 'snapshot', snapshotId);
}

/**
 * What verification may record: an object missing or altered (or a manifest that is not one).
 * A storage out of reach says nothing of the snapshot, and is answered, not recorded.
 */
function damageOnly(error: unknown): void {
  if (error instanceof BackplaneError && error.code !== 'SNAPSHOT_DAMAGED') throw error;
}

export interface ArchiveEntry {
  name: string;
  size: number;
  body: () => AsyncIterable<Buffer>;
}

/**
 * A snapshot's archive for the caller to take away, recorded in the history (who took which
 * repository's content, when) before a byte of it goes out.
 */
export async function takeArchive(deps: AppDeps, request: Request, snapshotId: string): Promise<{ view: SnapshotView; entries: ArchiveEntry[] }> {
  const archive = await archiveEntries(deps, request.principal.tenantId, snapshotId);
  await execute(deps, request, snapshot, snapshotStream(archive.view.id), { type: 'RecordSnapshotDownload', data: { at: new Date().toISOString() } });
  return archive;
}

/**
 * What a snapshot's archive holds: the git bundle (and the wiki's), one JSON file per kind of
 * metadata, and the manifest. Bodies are read object by object as the archive is written, so a
 * large bundle is never held whole.
 */
export async function archiveEntries(deps: AppDeps, tenantId: string, snapshotId: string): Promise<{ view: SnapshotView; entries: ArchiveEntry[] }> {
  const view = found(await snapshotById(deps.db, tenantId, snapshotId), 'snapshot', snapshotId);
  // Its objects may be removed by now: an expired snapshot is not offered whole.
  if (view.expiredAt !== null) throw new DomainError('NOT_FOUND', `snapshot ${view.id} has expired under its plan's retention`);
  const store = deps.backup.store(tenantId, view.storageId);
  const manifestBytes = await store.get(view.manifestHash);
  const manifest = parseManifest(manifestBytes);
  const folder = view.fullPath.split('/').at(-1) ?? 'repository';
  const read = (sha256: string) =>
    async function* () {
      yield await store.get(sha256);
    };
  const bundleEntry = (part: GitPart, name: string): ArchiveEntry[] =>
    part.bundle === null
      ? []
      : [
          {
            name,
            size: part.bundle.size,
            body: async function* () {
              for (const chunk of part.bundle!.chunks) yield await store.get(chunk.sha256);
            },
          },
        ];
  const entries: ArchiveEntry[] = [
    ...bundleEntry(manifest.git, `${folder}/repository.bundle`),
    ...(manifest.wiki ? bundleEntry(manifest.wiki, `${folder}/wiki.bundle`) : []),
    ...METADATA_KINDS.map((kind) => ({
      name: `${folder}/metadata/${kind}.json`,
      size: manifest.metadata[kind].size,
      body: read(manifest.metadata[kind].sha256),
    })),
    {
      name: `${folder}/manifest.json`,
      size: manifestBytes.length,
      body: async function* () {
        yield manifestBytes;
      },
    },
  ];
  return { view, entries };
}
