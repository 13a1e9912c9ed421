import { BackplaneError } from '../errors';

// A refused rule is the domain's own error; core hands it on.
export { DomainError } from '../domain/errors';

/** The caller's expected version is stale, or retries ran out against concurrent writers. */
export class ConcurrencyError extends BackplaneError {
  constructor(message: string, code: 'CONFLICT' | 'UNAVAILABLE' = 'CONFLICT') {
    super(code, message);
  }
}

/**
 * A mutation refused by the API before any resolver ran, because read models are still catching
 * up with the log (after a start over a long history, or a rebuild): nothing was written, and the
 * same request may be sent again once they have caught up, in about `retryAfterMs`.
 */
export class ReadModelsCatchingUpError extends ConcurrencyError {
  constructor(
    readonly projections: string[],
    readonly retryAfterMs: number,
  ) {
    super(
      `the read models are catching up with the log (${projections.join(', ')}): nothing was written; try again in ${Math.ceil(retryAfterMs / 1000)} s`,
      'UNAVAILABLE',
    );
  }
}

/** A projection did not reach a position in time. */
export class ProjectionTimeoutError extends BackplaneError {
  constructor(projection: string, position: string, timeoutMs: number) {
    super('PROJECTION_TIMEOUT', `projection ${projection} did not reach position ${position} within ${timeoutMs} ms`);
  }
}
