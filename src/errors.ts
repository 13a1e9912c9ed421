/**
 * Every error Backplane raises on purpose carries a stable code, so that an edge
 * (GraphQL, the CLI) maps codes and never parses messages.
 */
export class BackplaneError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** An error's message for a record or a reason; what it wraps is not looked into. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : 'unknown failure';
}
