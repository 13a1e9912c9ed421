// The manifest of a snapshot: every object it names by the SHA-256 of its plain content, the
// git refs, and what the metadata holds. It is stored as an object itself; its hash goes into
// the log (SnapshotRecorded), so the log vouches for everything the manifest names.

export const MANIFEST_FORMAT = 'backplane-snapshot/1';

export interface StoredObject {
  sha256: string;
  size: number;
}

export interface GitRef {
  name: string;
  sha: string;
}

/** A repository's git data: a bundle of every ref, stored in content-defined chunks. */
export interface GitPart {
  refs: GitRef[];
  /** null: the repository has no refs (an empty project), so there is nothing to bundle. */
  bundle: (StoredObject & { chunks: StoredObject[] }) | null;
}

/** One JSON file per kind, as GitLab sent it; issues and merge requests carry their notes. */
export const METADATA_KINDS = ['project', 'labels', 'milestones', 'issues', 'mergeRequests', 'releases'] as const;
export type MetadataKind = (typeof METADATA_KINDS)[number];

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  repository: { id: string; gitlabId: number; fullPath: string };
  takenAt: string;
  git: GitPart;
  wiki: GitPart | null;
  metadata: Record<MetadataKind, StoredObject & { count: number }>;
}

/** Every object the manifest names (not the manifest itself), each once. */
export function objectsOf(manifest: Manifest): StoredObject[] {
  const all = [...gitObjects(manifest.git), ...(manifest.wiki ? gitObjects(manifest.wiki) : []), ...METADATA_KINDS.map((kind) => manifest.metadata[kind])];
  const seen = new Map<string, StoredObject>();
  for (const object of all) if (!seen.has(object.sha256)) seen.set(object.sha256, { sha256: object.sha256, size: object.size });
  return [...seen.values()];
}

function gitObjects(part: GitPart): StoredObject[] {
  return part.bundle ? part.bundle.chunks : [];
}

/** Whether two ref lists name the same refs at the same commits, in any order. */
export function sameRefs(a: readonly GitRef[], b: readonly GitRef[]): boolean {
  if (a.length !== b.length) return false;
  const byName = new Map(a.map((ref) => [ref.name, ref.sha]));
  return b.every((ref) => byName.get(ref.name) === ref.sha);
}

/** Reads a manifest back; throws on anything that is not one, so a damaged manifest is never half-used. */
export function parseManifest(bytes: Buffer): Manifest {
  const value = JSON.parse(bytes.toString('utf8')) as Partial<Manifest> | null;
  if (value === null || typeof value !== 'object' || value.format !== MANIFEST_FORMAT) throw new Error('not a snapshot manifest');
  if (!value.git || !Array.isArray(value.git.refs) || !value.metadata || !value.repository) throw new Error('a snapshot manifest with parts missing');
  return value as Manifest;
}

export function serializeManifest(manifest: Manifest): Buffer {
  return Buffer.from(JSON.stringify(manifest));
}
