/** The GraphQL documents the console sends: the public API's own operations, nothing private. */
const CREDENTIAL = 'id login status fingerprint throttledUntil token { expiresAt failure problem verifiedAt }';
const ORGANIZATION = `id name gitlabUrl authMethod login status version protectGroups autoAddNewRepositories authorizationUrl
  repositoriesSync { times intervalMinutes } defaultDevice { id name } password { id name fingerprint }
  token { expiresAt failure problem verifiedAt }`;
const PLAN = `id name version additionalCredentialsEnabled organization { id name }
  credentials { credential { id login status } enabled effective enabledAt enabledBy { id name role } }
  backupSettings { storage { id name } schedule { times intervalMinutes } keepLast keepDaily keepWeekly keepMonthly nextRunAt }`;

/** Kept under the API's complexity limit for a list of tasks: the accounts by login only. */
const TASK = `id status startedAt finishedAt reason repositoriesTotal repositoriesDone repositoriesFailed bytesWritten
  startedBy { id name role } credentialsUsed { login requests } throttledPeriods { from until }`;

/** One task on its own page: the accounts with their credential, which the list leaves out for its complexity. */
const TASK_DETAIL = `${TASK} plan { id name } credentialsUsed { login requests credential { id login status } }
  snapshots(first: 100) { totalCount edges { node { id fullPath takenAt bytes storedBytes } } }`;
const SNAPSHOT = `id fullPath takenAt bytes storedBytes newBytes objects expiresAt task { id }
  credentialsUsed { login requests credential { id login } }
  verification { ok checkedObjects firstBrokenObject verifiedAt }`;
const VERIFICATION = 'ok checkedObjects firstBrokenObject verifiedAt';
const RESTORE = `id status target namespacePath projectPath step stepsDone stepsTotal reason startedAt finishedAt
  actor { id name role } snapshot { id fullPath takenAt }
  counts { refs labels milestones issues notes releases } leftOut { refs mergeRequests wiki }`;

/** An event of the log as the event log shows it (the stream, hash and cursor in its details). */
const AUDIT_EVENT = 'id cursor type occurredAt streamName data correlationId causationId hash actor { id name role kind }';
const AUDIT_DIGEST = 'cursor sequence periodStart periodEnd eventCount keyId logPosition streams { stream }';

