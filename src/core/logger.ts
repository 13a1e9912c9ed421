/** Where Backplane says what it does. Never pass a secret to it. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** One JSON object per line on stderr. */
export const jsonLogger: Logger = {
  info: (message, fields) => write('info', message, fields),
  warn: (message, fields) => write('warn', message, fields),
  error: (message, fields) => write('error', message, fields),
};

function write(level: string, message: string, fields?: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
}

/** The longest account of an error a log line holds. */
const MAX_LOGGED = 300;

/**
 * An unexpected error as a log line may hold it: its name and message on one line, short, and cut
 * at its first quotation mark. Drivers quote the values they refused (PostgreSQL's `invalid input
 * syntax for type uuid: "…"`, without escaping the quotes inside), and a value may be anything a
 * request carried, a secret included.
 */
export function loggedError(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const text = `${error.name}: ${error.message}`.replace(/\s+/g, ' ');
  // A single quote after a letter is an apostrophe ("can't"), not the start of a quotation.
  const quote = text.search(/["`]|(?<!\w)'/);
  const plain = quote === -1 ? text : `${text.slice(0, quote)}…`;
  return plain.length > MAX_LOGGED ? `${plain.slice(0, MAX_LOGGED)}…` : plain;
}
