import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { ArgumentValidationError } from 'type-graphql';
import type { Logger } from '../core/logger';
import { BackplaneError } from '../errors';

/** Domain codes as the API names them; codes not listed pass through as they are. */
const CODES: Record<string, string> = {
  INVALID_INPUT: 'BAD_USER_INPUT',
  INVALID_ARGUMENT: 'BAD_USER_INPUT',
  APPEND_ORDER_CONFLICT: 'CONFLICT',
  APPEND_DEADLOCK: 'CONFLICT',
  WRONG_EXPECTED_VERSION: 'CONFLICT',
  LICENSE_SEATS_EXHAUSTED: 'CONFLICT',
  // A password changed or deleted while a call was about to use it: the call may be made again.
  SECRET_UNAVAILABLE: 'CONFLICT',
  PENDING_AUTHORIZATION: 'CONFLICT',
};

/** Codes whose messages are written for the client; anything else is answered without its message. */
const CLIENT_CODES = new Set(['BAD_USER_INPUT', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'QUERY_TOO_COMPLEX', 'EVENT_STORE_UNAVAILABLE', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'OPERATION_RESOLUTION_FAILURE', 'GITLAB_AUTH_FAILED']);

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
    const detail = Object.entries(fields).map(([field, messages]) => `${field}: ${messages.join('; ')}`).join(', ');
    return { ...base, message: `invalid input: ${detail}`, extensions: { code: 'BAD_USER_INPUT', fields } };
  }
  if (original instanceof BackplaneError) {
    const code = CODES[original.code] ?? original.code;
    if (CLIENT_CODES.has(code)) return { ...base, message: original.message, extensions: { code } };
  }
  const code = typeof formatted.extensions?.code === 'string' ? formatted.extensions.code : 'INTERNAL_SERVER_ERROR';
  if (CLIENT_CODES.has(code)) {
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    return { ...base, extensions: { ...extensions, code } };
  }
  logger.error('request failed', { error: original instanceof Error ? `${original.name}: ${original.message}` : 'unknown', code: (original as { code?: unknown })?.code });
  return { ...base, message: 'internal error: the request failed on the server', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}
