import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BackplaneError } from '../errors';

export class MasterKeyError extends BackplaneError {
  constructor(message: string) {
    super('INVALID_MASTER_KEY', message);
  }
}

export const KEY_FILE = 'master.key';

/**
 * The key that encrypts the password manager's secrets: BACKPLANE_MASTER_KEY when set (32 random
 * bytes, base64), else a key file in the data folder, made with mode 0600 on first start.
 */
export async function loadMasterKey(options: { fromEnv?: string; dataDir: string }): Promise<{ key: Buffer; source: string }> {
  if (options.fromEnv !== undefined && options.fromEnv !== '') {
    return { key: decode(options.fromEnv, 'BACKPLANE_MASTER_KEY'), source: 'BACKPLANE_MASTER_KEY' };
  }
  const file = join(options.dataDir, KEY_FILE);
  await mkdir(options.dataDir, { recursive: true });
  try {
    // 'wx': of two processes starting at once on one folder, one creates the key and the other reads it.
    await writeFile(file, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const mode = (await stat(file)).mode & 0o777;
  if ((mode & 0o077) !== 0) await chmod(file, 0o600);
  return { key: decode((await readFile(file, 'utf8')).trim(), file), source: file };
}

function decode(text: string, where: string): Buffer {
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) throw new MasterKeyError(`${where} must hold 32 random bytes in base64 (e.g. from \`openssl rand -base64 32\`)`);
  return key;
}
