import type { Logger } from '../../src/core/logger';

/**
 * Everything the process prints while it runs: the logger's lines, and what libraries (Express,
 * body-parser, ws) write by themselves to the console or to stdout and stderr.
 */
export function captureOutput() {
  const lines: string[] = [];
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => lines.push(JSON.stringify({ level, message, ...fields }));
  const logger: Logger = { info: record('info'), warn: record('warn'), error: record('error') };
  const restore: (() => void)[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      lines.push(String(chunk));
      return (write as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => (stream.write = write));
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => lines.push(args.map((arg) => (arg instanceof Error ? `${arg.stack}` : String(arg))).join(' '));
    restore.push(() => (console[method] = original));
  }
  return {
    logger,
    /** All printed so far, as one text. */
    text: () => lines.join('\n'),
    /** The logger's lines at level error. */
    errors: () => lines.filter((line) => line.startsWith('{"level":"error"')),
    clear: () => void lines.splice(0),
    restore: () =>
      restore.forEach((undo) => {
        undo();
      }),
  };
}
