import { EventEmitter } from 'node:events';
import { BackplaneError } from '../errors';
import type { EventStore, Position, RecordedEvent, SubscriptionBatch } from '../eventstore/types';
import type { HeldLock, SqlDatabase, SqlTransaction } from '../sql/database';
import {
  advanceCheckpoint,
  buildLaterIndexes,
  type Checkpoint,
  holdAppends,
  indexesBuilt,
  laterIndexesOf,
  migrateCheckpoints,
  prepareProjection,
  readCheckpoint,
  resetProjection,
} from './checkpoints';
import { applyInTransaction, type InlineLog } from './inline-projection';
import { ProjectionTimeoutError } from './errors';
import { loggedError, silentLogger, type Logger } from './logger';
import { passes, type Projection, type SqlStatement } from './projection';

export interface ProjectionRunnerOptions {
  store: EventStore;
  /** Where the read model and its checkpoint live. */
  db: SqlDatabase;
  projection: Projection;
  logger?: Logger;
  /** How often a process that does not hold the projection tries to take it over (ms). */
  lockRetryMs?: number;
  /** How long to wait after a failure before starting again from the checkpoint (ms). */
  retryDelayMs?: number;
  maxBatch?: number;
  /** How often an idle holder checks that its checkpoint was not reset or taken (ms). */
  checkpointWatchMs?: number;
  /**
   * Once live, how long the runner waits after news of an append before it reads (ms): what
   * follows comes in the same batch, one transaction instead of one per append. By default
   * HISTORY_GATHER_MS for a history (changes do not wait for it), none for a read model that
   * answers show.
   */
  gatherMs?: number;
  /**
   * Where the store's appends keep this projection inline (a SQL store on this database, with the
   * projection's hook): once the runner reaches the log's end, it hands the read model over to them.
   */
  inline?: InlineLog;
  /**
   * Whether the store's log is the events table of this same database (the SQL store on it): the
   * batches of a projection that can (applyFromLog) are then made there from the table.
   */
  logInDatabase?: boolean;
  /** Events a session applies before, once caught up, it has the planner's statistics of the tables gathered (ANALYZE); 10,000 by default. */
  analyzeAfterEvents?: number;
  /** The size of table from which the projection's later indexes are built concurrently (bytes; see CONCURRENT_INDEX_BYTES). */
  concurrentIndexBytes?: number;
}

export interface ProjectionProgress {
  position: Position;
  eventsApplied: number;
  caughtUp: boolean;
  /** Whether the appends keep the read model from here on (a hand-over), rather than this runner. */
  inline: boolean;
  /** Whether it still lacks the indexes built at the end of a replay: it has then reached no position (see Checkpoint.indexesPending). */
  indexesPending: boolean;
}

/** One of the indexes built once a replay is caught up, as it begins: the number-th of those to build. */
export interface IndexBuild {
  index: string;
  number: number;
  of: number;
  /** Events the runner applied: all of the replay's, the batch that reaches the end committed before the builds. */
  eventsApplied: number;
}

/** The checkpoint moved under this runner: another process took over or a rebuild reset it. */
class CheckpointMovedError extends BackplaneError {
  constructor(name: string) {
    super('CHECKPOINT_MOVED', `projection ${name}: the checkpoint moved under this runner`);
  }
}

/** The hand-over could not be made now (appends held too long, or too much left to apply while holding them): the runner catches up again first. */
class HandOverDeferred extends Error {
  constructor(
    readonly reason: string,
    /** Whether it held the appends waiting (and so backs off), or found before that it could not be made yet. */
    readonly heldAppends: boolean,
  ) {
    super(`hand-over deferred: ${reason}`);
  }
}

/**
 * A history's live batches gather what is appended within this while (ms): under a steady flow of
 * changes it applies them a few at a time, in fewer transactions that take turns with the changes
 * for the same database and process, and a query of it waits this much longer at most.
 */
const HISTORY_GATHER_MS = 20;

