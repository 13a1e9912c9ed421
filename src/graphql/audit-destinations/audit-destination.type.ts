import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Actor } from '../shared/actor.type';
import { DateTime } from '../shared/scalars';

@ObjectType({ description: "Where a destination's delivery stands. Kept outside the history: a record per delivery would bury it." })
export class AuditDelivery {
  @Field(() => String, { nullable: true, description: 'The log position of the last event the destination took (a 2xx answer); null: none yet.' })
  lastDeliveredPosition!: string | null;

  @Field(() => DateTime, { nullable: true })
  lastDeliveredAt!: Date | null;

  @Field(() => DateTime, { nullable: true, description: 'Since when the next event has been refused or not reached the destination; null: not failing.' })
  failingSince!: Date | null;

  @Field(() => String, { nullable: true, description: 'How the last failed attempt failed (a status, a network failure); never a body.' })
  lastError!: string | null;

  @Field(() => Int, { description: 'Attempts failed in a row at the next event.' })
  attempts!: number;
}

@ObjectType({
  description:
    'A SIEM endpoint that receives each event of the tenant recorded after its addition, in log order, POSTed as an export line and signed ' +
    'with HMAC-SHA256 (X-Backplane-Signature) under the secret of a password entry.',
})
export class AuditDestination {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, {
    description:
      'Where events go, as may be shown: scheme, host and port, each path segment masked as ***, a query as ?***. ' +
      'The whole URL (a collector token in its path or query) is kept encrypted and never shown.',
  })
  url!: string;

  @Field(() => String, { description: 'SHA-256 (hex) of the whole URL as normalised (new URL(url).href): tells whether a URL one holds is this one.' })
  urlSha256!: string;

  @Field(() => [String], { nullable: true, description: 'Only these event types are sent; null: every event.' })
  eventTypes!: string[] | null;

  @Field(() => ID, { description: 'The password entry whose secret signs the deliveries (the secret is never shown).' })
  passwordId!: string;

  @Field(() => String, { description: 'The log position of its addition: it receives the events after it.' })
  addedPosition!: string;

  @Field(() => DateTime)
  addedAt!: Date;

  @Field(() => Actor)
  addedBy!: Actor;

  @Field(() => AuditDelivery)
  delivery!: AuditDelivery;
}
