import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { PlanSchedule as PlanScheduleValue, RetentionPolicy } from '../../domain/plan';
import { Credential } from '../organizations/organization.type';
import { Actor } from '../shared/actor.type';
import { DateTime } from '../shared/scalars';

@ObjectType({ description: 'A backup plan of one organization.' })
export class BackupPlan {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => ID)
  organizationId!: string;

  @Field(() => Boolean, { description: 'The "Additional git credentials" switch: off on a new plan.' })
  additionalCredentialsEnabled!: boolean;

  @Field(() => Int, { description: 'Changes with every change; pass it as expectedVersion to refuse a stale edit.' })
  version!: number;

  @Field(() => DateTime)
  createdAt!: Date;

  @Field(() => DateTime, { nullable: true })
  deletedAt!: Date | null;

  /** Resolved into backupSettings by PlanResolver. */
  storageId!: string | null;
  schedule!: PlanScheduleValue | null;
  scheduleSetAt!: Date | null;
  retention!: RetentionPolicy;
}

@ObjectType({ description: 'When a plan runs by itself: at times of day (UTC) or every so many minutes.' })
export class PlanSchedule {
  @Field(() => [String], { nullable: true, description: 'Times of day as HH:MM, UTC, sorted.' })
  times!: string[] | null;

  @Field(() => Int, { nullable: true })
  intervalMinutes!: number | null;
}

@ObjectType({ description: "Where a plan's snapshots go, when it runs by itself, and how many of each repository's snapshots it keeps." })
export class PlanBackupSettings {
  /** Resolved into storage by PlanBackupSettingsResolver. */
  storageId!: string;

  @Field(() => PlanSchedule, { nullable: true, description: 'null: the plan runs only when asked to.' })
  schedule!: PlanSchedule | null;

  @Field(() => Int, { nullable: true, description: 'Keep the N newest snapshots of each repository; null: no limit by this rule.' })
  keepLast!: number | null;

  @Field(() => Int, { nullable: true, description: 'Keep the newest snapshot of each of the N latest days (UTC) that have one.' })
  keepDaily!: number | null;

  @Field(() => Int, { nullable: true, description: 'Keep the newest snapshot of each of the N latest ISO weeks that have one.' })
  keepWeekly!: number | null;

  @Field(() => Int, { nullable: true, description: 'Keep the newest snapshot of each of the N latest months that have one.' })
  keepMonthly!: number | null;

  @Field(() => DateTime, { nullable: true, description: 'When the schedule starts the plan next (now, when a run is due); null without a schedule.' })
  nextRunAt!: Date | null;
}

@ObjectType({ description: 'A credential as one plan has it.' })
export class PlanCredential {
  @Field(() => Credential)
  credential!: Credential;

  @Field(() => Boolean, { description: 'Switched on for this plan.' })
  enabled!: boolean;

  @Field(() => Boolean, { description: "Used by the plan's backups: switched on, and the plan's additional credentials switch is on." })
  effective!: boolean;

  @Field(() => DateTime, { nullable: true })
  enabledAt!: Date | null;

  @Field(() => Actor, { nullable: true })
  enabledBy!: Actor | null;
}
