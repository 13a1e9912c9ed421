import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { DateTime } from '../shared/scalars';

export enum RoleName {
  ADMIN = 'ADMIN',
  OPERATOR = 'OPERATOR',
  AUDITOR = 'AUDITOR',
  VIEWER = 'VIEWER',
  METRICS = 'METRICS',
}

registerEnumType(RoleName, {
  name: 'Role',
  valuesConfig: {
    ADMIN: { description: 'Everything in its tenant, API tokens included.' },
    OPERATOR: { description: 'Organizations, credentials, plans, devices and passwords.' },
    AUDITOR: { description: 'Reads everything, the audit history included; changes nothing.' },
    VIEWER: { description: 'Reads the current state; no audit history.' },
    METRICS: { description: "Reads GET /metrics and nothing of the API; only the root tenant (the operator's) issues it." },
  },
});

@ObjectType()
export class Tenant {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;
}

@ObjectType({ description: 'Who calls the API: an API token of one tenant, in one role.' })
export class Principal {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => RoleName)
  role!: RoleName;

  @Field(() => Tenant)
  tenant!: Tenant;

  @Field(() => Boolean, { description: 'The root administrator: the only principal that may create tenants.' })
  root!: boolean;

  @Field(() => DateTime)
  createdAt!: Date;

  @Field(() => DateTime, { nullable: true })
  revokedAt!: Date | null;
}

@ObjectType({ description: 'A new API token. Its value is shown here once and kept nowhere: store it now.' })
export class IssuedApiToken {
  @Field(() => String)
  token!: string;

  @Field(() => Principal)
  principal!: Principal;
}