export const docs = {
  me: 'query { me { id name role tenant { name } } }',
  organizations: `query { organizations { ${ORGANIZATION} credentials { id status } } }`,
  organization: `query($id: ID!) { organization(id: $id) { ${ORGANIZATION} credentials { ${CREDENTIAL} } } }`,
  organizationStatus: 'query($id: ID!) { organization(id: $id) { id status } }',
  devices: 'query { devices { id name builtIn } }',
  passwords: 'query { passwords { id name fingerprint } }',
  storePassword: 'mutation($input: StorePasswordInput!) { storePassword(input: $input) { id name fingerprint } }',
  addOrganization: `mutation($input: AddOrganizationInput!) { addOrganization(input: $input) { ${ORGANIZATION} } }`,
  authorizeOrganization: 'mutation($id: ID!) { authorizeOrganization(id: $id) { id status authorizationUrl } }',
  updateOrganizationSettings: `mutation($id: ID!, $input: OrganizationSettingsInput!, $v: Int) {
    updateOrganizationSettings(id: $id, input: $input, expectedVersion: $v) { ${ORGANIZATION} } }`,
  changeDefaultDevice: `mutation($id: ID!, $deviceId: ID!) { changeDefaultDevice(id: $id, deviceId: $deviceId) { ${ORGANIZATION} } }`,
  verifyOrganization: `mutation($id: ID!) { verifyOrganization(id: $id) { ${ORGANIZATION} } }`,
  addCredential: `mutation($input: AddCredentialInput!) { addCredential(input: $input) { ${CREDENTIAL} } }`,
  removeCredential: 'mutation($id: ID!) { removeCredential(id: $id) { id status } }',
  verifyCredential: `mutation($id: ID!) { verifyCredential(id: $id) { ${CREDENTIAL} } }`,
  plans: 'query { plans { id name additionalCredentialsEnabled organization { id name } credentials { enabled effective } } }',
  plan: `query($id: ID!) { plan(id: $id) { ${PLAN} } }`,
  createPlan: `mutation($input: CreatePlanInput!) { createPlan(input: $input) { ${PLAN} } }`,
  updatePlanCredentials: `mutation($planId: ID!, $input: UpdatePlanCredentialsInput!, $v: Int) {
    updatePlanCredentials(planId: $planId, input: $input, expectedVersion: $v) { ${PLAN} } }`,
  storages: 'query { storages { id name kind isDefault } }',
  updatePlanBackupSettings: `mutation($planId: ID!, $input: PlanBackupSettingsInput!, $v: Int) {
    updatePlanBackupSettings(planId: $planId, input: $input, expectedVersion: $v) { ${PLAN} } }`,
  tasks: `query($planId: ID!) { tasks(planId: $planId) { ${TASK} } }`,
  runPlan: `mutation($planId: ID!) { runPlan(planId: $planId) { ${TASK} } }`,
  taskProgress: `subscription($taskId: ID!) { taskProgress(taskId: $taskId) { ${TASK} } }`,
  task: `query($id: ID!) { task(id: $id) { ${TASK_DETAIL} } }`,
  /** The results of each repository, as the history records them (ADMIN and AUDITOR read the history). */
  taskRepositories: `query($filter: AuditFilter, $after: String) { auditLog(filter: $filter, first: 500, after: $after) {
    edges { node { id type occurredAt data } } pageInfo { hasNextPage endCursor } } }`,
  snapshots: `query($planId: ID!, $after: String) { snapshots(planId: $planId, first: 20, after: $after) {
    totalCount edges { node { ${SNAPSHOT} } } pageInfo { hasNextPage endCursor } } }`,
  snapshot: `query($id: ID!) { snapshot(id: $id) { ${SNAPSHOT} } }`,
  verifySnapshot: `mutation($id: ID!) { verifySnapshot(id: $id) { ${VERIFICATION} } }`,
  pruneSnapshots: 'mutation($planId: ID!) { pruneSnapshots(planId: $planId) }',
  restoreSnapshot: `mutation($input: RestoreSnapshotInput!) { restoreSnapshot(input: $input) { ${RESTORE} } }`,
  restore: `query($id: ID!) { restore(id: $id) { ${RESTORE} } }`,
  planHistory: `query($filter: AuditFilter, $after: String) { auditLog(filter: $filter, first: 500, after: $after) {
    edges { node { id type occurredAt data correlationId actor { id name role } } } pageInfo { hasNextPage endCursor liveCursor } } }`,
  planCredentialsAsOf: `query($planId: ID!, $at: DateTime!) { planCredentialsAsOf(planId: $planId, at: $at) {
    credential { id login } enabled effective enabledAt enabledBy { id name role } } }`,
  verifyAuditLog: 'query { verifyAuditLog { ok checked digestsChecked firstBrokenCursor firstBrokenDigest problem } }',
  planEvents: 'subscription($filter: AuditFilter, $after: String) { auditEvents(filter: $filter, after: $after) { cursor id } }',
  auditLog: `query($filter: AuditFilter, $after: String) { auditLog(filter: $filter, first: 100, after: $after) {
    edges { node { ${AUDIT_EVENT} } } pageInfo { hasNextPage endCursor liveCursor } } }`,
  auditEvents: `subscription($filter: AuditFilter, $after: String) { auditEvents(filter: $filter, after: $after) { ${AUDIT_EVENT} } }`,
  /** What the event log's filters offer, and the names its rows show for the ids the events carry. */
  auditNames: 'query { organizations { id name credentials { id login } } plans { id name organization { id } } }',
  apiTokens: 'query { apiTokens { id name role } }',
  auditDigests: `query($after: String) { auditDigests(first: 50, after: $after) { edges { node { ${AUDIT_DIGEST} } } pageInfo { hasNextPage endCursor } } }`,
  auditSigningKeys: 'query { auditSigningKeys { keyId algorithm createdAt retiredAt } }',
  createAuditDigest: `mutation { createAuditDigest { ${AUDIT_DIGEST} } }`,
};

export interface TokenStatus {
  expiresAt: string | null;
  failure: string | null;
  problem: string | null;
  verifiedAt: string | null;
}

