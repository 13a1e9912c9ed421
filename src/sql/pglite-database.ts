import { PGlite } from '@electric-sql/pglite';
import { join } from 'node:path';
import { KeyedMutex } from './keyed-mutex';
import type { HeldLock, SqlDatabase, SqlExecutor } from './database';
import { lockFolder, type FolderLock } from './folder-lock';

/**
 * Embedded PostgreSQL (PGlite, WebAssembly) in this process. A folder serves one process
 * at a time, so named locks are held in memory.
 */
export class PgliteDatabase implements SqlDatabase {
  private readonly locks = new Set<string>();
  private readonly sections = new KeyedMutex();

  private constructor(
    private readonly db: PGlite,
    private readonly folderLock: FolderLock | undefined,
  ) {}

  /**
   * Opens the store in `folder`, or in memory when no folder is given. An in-memory store can
   * start from a copy made by dump(), which is much faster than creating a database cluster.
   */
  static async open(folder?: string, options: { from?: Blob } = {}): Promise<PgliteDatabase> {
    if (folder === undefined) return new PgliteDatabase(await PGlite.create({ loadDataDir: options.from }), undefined);
    const folderLock = lockFolder(folder);
    try {
      return new PgliteDatabase(await PGlite.create(join(folder, 'pgdata')), folderLock);
    } catch (error) {
      folderLock.release();
      throw error;
    }
  }

  /** A copy of the whole database, for open(undefined, { from }). */
  dump(): Promise<Blob> {
    return this.db.dumpDataDir('none') as Promise<Blob>;
  }

  async query<R>(sql: string, params?: unknown[]): Promise<R[]> {
    return (await this.db.query<R>(sql, params)).rows;
  }

  async exec(sql: string): Promise<void> {
    await this.db.exec(sql);
  }

  // PGlite runs one statement at a time and holds other callers while a transaction is open.
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn({ query: async <R>(sql: string, params?: unknown[]) => (await tx.query<R>(sql, params)).rows }));
  }

  /** One process serves the folder: a lock in memory is shared with everyone who can ask. */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.sections.run(name, fn);
  }

  async tryLock(name: string): Promise<HeldLock | null> {
    if (this.locks.has(name)) return null;
    this.locks.add(name);
    return {
      lost: new Promise<void>(() => undefined),
      release: async () => {
        this.locks.delete(name);
      },
    };
  }

  async close(): Promise<void> {
    try {
      await this.db.close();
    } finally {
      this.folderLock?.release();
    }
  }
}
