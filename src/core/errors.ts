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

/**
 * A change was written (its events are in the log for good), but the read models its answer shows
 * did not show it, or the log did not let readers see it, within the wait: the answer cannot be
 * given, and sending the change again would make it twice. Read it back later instead.
 */
export class ChangeNotShownError extends BackplaneError {
  constructor(readonly position: string) {
    super(
      'CHANGE_NOT_SHOWN',
      'the change was written, but the read models did not show it in time: it is not undone; read it back later rather than send it again',
    );
  }
}

/** A projection did not reach a position in time. */
export class ProjectionTimeoutError extends BackplaneError {
  constructor(
    readonly projection: string,
    position: string,
    timeoutMs: number,
  ) {
    super('PROJECTION_TIMEOUT', `projection ${projection} did not reach position ${position} within ${timeoutMs} ms`);
  }
}
