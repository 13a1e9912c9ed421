import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Actor } from '../shared/actor.type';
import { DateTime } from '../shared/scalars';

export enum TaskStatus {
  RUNNING = 'RUNNING',
  THROTTLED = 'THROTTLED',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
}
registerEnumType(TaskStatus, {
  name: 'TaskStatus',
  valuesConfig: {
    RUNNING: { description: 'Reading repositories.' },
    THROTTLED: { description: 'Every credential it may use is out of quota: it waits for GitLab.' },
    COMPLETED: { description: 'Every repository was read or failed on its own.' },
    FAILED: { description: 'It ended before reading every repository; reason says why.' },
  },
});

@ObjectType({ description: 'What one account did during a task.' })
export class TaskCredentialUse {
  /** Resolved by TaskCredentialUseResolver. */
  credentialId!: string | null;

  @Field(() => String)
  login!: string;

  @Field(() => Int, { description: 'Requests made to GitLab, refused ones (429, 401) included.' })
  requests!: number;
}

@ObjectType({ description: 'A period during which every credential of a task was out of quota.' })
export class ThrottledPeriod {
  @Field(() => DateTime)
  from!: Date;

  @Field(() => DateTime)
  until!: Date;
}

@ObjectType({ description: 'One run of a backup plan over the protected projects of its organization.' })
export class Task {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  planId!: string;

  @Field(() => TaskStatus)
  status!: TaskStatus;

  @Field(() => Int)
  repositoriesTotal!: number;

  @Field(() => Int, { description: 'Repositories read so far, failed ones included.' })
  repositoriesDone!: number;

  @Field(() => Int)
  repositoriesFailed!: number;

  @Field(() => DateTime)
  startedAt!: Date;

  @Field(() => Actor)
  startedBy!: Actor;

  @Field(() => DateTime, { nullable: true })
  finishedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'Why it failed.' })
  reason!: string | null;

  @Field(() => [TaskCredentialUse], { description: "Every account that made requests, the organization's main login included; known once the task has ended." })
  credentialsUsed!: TaskCredentialUse[];

  @Field(() => [ThrottledPeriod])
  throttledPeriods!: ThrottledPeriod[];

  @Field(() => Int, { description: 'Changes as the task goes on.' })
  version!: number;
}
