import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Actor } from '../shared/actor.type';
import { DateTime, JSONScalar } from '../shared/scalars';

@ObjectType({ description: 'One event of the history: who did what, when, and what changed (secrets redacted).' })
export class AuditEvent {
  @Field(() => ID, { description: 'The causationId of the events it caused.' })
  id!: string;

  @Field(() => String, { description: 'Its place in the log: pass it as `after` to read or listen from here.' })
  cursor!: string;

  @Field(() => String)
  type!: string;

  @Field(() => DateTime)
  occurredAt!: Date;

  @Field(() => Actor)
  actor!: Actor;

  @Field(() => String)
  streamName!: string;

  @Field(() => JSONScalar)
  data!: unknown;

  @Field(() => String, { nullable: true })
  correlationId!: string | null;

  @Field(() => String, { nullable: true })
  causationId!: string | null;

  @Field(() => String, { description: 'SHA-256 chained to the previous event of its stream.' })
  hash!: string;
}

@ObjectType()
export class AuditEventEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => AuditEvent)
  node!: AuditEvent;
}

@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "auditLog's only: a cursor for `auditEvents(after:)` that continues this query live with nothing skipped or repeated: the page's last event's cursor, or, when the page has none, the cursor of the tenant's last event in the history as it stood before the page was read (or `after`, if later): nothing of other tenants' writes shows in it. Null only while the tenant has no event in the history.",
  })
  liveCursor?: string | null;
}

@ObjectType()
export class AuditEventConnection {
  @Field(() => [AuditEventEdge])
  edges!: AuditEventEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@ObjectType()
export class AuditVerification {
  @Field(() => Boolean)
  ok!: boolean;

  @Field(() => Int, { description: 'Events whose hashes were recomputed.' })
  checked!: number;

  @Field(() => String, { nullable: true, description: 'The cursor of the first event that is not what was written.' })
  firstBrokenCursor!: string | null;

  @Field(() => String, { nullable: true })
  problem!: string | null;

  @Field(() => Int, { description: 'Stored digests whose signature, link to the one before and signed stream heads were checked.' })
  digestsChecked!: number;

  @Field(() => String, { nullable: true, description: 'The periodEnd of the first digest that fails, or that the log no longer matches.' })
  firstBrokenDigest!: string | null;
}

@ObjectType('PlanCredentialToggled', { description: 'A credential switched on or off on a plan.' })
export class PlanCredentialToggledEvent {
  @Field(() => String)
  cursor!: string;

  @Field(() => ID)
  planId!: string;

  @Field(() => ID)
  credentialId!: string;

  @Field(() => Boolean)
  enabled!: boolean;

  @Field(() => Actor)
  actor!: Actor;

  @Field(() => DateTime)
  occurredAt!: Date;
}
