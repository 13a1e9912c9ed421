import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import { parsePayload } from '../../audit/digest';
import type { StoredDigest } from '../../audit/digest-table';
import { signingKeys } from '../../audit/signing-keys';
import { auditDigestPage, createAuditDigest, UnknownDigestCursorError } from '../../app/audit-digests';
import { Roles } from '../auth-checker';
import { readModels, tenantOf, type GraphQLContext } from '../context';
import { badInput } from '../shared/bad-input';
import { AuditDigest, AuditDigestConnection, AuditSigningKey } from './audit-digest.type';

const MAX_PAGE = 500;

@Resolver()
export class AuditDigestResolver {
  @Authorized(Roles.auditors)
  @Query(() => AuditDigestConnection, { description: "The tenant's signed digests of the log, in chain order (oldest first)." })
  async auditDigests(
    @Arg('first', () => Int, { nullable: true, defaultValue: 100 }) given: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() context: GraphQLContext,
  ): Promise<AuditDigestConnection> {
    const first = given ?? 100;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be 1 to ${MAX_PAGE}`, 'first');
    try {
      const page = await auditDigestPage(readModels(context), tenantOf(context), { first, after: after ?? undefined });
      const nodes = page.digests.map(digestOf);
      return {
        edges: nodes.map((node) => ({ cursor: node.cursor, node })),
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: nodes.at(-1)?.cursor ?? after ?? null },
      };
    } catch (error) {
      if (error instanceof UnknownDigestCursorError) throw badInput(error.message, 'after');
      throw error;
    }
  }

  @Authorized(Roles.readers)
  @Query(() => [AuditSigningKey], {
    description: 'The public keys of the digests, retired ones included, oldest first (also at /.well-known/backplane-audit-keys.json).',
  })
  auditSigningKeys(@Ctx() context: GraphQLContext): Promise<AuditSigningKey[]> {
    return signingKeys(readModels(context));
  }

  @Authorized(Roles.admins)
  @Mutation(() => AuditDigest, { description: "Signs a digest of the tenant's log up to now, as the schedule does (BACKPLANE_AUDIT_DIGEST_MINUTES)." })
  async createAuditDigest(@Ctx() context: GraphQLContext): Promise<AuditDigest> {
    return digestOf(await createAuditDigest(context.app, tenantOf(context)));
  }
}

function digestOf(digest: StoredDigest): AuditDigest {
  const payload = parsePayload(digest.payload);
  return {
    cursor: String(digest.seq),
    sequence: digest.seq,
    payload: digest.payload,
    signature: digest.signature,
    keyId: digest.keyId,
    periodStart: new Date(payload.periodStart),
    periodEnd: new Date(payload.periodEnd),
    eventCount: payload.eventCount,
    logPosition: payload.logPosition,
    previousDigestHash: payload.previousDigestHash,
    streams: payload.streams,
  };
}
