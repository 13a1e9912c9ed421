import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { ArgumentValidationError } from 'type-graphql';
import { echoed } from '../core/echo';
import { ReadModelsCatchingUpError } from '../core/errors';
import { loggedError, type Logger } from '../core/logger';
import { DomainError } from '../domain/errors';
import { BackplaneError, MAX_MESSAGE, type ErrorCode } from '../errors';

/** Codes the API answers with, its own and Apollo's; anything else is answered without its message. */
const CLIENT_CODES = [
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'QUERY_TOO_COMPLEX',
  'EVENT_STORE_UNAVAILABLE',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'OPERATION_RESOLUTION_FAILURE',
  'GITLAB_AUTH_FAILED',
  'STORAGE_UNAVAILABLE',
  'SNAPSHOT_DAMAGED',
  'UNAVAILABLE',
  'CHANGE_NOT_SHOWN',
  'SUBSCRIPTION_TOO_SLOW',
] as const;
type ClientCode = (typeof CLIENT_CODES)[number];
const clientCodes = new Set<string>(CLIENT_CODES);

/** Not for the client: its message may name internals; it is logged, and answered as an internal error. */
const INTERNAL = null;

/**
 * Every error code as the API names it. A Record over the closed union: a code added without
 * a line here fails to compile, instead of reaching clients as an internal error unnoticed.
 */
const CLIENT_CODE_OF: Record<ErrorCode, ClientCode | typeof INTERNAL> = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  CONFLICT: 'CONFLICT',
  NOT_FOUND: 'NOT_FOUND',
  INVALID_INPUT: 'BAD_USER_INPUT',
  FORBIDDEN: 'FORBIDDEN',
  GITLAB_AUTH_FAILED: 'GITLAB_AUTH_FAILED',
  LICENSE_SEATS_EXHAUSTED: 'CONFLICT',
  PENDING_AUTHORIZATION: 'CONFLICT',
  // Another sync of the organization runs, or served the slot: the use case answers with it, should one get here it is a conflict.
  SYNC_RUNNING: 'CONFLICT',
  SYNC_ALREADY_STARTED: 'CONFLICT',
  WRONG_EXPECTED_VERSION: 'CONFLICT',
  INVALID_ARGUMENT: 'BAD_USER_INPUT',
  DUPLICATE_EVENT_ID: INTERNAL,
  APPEND_ORDER_CONFLICT: 'CONFLICT',
  APPEND_DEADLOCK: 'CONFLICT',
  EVENT_STORE_UNAVAILABLE: 'EVENT_STORE_UNAVAILABLE',
  // The deployment's EventStoreDB user lacks a right: the operator's to fix, logged.
  EVENT_STORE_ACCESS_DENIED: INTERNAL,
  STREAM_DELETED: INTERNAL,
  STORE_LOCKED: INTERNAL,
  // GitLab's failures are recorded on what they concern (a verification, a sync, a task); the API does not relay them.
  GITLAB_UNAUTHORIZED: INTERNAL,
  GITLAB_FORBIDDEN: INTERNAL,
  GITLAB_NOT_FOUND: INTERNAL,
  GITLAB_RATE_LIMITED: INTERNAL,
  GITLAB_UNREACHABLE: INTERNAL,
  GITLAB_TIMEOUT: INTERNAL,
  GITLAB_SERVER_ERROR: INTERNAL,
  GITLAB_BAD_RESPONSE: INTERNAL,
  GITLAB_ABORTED: INTERNAL,
  GITLAB_NO_CREDENTIAL: INTERNAL,
  GITLAB_MEMBER_GONE: INTERNAL,
  PROJECTION_TIMEOUT: INTERNAL,
  CHECKPOINT_MOVED: INTERNAL,
  LOCK_LOST: INTERNAL,
  LOCK_TIMEOUT: INTERNAL,
  // A process of another version keeps the read models: a deployment's trouble, not the client's.
  READ_MODEL_VERSION: INTERNAL,
  SCHEMA_TOO_NEW: INTERNAL,
  MIGRATION_LOCKED: INTERNAL,
  INVALID_CONFIG: INTERNAL,
  INVALID_MASTER_KEY: INTERNAL,
  // A password changed or deleted while a call was about to use it: the call may be made again.
  SECRET_UNAVAILABLE: 'CONFLICT',
  // A storage that cannot be reached, or an object in it missing or altered: what the client can act on (check the storage, verify the snapshot).
  STORAGE_UNAVAILABLE: 'STORAGE_UNAVAILABLE',
  SNAPSHOT_DAMAGED: 'SNAPSHOT_DAMAGED',
  // Read models a change waits on are catching up: nothing was written, the same request may be sent again (extensions.retryAfterMs).
  UNAVAILABLE: 'UNAVAILABLE',
  // The change was written, but the read models did not show it in time: it must not be sent again, only read back.
  CHANGE_NOT_SHOWN: 'CHANGE_NOT_SHOWN',
  // A subscriber that fell too far behind was ended: it subscribes again from its last cursor.
  SUBSCRIPTION_TOO_SLOW: 'SUBSCRIPTION_TOO_SLOW',
};