/** How long a hand-over waits for the appends under way, which new appends wait behind (ms). */
const HAND_OVER_LOCK_TIMEOUT_MS = 1000;
/**
 * How long the runner waits before it tries a deferred hand-over again (ms): after one that held the
 * appends in vain, doubled at each such deferral in a row up to the most; after one that found too
 * much left (past a transaction still open, which the runner cannot read past), a fixed while.
 */
const HAND_OVER_RETRY_MS = 100;
const HAND_OVER_RETRY_MOST_MS = 5000;
const HAND_OVER_NOT_YET_MS = 500;

/** Events a session applies before, once caught up, it has the planner's statistics of its tables gathered. */
const ANALYZE_AFTER_EVENTS = 10_000;

/** Where a wait for a read model ends: a position, the log's end as readers can read it, or the last event committed (past transactions still open). */
export type WaitTarget = Position | 'head' | 'last-committed';

/** The runner stopped, or its session ended, before the next of the indexes built after catching up: the next session builds the rest. */
class IndexBuildStopped extends Error {
  constructor(name: string) {
    super(`projection ${name}: stopped before its indexes were all built`);
  }
}

class LockLostError extends BackplaneError {
  constructor(name: string) {
    super('LOCK_LOST', `projection ${name}: the lock was lost`);
  }
}

/** What one spell of holding the projection knows: where its last commit left the checkpoint. */
interface Session {
  position: string | null;
  eventsApplied: number;
  /** Whether the appends keep the read model now (handed over): the runner applies nothing. */
  inline: boolean;
  /** Batches being committed now; the checkpoint watcher looks only between them. */
  applying: number;
  /** See Checkpoint.indexesPending. */
  indexesPending: boolean;
}

/** Settles once; `wait` resolves at the latest when it is set. */
class Signal {
  private resolve: () => void = () => undefined;
  private readonly sleepers = new Set<() => void>();
  isSet = false;
  readonly wait = new Promise<void>((resolve) => (this.resolve = resolve));
  set(): void {
    this.isSet = true;
    this.resolve();
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
  }

  /** Resolves after ms, or at once when the signal is set: nothing stays attached to the signal once it resolves. */
  sleep(ms: number): Promise<void> {
    if (this.isSet) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}

/** How often a wait for a position looks at the checkpoint while it hears of every move (ms): for a move told and lost. */
const HEARD_POLL_MS = 500;
/** How often it looks while moves of other processes go unheard (ms). */
const UNHEARD_POLL_MS = 50;

/**
 * Checkpoint moves on one database: told by each runner in its batch's transaction, heard in this
 * process at once and, on a PostgreSQL server, in every other process (pg_notify on commit), so
 * that a wait for a position wakes when the position may be reached instead of polling for it.
 */
class CheckpointMoves {
  private readonly local = new EventEmitter();
  private channel: Promise<string | null> | undefined;

  private constructor(private readonly db: SqlDatabase) {
    this.local.setMaxListeners(0);
  }

  private static readonly all = new WeakMap<SqlDatabase, CheckpointMoves>();

  static of(db: SqlDatabase): CheckpointMoves {
    let moves = CheckpointMoves.all.get(db);
    if (!moves) {
      moves = new CheckpointMoves(db);
      CheckpointMoves.all.set(db, moves);
    }
    return moves;
  }

  /** Whether moves made by other processes are heard now (or none can make any). */
  get heard(): boolean {
    return this.db.notifications?.listening ?? true;
  }

  /** Calls the listener with the projection's name at each move, or null when moves may have been missed. */
  on(listener: (name: string | null) => void): () => void {
    // Should listening fail, waits poll as they would without it; the next wait tries again.
    this.listening().catch(() => undefined);
    this.local.on('moved', listener);
    return () => this.local.off('moved', listener);
  }

  /** Tells of a move inside the transaction that makes it (sent: its commit waits for it): other processes hear on commit. */
  async tell(tx: SqlTransaction, name: string): Promise<void> {
    const channel = await this.listening();
    if (channel !== null) void tx.send('SELECT pg_notify($1, $2)', [channel, name], { prepared: true });
  }

  /** The move is committed: this process hears now. */
  moved(name: string): void {
    this.local.emit('moved', name);
  }

