import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Actor } from '../shared/actor.type';
import { DateTime } from '../shared/scalars';

export enum Provider {
  GITLAB = 'GITLAB',
}
export enum AuthMethodName {
  TOKEN = 'TOKEN',
  SSO = 'SSO',
}
export enum OrganizationStatus {
  PENDING_AUTHORIZATION = 'PENDING_AUTHORIZATION',
  ACTIVE = 'ACTIVE',
  REMOVED = 'REMOVED',
}
export enum CredentialStatus {
  ACTIVE = 'ACTIVE',
  EXPIRING = 'EXPIRING',
  EXPIRED = 'EXPIRED',
  REVOKED = 'REVOKED',
  THROTTLED = 'THROTTLED',
  REMOVED = 'REMOVED',
}

registerEnumType(Provider, { name: 'Provider' });
registerEnumType(AuthMethodName, {
  name: 'AuthMethod',
  valuesConfig: {
    TOKEN: { description: 'A login and a personal access token kept in the password manager.' },
    SSO: { description: "GitLab's OAuth sign-in." },
  },
});
registerEnumType(OrganizationStatus, {
  name: 'OrganizationStatus',
  valuesConfig: { PENDING_AUTHORIZATION: { description: 'Added with SSO, waiting for someone to sign in to GitLab at its authorizationUrl.' } },
});
registerEnumType(CredentialStatus, {
  name: 'CredentialStatus',
  valuesConfig: {
    EXPIRING: { description: 'The token expires within 14 days.' },
    EXPIRED: { description: 'The token is past its expiry date.' },
    REVOKED: { description: 'GitLab refused the token (401) since it was last verified.' },
    THROTTLED: { description: 'GitLab made it wait: cooling down until throttledUntil.' },
  },
});

@ObjectType({ description: 'What GitLab said of a token when Backplane last checked it. Never the token.' })
export class TokenStatus {
  @Field(() => [String])
  scopes!: string[];

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD; null: it never expires.' })
  expiresAt!: string | null;

  @Field(() => DateTime, { nullable: true })
  verifiedAt!: Date | null;

  @Field(() => String, { nullable: true, description: "The last check's failure (INVALID_TOKEN, MISSING_SCOPES, ...), null when it passed." })
  failure!: string | null;

  @Field(() => String, { nullable: true, description: 'Why the last check failed, in words to act on.' })
  problem!: string | null;
}

@ObjectType({ description: 'When the repository list is synced: at times of day (UTC), or every so many minutes.' })
export class RepositoriesSync {
  @Field(() => [String], { nullable: true, description: 'Times of day as HH:MM, UTC.' })
  times!: string[] | null;

  @Field(() => Int, { nullable: true })
  intervalMinutes!: number | null;
}

@ObjectType({ description: 'A GitLab group added to Backplane.' })
export class Organization {
  @Field(() => ID)
  id!: string;

  @Field(() => Provider)
  provider!: Provider;

  @Field(() => String, { description: "The GitLab group's full path." })
  name!: string;

  @Field(() => String)
  gitlabUrl!: string;

  @Field(() => AuthMethodName)
  authMethod!: AuthMethodName;

  @Field(() => String, { nullable: true, description: 'The main login.' })
  login!: string | null;

  @Field(() => ID, { nullable: true })
  passwordId!: string | null;

  @Field(() => Boolean, { description: 'Protect groups: back up the group structure too.' })
  protectGroups!: boolean;

  @Field(() => Boolean, { description: 'Protect new repositories found by a sync.' })
  autoAddNewRepositories!: boolean;

  @Field(() => RepositoriesSync)
  repositoriesSync!: RepositoriesSync;

  @Field(() => ID)
  defaultDeviceId!: string;

  @Field(() => Int, { description: 'Changes with every change; pass it as expectedVersion to refuse a stale edit.' })
  version!: number;

  @Field(() => OrganizationStatus)
  status!: OrganizationStatus;

  @Field(() => String, {
    nullable: true,
    description:
      'Where to sign in to GitLab and authorize Backplane (SSO), valid for 15 minutes: given only by addOrganization and authorizeOrganization, null elsewhere.',
  })
  authorizationUrl!: string | null;

  @Field(() => DateTime)
  addedAt!: Date;

  @Field(() => Actor)
  addedBy!: Actor;

  @Field(() => Int, { nullable: true, description: "The group's id on GitLab." })
  gitlabGroupId!: number | null;

  @Field(() => TokenStatus, { description: "The main login's token as GitLab last described it." })
  token!: TokenStatus;
}

@ObjectType({ description: 'An additional GitLab account of an organization, so that backups spread their API use.' })
export class Credential {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  login!: string;

  @Field(() => String, { nullable: true, description: "The fingerprint of its password entry's secret; null once the entry is deleted." })
  fingerprint!: string | null;

  @Field(() => ID)
  organizationId!: string;

  @Field(() => ID)
  passwordId!: string;

  @Field(() => CredentialStatus)
  status!: CredentialStatus;

  @Field(() => DateTime)
  addedAt!: Date;

  @Field(() => Actor)
  addedBy!: Actor;

  @Field(() => DateTime, { nullable: true })
  removedAt!: Date | null;

  @Field(() => TokenStatus)
  token!: TokenStatus;

  @Field(() => DateTime, { nullable: true, description: 'Until when GitLab made it wait, the last time it did.' })
  throttledUntil!: Date | null;
}
