import { BackplaneError, type RefusalCode } from '../errors';

/** A business rule refused the command. Nothing was written. */
export class DomainError extends BackplaneError {
  constructor(
    override readonly code: RefusalCode,
    message: string,
  ) {
    super(code, message);
  }
}

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
