import type { Logger } from '../../src/core/logger';

/** A logger that keeps every line (its message and fields, whatever the level), for a test to read. */
export function recordingLogger() {
  const lines: { message: string; fields: Record<string, unknown> }[] = [];
  const record = (message: string, fields: Record<string, unknown> = {}) => void lines.push({ message, fields });
  const logger: Logger = { info: record, warn: record, error: record };
  return { logger, lines };
}
