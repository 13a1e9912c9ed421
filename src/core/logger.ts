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
 * An unexpected error as a log line may hold it: its name and message on one line, short, with
 * every quoted part blanked. Drivers quote the values they refused (PostgreSQL's `invalid input
 * syntax for type uuid: "…"`), and a value may be anything a request carried, a secret included.
 */
export function loggedError(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown error';
  const text = `${error.name}: ${error.message}`
    // A single quote after a letter is an apostrophe ("can't"), not the start of a quotation.
    .replace(/"(?:[^"\\]|\\.)*"|(?<!\w)'(?:[^'\\]|\\.)*'|`[^`]*`/g, (quoted) => `${quoted[0]}…${quoted[0]}`)
    .replace(/\s+/g, ' ');
  return text.length > MAX_LOGGED ? `${text.slice(0, MAX_LOGGED)}…` : text;
}
