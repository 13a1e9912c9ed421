import { GraphQLError } from 'graphql';
import { ReadModelsCatchingUpError } from '../../src/core/errors';
import type { Logger } from '../../src/core/logger';
import { DomainError } from '../../src/domain/errors';
import { BackplaneError, type ErrorCode } from '../../src/errors';
import { formatError } from '../../src/graphql/errors';

const INTERNAL = 'INTERNAL_SERVER_ERROR';

/** What the client is answered with, for each code. */
const answered = {
  CONFLICT: [
    'CONFLICT',
    'LICENSE_SEATS_EXHAUSTED',
    'PENDING_AUTHORIZATION',
    'SYNC_RUNNING',
    'SYNC_ALREADY_STARTED',
    'WRONG_EXPECTED_VERSION',
    'APPEND_ORDER_CONFLICT',
    'APPEND_DEADLOCK',
    'SECRET_UNAVAILABLE',
  ],
  BAD_USER_INPUT: ['INVALID_INPUT', 'INVALID_ARGUMENT'],
  NOT_FOUND: ['NOT_FOUND'],
  FORBIDDEN: ['FORBIDDEN'],
  UNAUTHENTICATED: ['UNAUTHENTICATED'],
  GITLAB_AUTH_FAILED: ['GITLAB_AUTH_FAILED'],
  EVENT_STORE_UNAVAILABLE: ['EVENT_STORE_UNAVAILABLE'],
  STORAGE_UNAVAILABLE: ['STORAGE_UNAVAILABLE'],
  SNAPSHOT_DAMAGED: ['SNAPSHOT_DAMAGED'],
  UNAVAILABLE: ['UNAVAILABLE'],
  CHANGE_NOT_SHOWN: ['CHANGE_NOT_SHOWN'],
  SUBSCRIPTION_TOO_SLOW: ['SUBSCRIPTION_TOO_SLOW'],
  [INTERNAL]: [
    ...['DUPLICATE_EVENT_ID', 'STREAM_DELETED', 'STORE_LOCKED', 'EVENT_STORE_ACCESS_DENIED'],
    ...['GITLAB_UNAUTHORIZED', 'GITLAB_FORBIDDEN', 'GITLAB_NOT_FOUND', 'GITLAB_RATE_LIMITED', 'GITLAB_UNREACHABLE', 'GITLAB_TIMEOUT'],
    ...['GITLAB_SERVER_ERROR', 'GITLAB_BAD_RESPONSE', 'GITLAB_ABORTED', 'GITLAB_NO_CREDENTIAL', 'GITLAB_MEMBER_GONE'],
    ...[
      'PROJECTION_TIMEOUT',
      'CHECKPOINT_MOVED',
      'LOCK_LOST',
      'LOCK_TIMEOUT',
      'READ_MODEL_VERSION',
      'SCHEMA_TOO_NEW',
      'MIGRATION_LOCKED',
      'INVALID_CONFIG',
      'INVALID_MASTER_KEY',
    ],
  ],
} as const satisfies Record<string, readonly ErrorCode[]>;

// A code added to the union without a place in the table above fails to compile here.
type Unlisted = Exclude<ErrorCode, (typeof answered)[keyof typeof answered][number]>;
const everyCodeListed: [Unlisted] extends [never] ? true : Unlisted = true;

const table = Object.entries(answered).flatMap(([client, codes]) => codes.map((code) => [code, client] as [ErrorCode, string]));

function answer(code: ErrorCode) {
  const logged: unknown[] = [];
  const logger: Logger = { info: () => undefined, warn: () => undefined, error: (...line) => logged.push(line) };
  const error = new GraphQLError('as Apollo words it', { originalError: new BackplaneError(code, `what ${code} says`) });
  return { formatted: formatError({ message: error.message }, error, logger), logged };
}

describe('formatError', () => {
  it('has every code in the table once', () => {
    expect(everyCodeListed).toBe(true);
    expect(new Set(table.map(([code]) => code)).size).toBe(table.length);
  });

  it.each(table.filter(([, client]) => client !== INTERNAL))('answers %s as %s, with its message', (code, client) => {
    const { formatted, logged } = answer(code);
    expect(formatted).toMatchObject({ message: `what ${code} says`, extensions: { code: client } });
    expect(logged).toEqual([]);
  });

  it.each(table.filter(([, client]) => client === INTERNAL))('answers %s as an internal error, without its message, and logs it', (code) => {
    const { formatted, logged } = answer(code);
    expect(formatted).toMatchObject({ message: 'internal error: the request failed on the server', extensions: { code: INTERNAL } });
    expect(logged).toHaveLength(1);
  });

  it('tells a change refused while read models catch up when to try again', () => {
    const error = new GraphQLError('as Apollo words it', { originalError: new ReadModelsCatchingUpError(['audit-log'], 4200) });
    const formatted = formatError({ message: error.message }, error, { info: () => undefined, warn: () => undefined, error: () => undefined });
    expect(formatted.extensions).toEqual({ code: 'UNAVAILABLE', retryAfterMs: 4200 });
    expect(formatted.message).toMatch(/audit-log.*nothing was written; try again in 5 s/);
  });

  it.each([
    ['INVALID_INPUT', 'BAD_USER_INPUT', 'schedule.times'],
    ['CONFLICT', 'CONFLICT', 'name'],
  ] as const)('names the field a rule refused (%s) in extensions.field', (code, client, field) => {
    const error = new GraphQLError('as Apollo words it', { originalError: new DomainError(code, `${field}: refused`, field) });
    const formatted = formatError({ message: error.message }, error, { info: () => undefined, warn: () => undefined, error: () => undefined });
    expect(formatted).toMatchObject({ message: `${field}: refused`, extensions: { code: client, field } });
    expect(Object.keys(formatted.extensions ?? {}).sort()).toEqual(['code', 'field']);
  });

  it('adds no field when the rule named none', () => {
    const error = new GraphQLError('as Apollo words it', { originalError: new DomainError('INVALID_INPUT', 'refused') });
    const formatted = formatError({ message: error.message }, error, { info: () => undefined, warn: () => undefined, error: () => undefined });
    expect(formatted.extensions).toEqual({ code: 'BAD_USER_INPUT' });
  });
});