  /** One listening per database and process, for as long as the database is open. */
  listening(): Promise<string | null> {
    const notifications = this.db.notifications;
    this.channel ??= !notifications
      ? Promise.resolve(null)
      : this.db.query<{ channel: string }>("SELECT 'backplane_checkpoint_' || md5(current_schema()) AS channel").then(
          ([row]) => {
            notifications.listen(row.channel, (payload) => this.local.emit('moved', payload));
            return row.channel;
          },
          (error: unknown) => {
            this.channel = undefined;
            throw error;
          },
        );
    return this.channel;
  }
}

/**
 * Applies one projection from the catch-up subscription. Each batch's read-model writes and
 * the checkpoint commit in one transaction, and the transaction first checks that the
 * checkpoint is where this runner left it, so every event is applied exactly once, whatever
 * crashes and whoever else runs. A lock through the database lets one process at a time apply
 * the projection; the others wait and take over from the checkpoint when it dies.
 */
export class ProjectionRunner {
  readonly name: string;
  private readonly store: EventStore;
  private readonly db: SqlDatabase;
  private readonly projection: Projection;
  private readonly logger: Logger;
  private readonly lockRetryMs: number;
  private readonly retryDelayMs: number;
  private readonly maxBatch: number;
  private readonly checkpointWatchMs: number;
  private readonly gatherMs: number;
  private readonly analyzeAfterEvents: number;
  private readonly concurrentIndexBytes: number | undefined;
  private readonly progress = new EventEmitter();
  private loop: Promise<void> | undefined;
  private stopping = new Signal();
  private sessions = 0;
  private readonly moves: CheckpointMoves;
  private schemaReady: Promise<void> | undefined;
  private readonly inline: InlineLog | undefined;
  private readonly logInDatabase: boolean;

  constructor(options: ProjectionRunnerOptions) {
    // A later index's statement it cannot read fails here, not after a replay of the whole log.
    laterIndexesOf(options.projection);
    this.store = options.store;
    this.db = options.db;
    this.projection = options.projection;
    this.name = options.projection.name;
    this.logger = options.logger ?? silentLogger;
    this.lockRetryMs = options.lockRetryMs ?? 1000;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.maxBatch = options.maxBatch ?? 2000;
    this.checkpointWatchMs = options.checkpointWatchMs ?? 1000;
    this.gatherMs = options.gatherMs ?? (options.projection.history ? HISTORY_GATHER_MS : 0);
    this.analyzeAfterEvents = options.analyzeAfterEvents ?? ANALYZE_AFTER_EVENTS;
    this.concurrentIndexBytes = options.concurrentIndexBytes;
    this.progress.setMaxListeners(0);
    this.moves = CheckpointMoves.of(this.db);
    this.inline = options.inline;
    this.logInDatabase = options.logInDatabase === true;
  }

  /** True while this process is the one applying the projection. */
  get isActive(): boolean {
    return this.sessions > 0;
  }

  /** Keeps the projection applied in the background until stop(), taking it over whenever it is free. */
  start(): void {
    if (this.loop && !this.stopping.isSet) return;
    // A start that follows a stop still under way begins once that stop has let go.
    const previous = this.loop ?? Promise.resolve();
    const stopping = new Signal();
    this.stopping = stopping;
    this.loop = previous.then(() => this.run(stopping));
  }

  /** Resolves once the runner has let go of the projection and its lock. */
  async stop(): Promise<void> {
    const loop = this.loop;
    this.stopping.set();
    await loop;
    if (this.loop === loop) this.loop = undefined;
  }

  /** Whether the projection may read events of this stream: false only when its filter leaves the stream out. */
  reads(stream: string): boolean {
    const prefixes = this.projection.filter?.streamPrefixes;
    return prefixes === undefined || prefixes.some((prefix) => stream.startsWith(prefix));
  }

  /** The checkpoint as the database has it. */
  async checkpoint(): Promise<Checkpoint | null> {
    await this.ensureSchema();
    return readCheckpoint(this.db, this.name);
  }

  onProgress(listener: (progress: ProjectionProgress) => void): () => void {
    this.progress.on('progress', listener);
    return () => this.progress.off('progress', listener);
  }

