import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Actor } from '../shared/actor.type';
import { DateTime } from '../shared/scalars';

export enum NotificationKind {
  TASK_FAILED = 'TASK_FAILED',
  TASK_WARNINGS = 'TASK_WARNINGS',
  TASK_THROTTLED = 'TASK_THROTTLED',
  CREDENTIAL_EXPIRING = 'CREDENTIAL_EXPIRING',
  CREDENTIAL_REVOKED = 'CREDENTIAL_REVOKED',
  VERIFICATION_FAILED = 'VERIFICATION_FAILED',
  SYNC_FAILED = 'SYNC_FAILED',
  SNAPSHOT_VERIFICATION_FAILED = 'SNAPSHOT_VERIFICATION_FAILED',
}
registerEnumType(NotificationKind, {
  name: 'NotificationKind',
  description: 'What needs a person, each read from an event of the log.',
  valuesConfig: {
    TASK_FAILED: { description: 'A backup task failed (BackupTaskFailed).' },
    TASK_WARNINGS: { description: 'A backup task finished with repositories that failed.' },
    TASK_THROTTLED: { description: "GitLab's rate limits hold a task for longer than BACKPLANE_NOTIFY_THROTTLED_MINUTES." },
    CREDENTIAL_EXPIRING: {
      description: "A credential's token entered its last 14 days (CredentialExpiring, once per credential and expiry day), or GitLab refused it as expired.",
    },
    CREDENTIAL_REVOKED: { description: 'GitLab refused a token as revoked or invalid (a credential or an organization).' },
    VERIFICATION_FAILED: { description: 'GitLab refused a token for another reason, or on adding an organization or credential.' },
    SYNC_FAILED: { description: "An organization's repository list did not sync." },
    SNAPSHOT_VERIFICATION_FAILED: { description: 'A snapshot read back with an object missing or altered.' },
  },
});

@ObjectType({ description: "Where a channel's notices stand. Kept outside the history, one row per notice." })
export class NotificationDelivery {
  @Field(() => Int, { description: 'Notices the channel took.' })
  sent!: number;

  @Field(() => Int, { description: 'Notices recorded and not yet taken: the first is being tried, the rest wait for it.' })
  pending!: number;

  @Field(() => DateTime, { nullable: true })
  lastSentAt!: Date | null;

  @Field(() => DateTime, { nullable: true, description: 'Since when the next notice has been refused or not reached the channel; null: not failing.' })
  failingSince!: Date | null;

  @Field(() => String, { nullable: true, description: 'How the last failed attempt failed (a status, an SMTP code, a network failure); never a body.' })
  lastError!: string | null;

  @Field(() => Int, { description: 'Attempts failed at the next notice.' })
  attempts!: number;
}

@ObjectType({ description: 'Where the tenant is told of what needs a person: a webhook (Slack-compatible JSON) or an e-mail address.' })
export class NotificationChannel {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, {
    nullable: true,
    description:
      'The webhook POSTed to, as it may be shown: its origin, each path segment masked as ***, a query as ?*** (the whole URL is kept encrypted and never shown); null for an e-mail channel.',
  })
  url!: string | null;

  @Field(() => String, { nullable: true, description: 'The address written to; null for a webhook.' })
  email!: string | null;

  @Field(() => [NotificationKind])
  kinds!: NotificationKind[];

  @Field(() => String, { description: 'The log position of its addition: it is told of events after it.' })
  addedPosition!: string;

  @Field(() => DateTime)
  addedAt!: Date;

  @Field(() => Actor)
  addedBy!: Actor;

  @Field(() => NotificationDelivery)
  delivery!: NotificationDelivery;
}
