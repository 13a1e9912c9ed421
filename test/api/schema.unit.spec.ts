import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildSchema, isInputObjectType, isObjectType, type GraphQLField, type GraphQLSchema } from 'graphql';
import { schemaText } from '../../src/graphql/emit-schema';

const SCHEMA_FILE = resolve(__dirname, '../../schema/schema.graphql');

/** Each field as "name(arg: Type, ...): Type", arguments sorted, so that a test reads like the SDL. */
function signatures(schema: GraphQLSchema, typeName: string): Record<string, string> {
  const type = schema.getType(typeName);
  if (!isObjectType(type)) throw new Error(`${typeName} is not an object type of the schema`);
  const signature = (field: GraphQLField<unknown, unknown>) => {
    const args = field.args.map((arg) => `${arg.name}: ${arg.type}`).sort();
    return args.length === 0 ? `${field.type}` : `(${args.join(', ')}): ${field.type}`;
  };
  return Object.fromEntries(Object.values(type.getFields()).map((field) => [field.name, signature(field)]));
}

function fieldNames(schema: GraphQLSchema, typeName: string): string[] {
  const type = schema.getType(typeName);
  if (!isObjectType(type) && !isInputObjectType(type)) throw new Error(`${typeName} has no fields in the schema`);
  return Object.keys(type.getFields());
}

/** Only the argument lists: the result types are pinned by the type tests below. */
function argumentsOf(fields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fields).map(([name, signature]) => [name, signature.startsWith('(') ? signature.slice(1, signature.indexOf(')')) : '']),
  );
}

