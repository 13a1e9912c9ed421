import { Field, Int, ObjectType } from 'type-graphql';
import { DateTime } from '../shared/scalars';
import { PageInfo } from './audit.type';

@ObjectType({ description: 'The head of a stream as a digest signed it.' })
export class AuditDigestStream {
  @Field(() => String)
  stream!: string;

  @Field(() => Int)
  revision!: number;

  @Field(() => String, { description: 'The chain hash of the stream at that revision.' })
  hash!: string;
}

@ObjectType({
  description:
    'A signed digest of the log: payload is a JSON text, signature the base64 Ed25519 signature over exactly its UTF-8 bytes, by the key keyId names (see auditSigningKeys). The other fields are read from the payload.',
})
export class AuditDigest {
  @Field(() => String, { description: "Its place in the tenant's chain of digests: pass it as `after`." })
  cursor!: string;

  @Field(() => Int, {
    description: "Its place in the tenant's chain, from 1: name it as fromDigest or toDigest of GET /audit/export to export whole digest periods.",
  })
  sequence!: number;

  @Field(() => String)
  payload!: string;

  @Field(() => String)
  signature!: string;

  @Field(() => String)
  keyId!: string;

  @Field(() => DateTime)
  periodStart!: Date;

  @Field(() => DateTime)
  periodEnd!: Date;

  @Field(() => Int, { description: "The tenant's events in the period." })
  eventCount!: number;

  @Field(() => String, { nullable: true, description: 'The place in the log the digest covers, inclusive.' })
  logPosition!: string | null;

  @Field(() => String, { description: "SHA-256 (hex) of the previous digest's payload; 64 zeros for the first." })
  previousDigestHash!: string;

  @Field(() => [AuditDigestStream], { description: 'Every stream of the tenant with events in the period, at its last revision in it.' })
  streams!: AuditDigestStream[];
}

@ObjectType()
export class AuditDigestEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => AuditDigest)
  node!: AuditDigest;
}

@ObjectType()
export class AuditDigestConnection {
  @Field(() => [AuditDigestEdge])
  edges!: AuditDigestEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@ObjectType({ description: 'A key that signs, or signed, digests. Retired keys are kept: the digests they signed still verify.' })
export class AuditSigningKey {
  @Field(() => String, { description: 'The first 16 hex digits of the SHA-256 of the raw public key.' })
  keyId!: string;

  @Field(() => String)
  algorithm!: string;

  @Field(() => String)
  publicKeyPem!: string;

  @Field(() => DateTime)
  createdAt!: Date;

  @Field(() => DateTime, { nullable: true })
  retiredAt!: Date | null;
}
