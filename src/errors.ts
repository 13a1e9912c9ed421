/** A business rule, or the use case applying it, refused a request (core/errors.ts's DomainError). */
export type RefusalCode =
  | 'UNAUTHENTICATED'
  | 'CONFLICT'
  | 'NOT_FOUND'
  | 'INVALID_INPUT'
  | 'FORBIDDEN'
  | 'GITLAB_AUTH_FAILED'
  | 'LICENSE_SEATS_EXHAUSTED'
  | 'PENDING_AUTHORIZATION'
  | 'SYNC_RUNNING'
  | 'SYNC_ALREADY_STARTED';

/** The event store refused or failed a read or an append (eventstore/errors.ts). */
export type StoreCode =
  | 'WRONG_EXPECTED_VERSION'
  | 'INVALID_ARGUMENT'
  | 'DUPLICATE_EVENT_ID'
  | 'APPEND_ORDER_CONFLICT'
  | 'APPEND_DEADLOCK'
  | 'EVENT_STORE_UNAVAILABLE'
  | 'EVENT_STORE_ACCESS_DENIED'
  | 'STREAM_DELETED'
  | 'STORE_LOCKED';

/** A call to GitLab failed (gitlab/types.ts's GitLabError, and the credential pool). */
export type GitLabCode =
  | 'GITLAB_UNAUTHORIZED'
  | 'GITLAB_FORBIDDEN'
  | 'GITLAB_NOT_FOUND'
  | 'GITLAB_RATE_LIMITED'
  | 'GITLAB_UNREACHABLE'
  | 'GITLAB_TIMEOUT'
  | 'GITLAB_SERVER_ERROR'
  | 'GITLAB_BAD_RESPONSE'
  | 'GITLAB_ABORTED'
  | 'GITLAB_NO_CREDENTIAL'
  | 'GITLAB_MEMBER_GONE';

/** The running system's own troubles: start-up, locks, projections, the vault, the backup storages. */
export type SystemCode =
  | 'PROJECTION_TIMEOUT'
  | 'CHECKPOINT_MOVED'
  | 'LOCK_LOST'
  | 'LOCK_TIMEOUT'
  | 'READ_MODEL_VERSION'
  | 'SCHEMA_TOO_NEW'
  | 'MIGRATION_LOCKED'
  | 'INVALID_CONFIG'
  | 'INVALID_MASTER_KEY'
  | 'SECRET_UNAVAILABLE'
  | 'STORAGE_UNAVAILABLE'
  | 'SNAPSHOT_DAMAGED'
  | 'UNAVAILABLE'
  | 'CHANGE_NOT_SHOWN'
  | 'SUBSCRIPTION_TOO_SLOW';

/**
 * Every code an error of Backplane's may carry. Closed: each edge maps every one (the GraphQL
 * edge in graphql/errors.ts), so a new code that is not mapped fails to compile.
 */
export type ErrorCode = RefusalCode | StoreCode | GitLabCode | SystemCode;

export const MAX_MESSAGE = 500;

/**
 * Every error Backplane raises on purpose carries a stable code, so that an edge
 * (GraphQL, the CLI) maps codes and never parses messages.
 */
export class BackplaneError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    // A message may quote what came in (an id, a name, a server's answer): never at length.
    super(message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message);
    this.name = new.target.name;
  }
}

/** An error's message for a record or a reason; what it wraps is not looked into. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : 'unknown failure';
}
