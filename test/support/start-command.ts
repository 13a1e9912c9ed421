import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The service's entry point, as `npm start` and the image run it (relative to the project's root). */
export const SERVICE_MAIN = 'dist/src/main.js';

/** `node`, its options (`--name` or `--name=value`) and the entry point, ending the start script. */
const START = new RegExp(`(?:^|&&\\s*)node((?:\\s+--[a-z][a-z0-9-]*(?:=[^\\s'"]+)?)*)\\s+${SERVICE_MAIN.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s*$`);

/**
 * The Node options `npm start` runs the service with, read from package.json's start script
 * (`node <options> dist/src/main.js`): what a benchmark that spawns the service passes too, and
 * what the image's CMD must pass.
 */
export function serviceNodeOptions(root: string): string[] {
  const start: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts?.start;
  const run = typeof start === 'string' ? START.exec(start) : null;
  if (!run) throw new Error(`package.json's start script does not end with node [options] ${SERVICE_MAIN}: ${JSON.stringify(start)}`);
  return run[1].trim() === '' ? [] : run[1].trim().split(/\s+/);
}
