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
