import { BackplaneError } from '../errors';

// A refused rule is the domain's own error; core hands it on.
export { DomainError } from '../domain/errors';

/** The caller's expected version is stale, or retries ran out against concurrent writers. */
export class ConcurrencyError extends BackplaneError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/** A projection did not reach a position in time. */
export class ProjectionTimeoutError extends BackplaneError {
  constructor(projection: string, position: string, timeoutMs: number) {
    super('PROJECTION_TIMEOUT', `projection ${projection} did not reach position ${position} within ${timeoutMs} ms`);
  }
}
