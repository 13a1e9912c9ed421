import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Actor } from '../shared/actor.type';
import { DateTime } from '../shared/scalars';

export enum RepositoryKindName {
  PROJECT = 'PROJECT',
  GROUP = 'GROUP',
}
export enum RepositorySyncStatus {
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
}
registerEnumType(RepositoryKindName, {
  name: 'RepositoryKind',
  valuesConfig: { PROJECT: { description: 'A GitLab project.' }, GROUP: { description: 'A subgroup, listed with "Protect groups".' } },
});
registerEnumType(RepositorySyncStatus, { name: 'RepositorySyncStatus' });

@ObjectType({ description: "A repository GitLab lists in an organization's group (or, with Protect groups, a subgroup)." })
export class Repository {
  @Field(() => ID)
  id!: string;

  @Field(() => Int)
  gitlabId!: number;

  @Field(() => RepositoryKindName)
  kind!: RepositoryKindName;

  @Field(() => String)
  fullPath!: string;

  @Field(() => ID)
  organizationId!: string;

  @Field(() => Boolean)
  protected!: boolean;

  @Field(() => Actor, { nullable: true, description: 'Who protected it (Backplane itself for auto-add), or last unprotected it.' })
  protectedBy!: Actor | null;

  @Field(() => DateTime, { nullable: true })
  protectedAt!: Date | null;

  @Field(() => DateTime)
  discoveredAt!: Date;

  @Field(() => DateTime, { nullable: true, description: 'When a sync found it gone from GitLab.' })
  removedAt!: Date | null;
}

@ObjectType()
export class RepositoryEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Repository)
  node!: Repository;
}

@ObjectType()
export class RepositoryPageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType()
export class RepositoryConnection {
  @Field(() => [RepositoryEdge])
  edges!: RepositoryEdge[];

  @Field(() => RepositoryPageInfo)
  pageInfo!: RepositoryPageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ObjectType()
export class SyncCredentialUse {
  @Field(() => ID, { nullable: true, description: "null: the organization's main login." })
  credentialId!: string | null;

  @Field(() => String)
  login!: string;

  @Field(() => Int)
  requests!: number;
}

@ObjectType({ description: "One sync of an organization's repository list with GitLab." })
export class RepositorySync {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  organizationId!: string;

  @Field(() => RepositorySyncStatus)
  status!: RepositorySyncStatus;

  @Field(() => String, { description: 'FIRST, SCHEDULE or MANUAL.' })
  trigger!: string;

  @Field(() => DateTime)
  startedAt!: Date;

  @Field(() => DateTime, { nullable: true })
  finishedAt!: Date | null;

  @Field(() => Int, { nullable: true })
  added!: number | null;

  @Field(() => Int, { nullable: true })
  removed!: number | null;

  @Field(() => Int, { nullable: true })
  renamed!: number | null;

  @Field(() => Int, { nullable: true })
  unchanged!: number | null;

  @Field(() => Int, { nullable: true, description: 'HTTP requests made to GitLab.' })
  requests!: number | null;

  @Field(() => Int, { nullable: true })
  durationMs!: number | null;

  @Field(() => [SyncCredentialUse])
  credentialsUsed!: SyncCredentialUse[];

  @Field(() => String, { nullable: true, description: 'Why it failed.' })
  reason!: string | null;
}

@ObjectType({ description: 'How many projects the license lets the tenant protect, and how many are protected.' })
export class LicenseSeats {
  @Field(() => Int, { nullable: true, description: 'null: no limit set.' })
  limit!: number | null;

  @Field(() => Int)
  used!: number;
}