describe('the published GraphQL schema', () => {
  const file = readFileSync(SCHEMA_FILE, 'utf8');
  const schema = buildSchema(file);

  it('is the schema the code builds', async () => {
    const stale = file === (await schemaText()) ? null : 'schema/schema.graphql is not the schema the code builds: run `npm run schema` and commit the file';
    expect(stale).toBeNull();
  });

  it('has the queries of the contract, with their arguments', () => {
    const query = signatures(schema, 'Query');
    const expected: Record<string, string> = {
      me: '',
      organizations: '',
      organization: 'id: ID!',
      credentials: 'organizationId: ID!',
      plans: 'organizationId: ID',
      plan: 'id: ID!',
      devices: '',
      passwords: '',
      auditLog: 'after: String, filter: AuditFilter, first: Int',
      planCredentialsAsOf: 'at: DateTime!, planId: ID!',
      verifyAuditLog: '',
      auditDigests: 'after: String, first: Int',
      auditSigningKeys: '',
      auditDestinations: '',
      notificationChannels: '',
    };
    expect(argumentsOf(query)).toMatchObject(expected);
    expect(query).toMatchObject({
      me: 'Principal!',
      organization: '(id: ID!): Organization',
      plans: '(organizationId: ID): [BackupPlan!]!',
      auditLog: '(after: String, filter: AuditFilter, first: Int): AuditEventConnection!',
      planCredentialsAsOf: '(at: DateTime!, planId: ID!): [PlanCredential!]!',
      verifyAuditLog: 'AuditVerification!',
      auditDigests: '(after: String, first: Int): AuditDigestConnection!',
      auditSigningKeys: '[AuditSigningKey!]!',
      auditDestinations: '[AuditDestination!]!',
      notificationChannels: '[NotificationChannel!]!',
      repositories: '(after: String, first: Int, organizationId: ID!, protected: Boolean): RepositoryConnection!',
      task: '(id: ID!): Task',
      tasks: '(planId: ID!): [Task!]!',
      storages: '[Storage!]!',
      snapshot: '(id: ID!): Snapshot',
      restore: '(id: ID!): Restore',
      snapshots: '(after: String, first: Int, planId: ID, repositoryId: ID): SnapshotConnection!',
    });
  });

  it('has exactly the mutations of the contract, with their arguments', () => {
    const mutation = signatures(schema, 'Mutation');
    expect(argumentsOf(mutation)).toEqual({
      storePassword: 'input: StorePasswordInput!',
      changePassword: 'id: ID!, input: ChangePasswordInput!',
      deletePassword: 'id: ID!',
      registerDevice: 'input: RegisterDeviceInput!',
      addOrganization: 'input: AddOrganizationInput!',
      updateOrganizationSettings: 'expectedVersion: Int, id: ID!, input: OrganizationSettingsInput!',
      changeDefaultDevice: 'deviceId: ID!, id: ID!',
      removeOrganization: 'id: ID!',
      addCredential: 'input: AddCredentialInput!',
      removeCredential: 'id: ID!',
      createPlan: 'input: CreatePlanInput!',
      deletePlan: 'expectedVersion: Int, id: ID!',
      setPlanAdditionalCredentials: 'enabled: Boolean!, expectedVersion: Int, planId: ID!',
      togglePlanCredential: 'credentialId: ID!, enabled: Boolean!, expectedVersion: Int, planId: ID!',
      updatePlanCredentials: 'expectedVersion: Int, input: UpdatePlanCredentialsInput!, planId: ID!',
      createApiToken: 'input: CreateApiTokenInput!',
      revokeApiToken: 'id: ID!',
      createTenant: 'name: String!',
      syncRepositories: 'organizationId: ID!',
      setLicenseSeats: 'count: Int!',
      protectRepository: 'id: ID!',
      unprotectRepository: 'id: ID!',
      verifyCredential: 'id: ID!',
      verifyOrganization: 'id: ID!',
      authorizeOrganization: 'id: ID!',
      runPlan: 'planId: ID!',
      addStorage: 'input: AddStorageInput!',
      removeStorage: 'id: ID!',
      updatePlanBackupSettings: 'expectedVersion: Int, input: PlanBackupSettingsInput!, planId: ID!',
      verifySnapshot: 'id: ID!',
      restoreSnapshot: 'input: RestoreSnapshotInput!',
      pruneSnapshots: 'planId: ID!',
      createAuditDigest: '',
      addAuditDestination: 'input: AddAuditDestinationInput!',
      removeAuditDestination: 'id: ID!',
      addNotificationChannel: 'input: AddNotificationChannelInput!',
      removeNotificationChannel: 'id: ID!',
    });
    expect(mutation).toMatchObject({
      addStorage: '(input: AddStorageInput!): Storage!',
      removeStorage: '(id: ID!): ID!',
      updatePlanBackupSettings: '(expectedVersion: Int, input: PlanBackupSettingsInput!, planId: ID!): BackupPlan!',
      verifySnapshot: '(id: ID!): SnapshotVerification!',
      restoreSnapshot: '(input: RestoreSnapshotInput!): Restore!',
      pruneSnapshots: '(planId: ID!): Int!',
      createApiToken: '(input: CreateApiTokenInput!): IssuedApiToken!',
      createTenant: '(name: String!): IssuedApiToken!',
      syncRepositories: '(organizationId: ID!): RepositorySync!',
      setLicenseSeats: '(count: Int!): LicenseSeats!',
      protectRepository: '(id: ID!): Repository!',
      unprotectRepository: '(id: ID!): Repository!',
      verifyCredential: '(id: ID!): Credential!',
      verifyOrganization: '(id: ID!): Organization!',
      authorizeOrganization: '(id: ID!): Organization!',
      runPlan: '(planId: ID!): Task!',
      createAuditDigest: 'AuditDigest!',
      addAuditDestination: '(input: AddAuditDestinationInput!): AuditDestination!',
      removeAuditDestination: '(id: ID!): ID!',
      addNotificationChannel: '(input: AddNotificationChannelInput!): NotificationChannel!',
      removeNotificationChannel: '(id: ID!): ID!',
    });
  });

  it('has the subscriptions of the contract', () => {
    expect(signatures(schema, 'Subscription')).toEqual({
      auditEvents: '(after: String, filter: AuditFilter): AuditEvent!',
      planCredentialToggled: '(planId: ID): PlanCredentialToggled!',
      taskProgress: '(taskId: ID!): Task!',
    });
  });

  it.each([
    ['BackupPlan', ['id', 'name', 'organization', 'additionalCredentialsEnabled', 'version', 'credentials']],
    ['PlanCredential', ['credential', 'enabled', 'effective', 'enabledAt', 'enabledBy']],
    ['Credential', ['id', 'login', 'fingerprint', 'organization', 'status']],
    ['Actor', ['id', 'name', 'role']],
    ['AuditEvent', ['cursor', 'type', 'occurredAt', 'actor', 'streamName', 'data', 'correlationId', 'causationId', 'hash']],
    ['AuditFilter', ['organizationId', 'planId', 'credentialId', 'actorId', 'types', 'from', 'to']],
    ['AuditEventConnection', ['edges', 'pageInfo']],
    ['AuditEventEdge', ['cursor', 'node']],
    ['PageInfo', ['hasNextPage', 'endCursor']],
    ['AuditVerification', ['ok', 'checked', 'firstBrokenCursor', 'digestsChecked', 'firstBrokenDigest']],
    ['AuditDigest', ['payload', 'signature', 'keyId']],
    ['AuditDigestConnection', ['edges', 'pageInfo']],
    ['AuditSigningKey', ['keyId', 'algorithm', 'publicKeyPem', 'createdAt', 'retiredAt']],
    ['PlanCredentialToggled', ['cursor', 'plan', 'credential', 'enabled', 'actor', 'occurredAt']],
    ['IssuedApiToken', ['token', 'principal']],
    ['RepositorySync', ['id', 'status', 'added', 'removed', 'unchanged']],
    ['LicenseSeats', ['limit', 'used']],
    ['Repository', ['id', 'gitlabId', 'fullPath', 'protected', 'protectedBy']],
    [
      'Task',
      [
        'id',
        'plan',
        'status',
        'repositoriesDone',
        'repositoriesTotal',
        'startedAt',
        'finishedAt',
        'credentialsUsed',
        'throttledPeriods',
        'snapshots',
        'bytesWritten',
      ],
    ],
    [
      'Snapshot',
      [
        'id',
        'repository',
        'task',
        'takenAt',
        'manifestHash',
        'bytes',
        'newBytes',
        'objects',
        'refs',
        'issues',
        'mergeRequests',
        'credentialsUsed',
        'storage',
        'expiresAt',
      ],
    ],
    ['Restore', ['id', 'snapshot', 'status', 'target', 'projectPath', 'archiveUrl', 'startedAt', 'finishedAt', 'actor']],
    ['RestoreSnapshotInput', ['snapshotId', 'target', 'namespacePath', 'projectName', 'passwordId']],
    ['PlanBackupSettingsInput', ['storageId', 'schedule', 'keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly']],
    ['SnapshotVerification', ['ok', 'checkedObjects', 'firstBrokenObject']],
    ['AddAuditDestinationInput', ['name', 'url', 'eventTypes', 'passwordId']],
    ['AuditDestination', ['id', 'name', 'url', 'eventTypes', 'passwordId', 'addedAt', 'addedBy', 'delivery']],
    ['AuditDelivery', ['lastDeliveredPosition', 'lastDeliveredAt', 'failingSince', 'lastError', 'attempts']],
    ['AddNotificationChannelInput', ['name', 'url', 'email', 'kinds']],
    ['NotificationChannel', ['id', 'name', 'url', 'email', 'kinds', 'addedPosition', 'addedAt', 'addedBy', 'delivery']],
    ['NotificationDelivery', ['sent', 'pending', 'lastSentAt', 'failingSince', 'lastError', 'attempts']],
  ])('%s has the fields of the contract', (typeName, fields) => {
    expect(fieldNames(schema, typeName)).toEqual(expect.arrayContaining(fields));
  });

  it('types the fields clients rely on', () => {
    expect(signatures(schema, 'AuditEventConnection')).toEqual({ edges: '[AuditEventEdge!]!', pageInfo: 'PageInfo!' });
    expect(signatures(schema, 'AuditEventEdge')).toEqual({ cursor: 'String!', node: 'AuditEvent!' });
    expect(signatures(schema, 'PageInfo')).toEqual({ endCursor: 'String', hasNextPage: 'Boolean!', liveCursor: 'String' });
    expect(signatures(schema, 'AuditVerification')).toMatchObject({ ok: 'Boolean!', checked: 'Int!', firstBrokenCursor: 'String' });
    expect(signatures(schema, 'AuditVerification')).toMatchObject({ digestsChecked: 'Int!', firstBrokenDigest: 'String' });
    expect(signatures(schema, 'AuditDigest')).toMatchObject({ payload: 'String!', signature: 'String!', keyId: 'String!' });
    expect(signatures(schema, 'AuditDigestConnection')).toEqual({ edges: '[AuditDigestEdge!]!', pageInfo: 'PageInfo!' });
    expect(signatures(schema, 'AuditSigningKey')).toEqual({
      keyId: 'String!',
      algorithm: 'String!',
      publicKeyPem: 'String!',
      createdAt: 'DateTime!',
      retiredAt: 'DateTime',
    });
    expect(signatures(schema, 'BackupPlan')).toMatchObject({ credentials: '[PlanCredential!]!', version: 'Int!', organization: 'Organization!' });
    expect(signatures(schema, 'PlanCredential')).toMatchObject({ enabledAt: 'DateTime', enabledBy: 'Actor', effective: 'Boolean!' });
    expect(signatures(schema, 'IssuedApiToken')).toEqual({ principal: 'Principal!', token: 'String!' });
    expect(signatures(schema, 'AuditDelivery')).toEqual({
      lastDeliveredPosition: 'String',
      lastDeliveredAt: 'DateTime',
      failingSince: 'DateTime',
      lastError: 'String',
      attempts: 'Int!',
    });
  });

  it('gives addOrganization the defaults of the contract', () => {
    const input = schema.getType('AddOrganizationInput');
    if (!isInputObjectType(input)) throw new Error('AddOrganizationInput is not an input type');
    const defaults = Object.fromEntries(Object.values(input.getFields()).map((field) => [field.name, field.defaultValue]));
    expect(defaults).toMatchObject({ provider: 'GITLAB', gitlabUrl: 'https://gitlab.com', protectGroups: false, autoAddNewRepositories: false });
    expect(defaults.name).toBeUndefined();
  });
});