  /** Calls the listener as each of the indexes built once caught up (Projection.laterIndexes) begins, concurrently: each takes seconds on a long history. */
  onIndexBuild(listener: (build: IndexBuild) => void): () => void {
    this.progress.on('index', listener);
    return () => this.progress.off('index', listener);
  }

  /**
   * Calls the listener whenever the checkpoint may have moved, by this process or another (a
   * batch, a hand-over, a rebuild's reset): a read model kept inline has no batches to hear of.
   */
  onCheckpointMoved(listener: () => void): () => void {
    return this.moves.on((name) => {
      if (name === null || name === this.name) listener();
    });
  }

  /**
   * Resolves once the read model's tables exist at this projection's version, whichever process
   * created them: before that, queries on them would fail.
   */
  async waitForReadModel(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.checkpoint())?.version !== this.projection.version) {
      if (Date.now() > deadline) throw new ProjectionTimeoutError(this.name, 'its tables', timeoutMs);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Whether this is a history the API reads apart from the answers of changes (see Projection.history). */
  get history(): boolean {
    return this.projection.history === true;
  }

  /**
   * Resolves once the read model includes everything up to the target (see WaitTarget), wherever it
   * is being applied; at once while the appends keep it inline.
   */
  async waitForPosition(target: WaitTarget, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let position: Position | null | undefined;
    // Listened to before the checkpoint is read: a move between the read and the wait still wakes it.
    let moved = false;
    let wake: (() => void) | undefined;
    const stopHearing = this.moves.on((name) => {
      if (name !== null && name !== this.name) return;
      moved = true;
      wake?.();
    });
    try {
      for (;;) {
        moved = false;
        // The database's checkpoint, not a copy in memory: it is the one a reset or another process moves.
        const checkpoint = await this.checkpoint();
        if (this.includesAll(checkpoint)) return;
        // Read once the checkpoint is known not to be inline: the wait is then one read.
        position ??= await this.targetPosition(target);
        if (position === null) return;
        const reached = checkpoint?.indexesPending ? null : checkpoint?.position;
        if (reached && this.store.comparePositions(reached, position) >= 0) return;
        const left = deadline - Date.now();
        if (left <= 0) throw new ProjectionTimeoutError(this.name, position, timeoutMs);
        if (moved) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.min(left, this.moves.heard ? HEARD_POLL_MS : UNHEARD_POLL_MS));
          function done() {
            clearTimeout(timer);
            resolve();
          }
          wake = done;
        });
        wake = undefined;
      }
    } finally {
      stopHearing();
    }
  }

  private targetPosition(target: WaitTarget): Promise<Position | null> {
    if (target === 'head') return this.store.headPosition();
    if (target === 'last-committed') return this.store.lastCommittedPosition?.() ?? this.store.headPosition();
    return Promise.resolve(target);
  }

  /** Whether the read model, at this projection's version, is kept by the appends: it then includes every committed event. */
  includesAll(checkpoint: Checkpoint | null): boolean {
    return checkpoint?.inline === true && checkpoint.version === this.projection.version && !checkpoint.indexesPending;
  }

  /**
   * Drops the read model and sets its checkpoint back to the start. Whichever process holds the
   * projection notices and replays it; with none, catchUp() replays it here.
   */
  async reset(): Promise<void> {
    await this.ensureSchema();
    // Listening first, as the hand-over does: not a query for a pool connection while the appends are held.
    await this.moves.listening();
    await resetProjection(this.db, this.projection, (tx) => this.moves.tell(tx, this.name));
    this.moves.moved(this.name);
    this.logger.info('projection reset for rebuild', { projection: this.name });
  }

  /**
   * Applies the projection up to the end of the log as it stands, then returns: for a rebuild
   * or a one-off catch-up when no other process holds the projection. Returns false when one does.
   */
  async catchUp(): Promise<boolean> {
    await this.ensureSchema();
    const lock = await this.db.tryLock(this.lockName);
    if (!lock) return false;
    try {
      // The end as it stands now: under steady writes a short page may never come.
      const end = await this.store.headPosition();
      await this.applyWhileHolding(lock, new Signal(), end ?? 'first-short-page');
      return true;
    } finally {
      await lock.release();
    }
  }

  private get lockName(): string {
    return `backplane-projection:${this.name}`;
  }

  private async run(stopping: Signal): Promise<void> {
    let stopped = false;
    void stopping.wait.then(() => (stopped = true));
    while (!stopped) {
      let lock: HeldLock | null = null;
      try {
        await this.ensureSchema();
        lock = await this.tryLockUnlessStopped(stopping);
        if (!lock) {
          await stopping.sleep(this.lockRetryMs);
          continue;
        }
        if (stopped) break;
        await this.applyUntilStopped(lock, stopping);
      } catch (error) {
        this.logger.error('projection failed; starting again from its checkpoint', { projection: this.name, error: loggedError(error) });
        await stopping.sleep(this.retryDelayMs);
      } finally {
        await lock?.release();
      }
    }
  }

  /**
   * Holds on to the lock when the checkpoint moves under it (a rebuild's reset): the session
   * starts again from the checkpoint, so no other process can slip in between.
   */
  private async applyUntilStopped(lock: HeldLock, stopping: Signal): Promise<void> {
    let deferrals = 0;
    for (;;) {
      try {
        await this.applyWhileHolding(lock, stopping, undefined);
        return;
      } catch (error) {
        if (stopping.isSet) return;
        if (error instanceof HandOverDeferred) {
          const waitMs = error.heldAppends ? Math.min(HAND_OVER_RETRY_MS * 2 ** deferrals, HAND_OVER_RETRY_MOST_MS) : HAND_OVER_NOT_YET_MS;
          if (error.heldAppends) deferrals += 1;
          this.logger.info('projection hand-over to the appends deferred; it goes on from its checkpoint and tries again', {
            projection: this.name,
            reason: error.reason,
            retryInMs: waitMs,
          });
          await stopping.sleep(waitMs);
          if (stopping.isSet) return;
          continue;
        }
        if (!(error instanceof CheckpointMovedError)) throw error;
        deferrals = 0;
        this.logger.warn('projection checkpoint moved; starting again from it', { projection: this.name });
      }
    }
  }

  /**
   * A lock attempt after which a stop takes effect at once: a lock obtained is then let go before
   * returning, so that stop() resolves with the lock free. (The attempt itself is bounded by the
   * database's connection timeout.)
   */
  private async tryLockUnlessStopped(stopping: Signal): Promise<HeldLock | null> {
    const lock = await this.db.tryLock(this.lockName);
    if (lock && stopping.isSet) {
      await lock.release();
      return null;
    }
    return lock;
  }

  /**
   * Applies batches while holding the lock: until stopped, or, for a catch-up, until the given
   * position (or the first short page of an empty log) is reached.
   */
  private async applyWhileHolding(lock: HeldLock, stopping: Signal, until: Position | 'first-short-page' | undefined): Promise<void> {
    await this.moves.listening();
    const checkpoint = await prepareProjection(this.db, this.projection, (tx) => this.moves.tell(tx, this.name));
    const session: Session = {
      position: checkpoint.position,
      eventsApplied: checkpoint.eventsApplied,
      inline: checkpoint.inline,
      applying: 0,
      indexesPending: checkpoint.indexesPending,
    };
    this.sessions += 1;
    if (session.inline) {
      // The appends keep it: there is nothing to apply until a reset hands it back.
      this.logger.info('projection kept inline by the appends', { projection: this.name });
      try {
        await this.buildLaterIndexes(session, () => stopping.isSet);
        if (until === undefined) await this.idleInline(lock, stopping, session);
      } finally {
        this.sessions -= 1;
      }
      return;
    }
    this.logger.info('projection running', { projection: this.name, from: checkpoint.position ?? 'start' });

    const caughtUp = new Signal();
    const finished = new Signal();
    const handedOver = new Signal();
    // A one-off catch-up whose hand-over is deferred has still reached its end: the holder hands over later.
    const handOver = () =>
      this.handOver(session, handedOver).catch((error: unknown) => {
        if (until === undefined || !(error instanceof HandOverDeferred)) throw error;
        this.logger.info('projection caught up; its hand-over to the appends is left to the process that runs it', {
          projection: this.name,
          reason: error.reason,
        });
      });
    const filter = this.projection.filter;
    // The batch being committed while the next page is read; the next waits for it.
    let committing: Promise<void> = Promise.resolve();
    let sent = session.position;
    let failure: (error: unknown) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => (failure = reject));
    failed.catch(() => undefined);
    const appliedAtStart = session.eventsApplied;
    let analyzed = false;
    let indexed = false;
    // The end as it stood when the session began: under steady appends a short page may come late.
    const end = until !== undefined && until !== 'first-short-page' ? until : await this.store.headPosition();
    const reaches = (batch: SubscriptionBatch) => batch.caughtUp || (end !== null && this.store.comparePositions(batch.position, end) >= 0);
    // At the end, the indexes a replay leaves for then (a rebuild's), once the batch that reaches it
    // has committed: until they are built, its checkpoint notes them as pending, and every reader and
    // process takes the read model for catching up; at the end with the note, it takes it for
    // building them. Each takes seconds at a million rows: a stop or the session's end waits for the
    // one under way only.
    const buildIndexesAtEnd = async (batch: SubscriptionBatch) => {
      if (indexed || !reaches(batch)) return;
      indexed = true;
      await this.buildLaterIndexes(session, () => stopping.isSet || finished.isSet);
    };
    const committed = async (batch: SubscriptionBatch) => {
      const reached = until === 'first-short-page' ? batch.caughtUp : until !== undefined && this.store.comparePositions(batch.position, until) >= 0;
      await buildIndexesAtEnd(batch);
      // After a long catch-up (a rebuild), the planner's statistics of the tables it filled: PGlite
      // gathers none by itself (no autovacuum), and PostgreSQL's come a while after.
      if (batch.caughtUp && !analyzed && session.eventsApplied - appliedAtStart >= this.analyzeAfterEvents && this.projection.tables.length > 0) {
        analyzed = true;
        await this.db.query(`ANALYZE ${this.projection.tables.join(', ')}`).catch((error: unknown) => {
          this.logger.warn('projection tables could not be analyzed after catching up', { projection: this.name, error: loggedError(error) });
        });
      }
      this.progress.emit('progress', {
        position: batch.position,
        eventsApplied: session.eventsApplied,
        caughtUp: batch.caughtUp,
        inline: false,
        indexesPending: session.indexesPending,
      } satisfies ProjectionProgress);
      if (reached) caughtUp.set();
    };
    // The whole log is read and filtered here: a filter given to a SQL store makes PostgreSQL sort
    // the rest of the log for every page, as it cannot tell how few events a prefix leaves out.
    const subscription = this.store.subscribeToAll(
      { fromPosition: checkpoint.position ?? 'start', maxBatch: this.maxBatch, gatherMs: this.gatherMs },
      async (page) => {
        const batch = filter ? { ...page, events: page.events.filter((event) => passes(filter, event)) } : page;
        // Made while the batch before commits: they depend on the events alone.
        const statements = batch.position === sent ? [] : this.batchedStatements(batch.events);
        await committing;
        // Once the session is over (stopped, lock lost, checkpoint moved, handed over), no batch starts.
        if (finished.isSet || handedOver.isSet) return;
        if (batch.position === sent) {
          await committed(batch);
          // At the log's end with nothing new (an empty log, a checkpoint already there): handed over now.
          if (!page.caughtUp || !this.inline) return;
          session.applying += 1;
          committing = handOver().finally(() => (session.applying -= 1));
          committing.catch(failure);
          await committing.catch(() => undefined);
          return;
        }
        sent = batch.position;
        session.applying += 1;
        committing = this.applyBatch(session, batch, statements)
          .then(() => committed(batch))
          .then(() => (page.caughtUp && this.inline ? handOver() : undefined))
          .finally(() => (session.applying -= 1));
        committing.catch(failure);
        // At the log's end the next page is read once this batch is in: read while its transaction
        // is open, it could not see what was appended meanwhile (no reader sees past an open
        // transaction) and would read again after a wait, adding the wait to every later event.
        if (page.caughtUp) await committing.catch(() => undefined);
      },
    );
    const moved = this.watchCheckpoint(session, finished);
    const lost = lock.lost.then(() => {
      throw new LockLostError(this.name);
    });
    try {
      await Promise.race([subscription.done, lost, moved, failed, handedOver.wait, until === undefined ? stopping.wait : caughtUp.wait]);
      if (handedOver.isSet) {
        await subscription.stop();
        if (until === undefined) await Promise.race([lost, moved, stopping.wait]);
      }
    } finally {
      finished.set();
      await subscription.stop();
      // The lock is let go only once no batch is being committed under it.
      await committing.catch(() => undefined);
      this.sessions -= 1;
      await moved.catch(() => undefined);
    }
  }

  /** While the appends keep the read model: holds the projection until stopped, the lock lost or a reset. */
  private async idleInline(lock: HeldLock, stopping: Signal, session: Session): Promise<void> {
    const finished = new Signal();
    const moved = this.watchCheckpoint(session, finished);
    const lost = lock.lost.then(() => {
      throw new LockLostError(this.name);
    });
    try {
      await Promise.race([lost, moved, stopping.wait]);
    } finally {
      finished.set();
      await moved.catch(() => undefined);
    }
  }

  /**
   * Hands the read model over to the appends, at the log's end: holding them (appends under way
   * finish first, new ones wait), applies what they committed since the last page, and marks the
   * checkpoint inline in the same transaction. Appends from then on apply their own events.
   */
  private async handOver(session: Session, handedOver: Signal): Promise<void> {
    const log = this.inline!;
    let last: RecordedEvent | undefined;
    let applied = 0;
    // Known before the appends are held: a query through the pool then could wait for a connection they hold.
    await this.moves.listening();
    // Counted first without holding them: when a batch is not enough, holding every append to learn it is for nothing.
    if ((await log.readCommittedAfter(this.db, session.position, this.maxBatch + 1)).length > this.maxBatch) {
      throw new HandOverDeferred(`more than ${this.maxBatch} events are past what the runner can read yet`, false);
    }
    await this.db.transaction(async (tx) => {
      try {
        await holdAppends(tx, this.name, HAND_OVER_LOCK_TIMEOUT_MS);
      } catch (error) {
        if ((error as { code?: string }).code === '55P03') throw new HandOverDeferred('appends under way held it too long', true);
        throw error;
      }
      const current = await readCheckpoint(tx, this.name, true);
      if (!current || current.position !== session.position || current.version !== this.projection.version || current.inline) {
        throw new CheckpointMovedError(this.name);
      }
      const rest = await log.readCommittedAfter(tx, session.position, this.maxBatch + 1);
      // Applied while every append waits: no more than a batch; more, and the runner catches up again first.
      if (rest.length > this.maxBatch) throw new HandOverDeferred(`more than ${this.maxBatch} events came meanwhile`, true);
      await applyInTransaction(tx, this.projection, rest);
      last = rest.at(-1);
      applied = rest.filter((event) => passes(this.projection.filter, event)).length;
      advanceCheckpoint(tx, this.name, last?.position ?? session.position, applied, true);
      await this.moves.tell(tx, this.name);
    });
    this.moves.moved(this.name);
    session.position = last?.position ?? session.position;
    session.eventsApplied += applied;
    session.inline = true;
    handedOver.set();
    this.logger.info('projection handed over to the appends: kept inline from here', { projection: this.name, position: session.position });
    if (session.position !== null) {
      this.progress.emit('progress', {
        position: session.position,
        eventsApplied: session.eventsApplied,
        caughtUp: true,
        inline: true,
        indexesPending: false,
      } satisfies ProjectionProgress);
    }
  }

  /** While idle no batch arrives to notice a rebuild or a takeover made elsewhere, so the checkpoint is watched too. */
  private async watchCheckpoint(session: Session, finished: Signal): Promise<void> {
    let done = false;
    void finished.wait.then(() => (done = true));
    for (;;) {
      await finished.sleep(this.checkpointWatchMs);
      if (done) return;
      if (session.applying > 0) continue;
      const expected = session.position;
      const current = await readCheckpoint(this.db, this.name);
      const unchanged = current?.position === expected && current?.version === this.projection.version && current?.inline === session.inline;
      if (!done && session.applying === 0 && expected === session.position && !unchanged) throw new CheckpointMovedError(this.name);
    }
  }

  /** The batch's statements in the projection's batched form; undefined where it cannot make them. */
  private batchedStatements(events: readonly RecordedEvent[]): SqlStatement[] | undefined {
    const fromLog = this.logInDatabase ? this.projection.applyFromLog : undefined;
    if (!fromLog && !this.projection.applyAll) return undefined;
    try {
      return fromLog ? fromLog(events) : this.projection.applyAll!(events);
    } catch (error) {
      this.logger.warn('projection could not make a batch in its batched form; applying it event by event', {
        projection: this.name,
        error: loggedError(error),
      });
      return undefined;
    }
  }

  /**
   * Commits the batch in its batched form and, should that fail (a few large statements can fail
   * where one per event do not), event by event: the failed transaction left nothing behind.
   */
  private async applyBatch(session: Session, batch: SubscriptionBatch, batched: readonly SqlStatement[] | undefined): Promise<void> {
    const eventByEvent = () => batch.events.flatMap((event) => this.projection.apply(event));
    if (batched === undefined) return this.commitBatch(session, batch, eventByEvent());
    try {
      await this.commitBatch(session, batch, batched);
    } catch (error) {
      if (error instanceof CheckpointMovedError) throw error;
      this.logger.warn('projection batch failed in its batched form; applying it event by event', { projection: this.name, error: loggedError(error) });
      await this.commitBatch(session, batch, eventByEvent());
    }
  }

  private async commitBatch(session: Session, batch: SubscriptionBatch, statements: readonly SqlStatement[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      const current = await readCheckpoint(tx, this.name, true);
      if (!current || current.position !== session.position || current.version !== this.projection.version || current.inline) {
        throw new CheckpointMovedError(this.name);
      }
      // Sent one after the other, the commit behind them: a round trip for all (SqlTransaction.send).
      if (this.projection.unflushedBatches) void tx.send('SET LOCAL synchronous_commit = off');
      for (const statement of statements) void tx.send(statement.sql, statement.params, statement);
      advanceCheckpoint(tx, this.name, batch.position, batch.events.length);
      await this.moves.tell(tx, this.name);
    });
    this.moves.moved(this.name);
    session.position = batch.position;
    session.eventsApplied += batch.events.length;
  }

  private async buildLaterIndexes(session: Session, stopped: () => boolean): Promise<void> {
    if (!this.projection.laterIndexes?.length && !session.indexesPending) return;
    const startedAt = Date.now();
    const built = await buildLaterIndexes(this.db, this.projection, {
      concurrentFromBytes: this.concurrentIndexBytes,
      building: (index, number, of) => {
        if (stopped()) throw new IndexBuildStopped(this.name);
        this.logger.info('projection building an index after catching up', { projection: this.name, index, number, of });
        this.progress.emit('index', { index, number, of, eventsApplied: session.eventsApplied } satisfies IndexBuild);
      },
    });
    if (built > 0) this.logger.info('projection indexes built after catching up', { projection: this.name, indexes: built, ms: Date.now() - startedAt });
    // Built after the batch that reached the end committed: a reset or a takeover since has the
    // checkpoint, whose read model this session must neither note as indexed nor tell as caught up.
    const outcome = await indexesBuilt(this.db, this.projection, { position: session.position, inline: session.inline }, (tx) =>
      this.moves.tell(tx, this.name),
    );
    if (outcome === 'moved') throw new CheckpointMovedError(this.name);
    if (session.indexesPending && outcome === 'built') {
      this.moves.moved(this.name);
      session.indexesPending = false;
    }
  }

  private ensureSchema(): Promise<void> {
    this.schemaReady ??= migrateCheckpoints(this.db).catch((error) => {
      this.schemaReady = undefined;
      throw error;
    });
    return this.schemaReady;
  }
}