export interface Organization {
  id: string;
  name: string;
  gitlabUrl: string;
  authMethod: 'SSO' | 'TOKEN';
  login: string | null;
  status: string;
  version: number;
  protectGroups: boolean;
  autoAddNewRepositories: boolean;
  authorizationUrl: string | null;
  repositoriesSync: { times: string[] | null; intervalMinutes: number | null };
  defaultDevice: { id: string; name: string } | null;
  password: { id: string; name: string; fingerprint: string } | null;
  token: TokenStatus;
  credentials: Credential[];
}

export interface Credential {
  id: string;
  login: string;
  status: string;
  fingerprint: string | null;
  throttledUntil: string | null;
  token: TokenStatus;
}

export interface Actor {
  id: string | null;
  name: string | null;
  role: string | null;
}

export interface PlanCredential {
  credential: { id: string; login: string; status?: string };
  enabled: boolean;
  effective: boolean;
  enabledAt: string | null;
  enabledBy: Actor | null;
}

export interface Plan {
  id: string;
  name: string;
  version: number;
  additionalCredentialsEnabled: boolean;
  organization: { id: string; name: string };
  credentials: PlanCredential[];
  backupSettings: BackupSettings;
}

export interface BackupSettings {
  storage: { id: string; name: string };
  schedule: { times: string[] | null; intervalMinutes: number | null } | null;
  keepLast: number | null;
  keepDaily: number | null;
  keepWeekly: number | null;
  keepMonthly: number | null;
  nextRunAt: string | null;
}

export interface PasswordEntry {
  id: string;
  name: string;
  fingerprint: string;
}

export interface Device {
  id: string;
  name: string;
  builtIn: boolean;
}

export interface HistoryEvent {
  id: string;
  type: string;
  occurredAt: string;
  data: Record<string, unknown>;
  correlationId: string | null;
  actor: Actor;
}

export interface Task {
  id: string;
  status: 'RUNNING' | 'THROTTLED' | 'COMPLETED' | 'FAILED';
  startedAt: string;
  finishedAt: string | null;
  reason: string | null;
  repositoriesTotal: number;
  repositoriesDone: number;
  repositoriesFailed: number;
  bytesWritten: number;
  startedBy: Actor;
  credentialsUsed: { login: string; requests: number }[];
  throttledPeriods: { from: string; until: string }[];
}

export interface TaskDetail extends Task {
  plan: { id: string; name: string };
  credentialsUsed: { login: string; requests: number; credential?: { id: string; login: string; status: string } | null }[];
  snapshots: Connection<{ id: string; fullPath: string; takenAt: string; bytes: number; storedBytes: number }> & { totalCount: number };
}

export interface SnapshotVerification {
  ok: boolean;
  checkedObjects: number;
  firstBrokenObject: string | null;
  verifiedAt: string;
}

export interface Snapshot {
  id: string;
  fullPath: string;
  takenAt: string;
  bytes: number;
  storedBytes: number;
  newBytes: number;
  objects: number;
  expiresAt: string | null;
  task: { id: string };
  credentialsUsed: { login: string; requests: number; credential: { id: string; login: string } | null }[];
  verification: SnapshotVerification | null;
}

export interface Restore {
  id: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  target: 'GITLAB_PROJECT' | 'ARCHIVE';
  namespacePath: string | null;
  projectPath: string | null;
  step: string | null;
  stepsDone: number;
  stepsTotal: number;
  reason: string | null;
  startedAt: string;
  finishedAt: string | null;
  actor: Actor;
  snapshot: { id: string; fullPath: string; takenAt: string } | null;
  counts: { refs: number; labels: number; milestones: number; issues: number; notes: number; releases: number } | null;
  leftOut: { refs: string[]; mergeRequests: number; wiki: boolean } | null;
}

export interface AuditEvent extends HistoryEvent {
  cursor: string;
  streamName: string;
  causationId: string | null;
  hash: string;
  actor: Actor & { kind?: string | null };
}

export interface AuditDigest {
  cursor: string;
  /** Its number in the tenant's chain of digests: what an export by digest periods names. */
  sequence: number;
  periodStart: string;
  periodEnd: string;
  eventCount: number;
  keyId: string;
  logPosition: string | null;
  streams: { stream: string }[];
}

export interface AuditSigningKey {
  keyId: string;
  algorithm: string;
  createdAt: string;
  retiredAt: string | null;
}

export interface Connection<T> {
  edges: { node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null; liveCursor?: string | null };
}
