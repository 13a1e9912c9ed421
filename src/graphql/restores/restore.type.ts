import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Actor } from '../shared/actor.type';
import { DateTime } from '../shared/scalars';

export enum RestoreTarget {
  GITLAB_PROJECT = 'GITLAB_PROJECT',
  ARCHIVE = 'ARCHIVE',
}
registerEnumType(RestoreTarget, {
  name: 'RestoreTarget',
  valuesConfig: {
    GITLAB_PROJECT: { description: 'A new project in a GitLab namespace: refs pushed, labels, milestones, issues with notes and releases re-created.' },
    ARCHIVE: { description: "The snapshot's .tar.gz to download: a git bundle, the metadata as JSON, the manifest." },
  },
});

export enum RestoreStatus {
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
}
registerEnumType(RestoreStatus, { name: 'RestoreStatus' });

@ObjectType({ description: 'What a restore re-created.' })
export class RestoreCounts {
  @Field(() => Int, { description: 'Git refs pushed: branches, tags and notes.' })
  refs!: number;

  @Field(() => Int)
  labels!: number;

  @Field(() => Int)
  milestones!: number;

  @Field(() => Int)
  issues!: number;

  @Field(() => Int, { description: "Issues' notes, system notes left out." })
  notes!: number;

  @Field(() => Int)
  releases!: number;
}

@ObjectType({ description: "What GitLab cannot take back; it stays in the snapshot's archive." })
export class RestoreLeftOut {
  @Field(() => [String], { description: "Refs GitLab keeps for itself and refuses on push, such as merge requests' refs." })
  refs!: string[];

  @Field(() => Int, { description: 'Merge requests, which a restore does not re-create.' })
  mergeRequests!: number;

  @Field(() => Boolean, { description: "Whether the snapshot's wiki was left out: a restore does not push it; its bundle is in the archive." })
  wiki!: boolean;
}

@ObjectType({ description: 'A snapshot brought back, into a new GitLab project or as an archive.' })
export class Restore {
  @Field(() => ID)
  id!: string;

  /** Resolved by RestoreResolver. */
  snapshotId!: string;

  @Field(() => RestoreStatus)
  status!: RestoreStatus;

  @Field(() => RestoreTarget)
  target!: RestoreTarget;

  @Field(() => String, { nullable: true, description: 'The namespace the project was asked for in.' })
  namespacePath!: string | null;

  @Field(() => String, { nullable: true, description: "The new project's full path, once made." })
  projectPath!: string | null;

  @Field(() => String, { nullable: true, description: "The snapshot's archive download (GET with a Bearer token); set for ARCHIVE." })
  archiveUrl!: string | null;

  @Field(() => String, { nullable: true, description: 'The step last done: project, repository, labels, milestones, issues, releases.' })
  step!: string | null;

  @Field(() => Int)
  stepsDone!: number;

  @Field(() => Int)
  stepsTotal!: number;

  @Field(() => RestoreCounts, { nullable: true })
  counts!: RestoreCounts | null;

  @Field(() => RestoreLeftOut, { nullable: true })
  leftOut!: RestoreLeftOut | null;

  @Field(() => String, { nullable: true, description: 'Why it failed.' })
  reason!: string | null;

  @Field(() => DateTime)
  startedAt!: Date;

  @Field(() => DateTime, { nullable: true })
  finishedAt!: Date | null;

  @Field(() => Actor, { description: 'Who restored.' })
  actor!: Actor;
}