/**
 * One error as the client sees it, on HTTP and on the WebSocket alike: a code in
 * extensions.code, per-field messages for invalid input, and never a stack trace or the
 * text of an unexpected failure (which could quote anything, secrets included).
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, logger: Logger): GraphQLFormattedError {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  const base = { message: formatted.message, locations: formatted.locations, path: formatted.path };
  if (original instanceof ArgumentValidationError) {
    const fields: Record<string, string[]> = {};
    const walk = (errors: typeof original.extensions.validationErrors, prefix: string) => {
      for (const item of errors) {
        const path = prefix === '' ? item.property : `${prefix}.${item.property}`;
        if (item.constraints) fields[path] = Object.values(item.constraints);
        if (item.children?.length) walk(item.children, path);
      }
    };
    walk(original.extensions.validationErrors, '');
    const detail = Object.entries(fields)
      .map(([field, messages]) => `${field}: ${messages.join('; ')}`)
      .join(', ');
    return { ...base, message: `invalid input: ${detail}`, extensions: { code: 'BAD_USER_INPUT', fields } };
  }
  if (original instanceof BackplaneError) {
    const code = CLIENT_CODE_OF[original.code];
    const retry = original instanceof ReadModelsCatchingUpError ? { retryAfterMs: original.retryAfterMs } : {};
    // The part of the input at fault, as class-validator's refusals and the resolvers' own name theirs.
    const field = original instanceof DomainError && original.field !== undefined ? { field: original.field } : {};
    // A message may quote what came in (an id): its hidden characters go, as in every other answer.
    if (code !== INTERNAL) return { ...base, message: echoed(original.message, MAX_MESSAGE), extensions: { code, ...retry, ...field } };
  }
  const code = typeof formatted.extensions?.code === 'string' ? formatted.extensions.code : 'INTERNAL_SERVER_ERROR';
  if (clientCodes.has(code)) {
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    // graphql-js quotes the literal it refused, whole: a megabyte of it, or a secret typed in the wrong place.
    return { ...base, message: echoed(base.message, 300), extensions: { ...extensions, code } };
  }
  logger.error('request failed', { error: loggedError(original), code: (original as { code?: unknown })?.code });
  return { ...base, message: 'internal error: the request failed on the server', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}

/**
 * The code formatError answers an error with, worked out the same way but without logging: for
 * a count of outcomes, from an error before or after it was formatted.
 */
export function clientCodeOf(error: unknown): string {
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  if (original instanceof ArgumentValidationError) return 'BAD_USER_INPUT';
  if (original instanceof BackplaneError) {
    const code = CLIENT_CODE_OF[original.code];
    if (code !== INTERNAL) return code;
  }
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return typeof code === 'string' && clientCodes.has(code) ? code : 'INTERNAL_SERVER_ERROR';
}
