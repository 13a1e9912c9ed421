import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DateTime } from '../shared/scalars';

export enum StorageKind {
  LOCAL = 'LOCAL',
  S3 = 'S3',
}
registerEnumType(StorageKind, {
  name: 'StorageKind',
  valuesConfig: { LOCAL: { description: "A folder of Backplane's data folder." }, S3: { description: 'A bucket of an S3-compatible service.' } },
});

@ObjectType({
  description:
    "Where snapshots are kept, encrypted under the tenant's key and deduplicated. A LOCAL storage is a folder of Backplane's data folder " +
    '(the default one, or a folder of its own named by its id: no path can be given); an S3 storage is a bucket of an S3-compatible service, ' +
    'whose secret access key is an entry of the password manager and never shown here.',
})
export class Storage {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => StorageKind)
  kind!: StorageKind;

  @Field(() => Boolean, { description: 'Where plans keep their snapshots unless they name another storage.' })
  isDefault!: boolean;

  @Field(() => DateTime, { nullable: true, description: 'null for the default storage, which every tenant has from the start.' })
  addedAt!: Date | null;

  @Field(() => String, { nullable: true, description: "S3: the service's URL; null: AWS itself, or a LOCAL storage." })
  endpoint!: string | null;

  @Field(() => String, { nullable: true, description: 'S3: the bucket.' })
  bucket!: string | null;

  @Field(() => String, { nullable: true, description: 'S3: the region requests are signed for.' })
  region!: string | null;

  @Field(() => String, { nullable: true, description: "S3: where the storage's objects live in the bucket; empty: its root." })
  prefix!: string | null;

  @Field(() => Boolean, { nullable: true, description: 'S3: the bucket is named in the path rather than in the host name.' })
  forcePathStyle!: boolean | null;

  @Field(() => String, { nullable: true, description: 'S3: the access key id (not a secret).' })
  accessKeyId!: string | null;

  @Field(() => ID, { nullable: true, description: 'S3: the password manager entry that holds the secret access key; the secret itself is never shown.' })
  passwordId!: string | null;
}

@ObjectType({ description: 'A git ref as the snapshot holds it.' })
export class SnapshotRef {
  @Field(() => String)
  name!: string;

  @Field(() => String)
  sha!: string;
}

@ObjectType({ description: 'What one account did to take a snapshot.' })
export class SnapshotCredentialUse {
  /** Resolved by SnapshotCredentialUseResolver. */
  credentialId!: string | null;

  @Field(() => String)
  login!: string;

  @Field(() => Int, { description: 'API requests and git fetches made for this snapshot.' })
  requests!: number;
}

@ObjectType({ description: 'The outcome of reading back every object of a snapshot.' })
export class SnapshotVerification {
  @Field(() => Boolean)
  ok!: boolean;

  @Field(() => Int)
  checkedObjects!: number;

  @Field(() => String, { nullable: true, description: 'The SHA-256 of the first object found missing or altered.' })
  firstBrokenObject!: string | null;

  @Field(() => DateTime)
  verifiedAt!: Date;

  /** Which snapshot: resolved by SnapshotVerificationResolver. */
  snapshotId!: string;
}

@ObjectType({ description: 'One protected repository as a plan run stored it: its git refs and objects, its wiki and its metadata.' })
export class Snapshot {
  @Field(() => ID)
  id!: string;

  /** Resolved by SnapshotResolver. */
  repositoryId!: string;
  taskId!: string;
  storageId!: string;

  @Field(() => String, { description: "The repository's full path when the snapshot was taken." })
  fullPath!: string;

  @Field(() => DateTime)
  takenAt!: Date;

  @Field(() => String, { description: "SHA-256 of the snapshot's manifest, as recorded in the history." })
  manifestHash!: string;

  @Field(() => Float, { description: 'Bytes of everything the snapshot holds, before compression and encryption.' })
  bytes!: number;

  @Field(() => Float, { description: 'Bytes this snapshot was the first to store (the rest was stored already), before compression and encryption.' })
  newBytes!: number;

  @Field(() => Float, { description: 'Bytes written to the storage for it, compressed and encrypted.' })
  storedBytes!: number;

  @Field(() => Int, { description: 'Stored objects the snapshot names, its manifest included.' })
  objects!: number;

  @Field(() => Boolean, { description: "Whether the project's wiki is in it." })
  wiki!: boolean;

  @Field(() => Int)
  branches!: number;

  @Field(() => Int)
  tags!: number;

  @Field(() => Int)
  issues!: number;

  @Field(() => Int)
  mergeRequests!: number;

  @Field(() => Int)
  labels!: number;

  @Field(() => Int)
  milestones!: number;

  @Field(() => Int)
  releases!: number;

  @Field(() => [SnapshotCredentialUse])
  credentialsUsed!: SnapshotCredentialUse[];

  @Field(() => DateTime, { nullable: true, description: 'When retention lets it go; null: kept until retention is set.' })
  expiresAt!: Date | null;

  @Field(() => SnapshotVerification, { nullable: true, description: 'The last verification, if any.' })
  verification!: SnapshotVerification | null;

  @Field(() => String, { description: 'Where its archive (a git bundle per repository and the metadata, .tar.gz) is downloaded, with a Bearer token.' })
  archiveUrl!: string;
}

@ObjectType()
export class SnapshotEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Snapshot)
  node!: Snapshot;
}

@ObjectType()
export class SnapshotPageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType()
export class SnapshotConnection {
  @Field(() => [SnapshotEdge])
  edges!: SnapshotEdge[];

  @Field(() => SnapshotPageInfo)
  pageInfo!: SnapshotPageInfo;

  @Field(() => Int)
  totalCount!: number;
}
