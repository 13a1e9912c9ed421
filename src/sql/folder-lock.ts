import { hostname } from 'node:os';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BackplaneError } from '../errors';

export interface FolderLock {
  release(): void;
}

interface Holder {
  pid: number;
  host: string;
  startedAt: string;
}

const LOCK_FILE = 'backplane.lock';

/** The embedded store's folder is held by another process. */
export class StoreLockedError extends BackplaneError {
  constructor(
    readonly folder: string,
    readonly holderPid: number,
    detail: string,
    lockFile: string,
  ) {
    super(
      'STORE_LOCKED',
      `the store in ${folder} is in use by process ${holderPid}${detail}; stop it or point this one at another folder ` +
        `(if that process is gone, for instance on another host, delete ${lockFile})`,
    );
  }
}

/**
 * One process at a time in an embedded store's folder. The lock file names its holder;
 * a file left by a process that no longer runs on this host is taken over.
 */
export function lockFolder(folder: string): FolderLock {
  mkdirSync(folder, { recursive: true });
  const lockPath = join(folder, LOCK_FILE);
  const me: Holder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  const content = JSON.stringify(me);

  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(lockPath, content)) return holdUntilRelease(lockPath, content);
    const existing = readLock(lockPath);
    if (existing === undefined) continue; // it vanished between our two looks
    const holder = parseHolder(existing);
    if (holder && isAlive(holder)) {
      throw new StoreLockedError(folder, holder.pid, holder.host === me.host ? ` (since ${holder.startedAt})` : ` on host ${holder.host}`, lockPath);
    }
    removeStale(lockPath, existing);
  }
  throw new StoreLockedError(folder, -1, ': another process keeps taking the lock', lockPath);
}

function tryCreate(lockPath: string, content: string): boolean {
  // Written aside and linked into place, so that no reader ever sees a half-written lock.
  const temporary = `${lockPath}.${process.pid}.${Date.now()}`;
  const fd = openSync(temporary, 'wx', 0o644);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temporary, lockPath);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}

function readLock(lockPath: string): string | undefined {
  try {
    return readFileSync(lockPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Holder;
    return Number.isInteger(value.pid) && typeof value.host === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** When this process started: a lock bearing its pid but written before then is a dead predecessor's. */
const processStartedAt = Date.now() - process.uptime() * 1000;

function isAlive(holder: Holder): boolean {
  if (holder.host !== hostname()) return true; // cannot tell: assume it runs
  // In a container every start is pid 1, so a pid alone does not tell a predecessor from this process.
  if (holder.pid === process.pid) return Date.parse(holder.startedAt) >= processStartedAt - 1000;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Moves the stale file away atomically; if what moved was not the stale file after all, it goes back. */
function removeStale(lockPath: string, staleContent: string): void {
  const aside = `${lockPath}.stale.${process.pid}.${Date.now()}`;
  try {
    renameSync(lockPath, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (readFileSync(aside, 'utf8') !== staleContent) {
    try {
      linkSync(aside, lockPath);
    } catch {
      // someone holds it now; they keep it
    }
  }
  unlinkSync(aside);
}

function holdUntilRelease(lockPath: string, content: string): FolderLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    if (readLock(lockPath) === content) unlinkSync(lockPath);
  };
  process.on('exit', release);
  return { release };
}
