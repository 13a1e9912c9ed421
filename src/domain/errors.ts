import { BackplaneError, type RefusalCode } from '../errors';

/**
 * A business rule refused the command. Nothing was written. `field` names the part of the input
 * at fault, as the client sent it ("name", "schedule.times", "expectedVersion"); the API answers
 * it in extensions.field, as the resolvers' own refusals of an argument do.
 */
export class DomainError extends BackplaneError {
  constructor(
    override readonly code: RefusalCode,
    message: string,
    readonly field?: string,
  ) {
    super(code, message);
  }
}
