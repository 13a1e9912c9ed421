import type { EventStore, Position } from '../eventstore/types';
import { ProjectionTimeoutError, ReadModelsCatchingUpError } from './errors';
import { loggedError, type Logger } from './logger';
import { countPendingEvents } from './pending-events';
import type { ProjectionProgress, ProjectionRunner } from './projection-runner';
import { Throughput } from './throughput';

/** One read model as /readyz and the log show it. */
export interface ProjectionStatus {
  name: string;
  /** Whether it has reached the head of the log as it stood when it was found behind: it serves and takes changes. */
  current: boolean;
  /**
   * Where its read model stands (null: nothing applied). For one the appends keep (`inline`),
   * where they took it over: it includes every committed event since.
   */
  position: Position | null;
  /** Whether the appends keep it, each in its own transaction: it then lags nothing. */
  inline: boolean;
  /** The head of the log it catches up to (null: the log was empty). */
  head: Position | null;
  eventsApplied: number;
  /** Events it has yet to apply up to `head`; null until the log has been counted. */
  eventsBehind: number | null;
  eventsPerSecond: number | null;
  /** How long it has yet to go; null while not known, as while its indexes are built. */
  secondsLeft: number | null;
  /**
   * Whether the indexes a replay builds at its end are still to be built (the replay has reached
   * its end, or another process's has): it is not current until they are, with nothing left to apply.
   */
  indexesPending: boolean;
}

export interface ReadModelProgressOptions {
  logger: Logger;
  /** How long start() gives read models that are a little behind (another process's last batch) to reach the head (ms). */
  graceMs: number;
  /** How often the checkpoints of read models catching up are read: the progress of a process elsewhere (ms). */
  pollMs?: number;
  /** How often the log says how the catch-up goes (ms). */
  logEveryMs?: number;
}

interface Tracked {
  runner: ProjectionRunner;
  current: boolean;
  position: Position | null;
  eventsApplied: number;
  /** Whether the appends keep it (its checkpoint's position then stays where they took it over). */
  inline: boolean;
  /** Whether its checkpoint, as last heard, says its indexes are still to be built. */
  indexesPending: boolean;
  head: Position | null;
  /** What the count of the log found left, and how many events the read model had applied when counted. */
  pending: { events: number; appliedWhenCounted: number } | null;
  throughput: Throughput;
  /** Moves on each fall behind, so that a count made for an earlier one is not taken for this one. */
  generation: number;
  /** A read of its checkpoint after a move is under way; another move was heard meanwhile. */
  reading: boolean;
  readAgain: boolean;
}

/** A change waits this long when how long the catch-up takes is not known yet (ms). */
const UNKNOWN_RETRY_MS = 5000;
const MAX_RETRY_MS = 60_000;

/**
 * Which read models are current and how far the others have to go. A read model is behind when,
 * at start, it does not reach the head of the log within a moment, or when its checkpoint goes
 * back (a rebuild); it is current again once it reaches the head as it stood then. Under steady
 * writes a current read model lags a little, and a change waits for it (settle); while one that
 * answers show is catching up, the API refuses changes at once (catchingUp) rather than keep them
 * waiting for minutes.
 */
export class ReadModelProgress {
  private readonly tracked: Tracked[];
  private readonly pollMs: number;
  private readonly logEveryMs: number;
  private readonly unsubscribes: (() => void)[] = [];
  private readonly counting = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private lastLogged = 0;
  private behindSince = 0;
  private stopped = false;
  private resolveCurrent: () => void = () => undefined;
  /** Resolves the first time every read model is current. */
  readonly whenCurrent = new Promise<void>((resolve) => (this.resolveCurrent = resolve));

  constructor(
    private readonly store: EventStore,
    runners: ProjectionRunner[],
    private readonly options: ReadModelProgressOptions,
  ) {
    this.pollMs = options.pollMs ?? 250;
    this.logEveryMs = options.logEveryMs ?? 5000;
    this.tracked = runners.map((runner) => ({
      runner,
      current: false,
      position: null,
      eventsApplied: 0,
      inline: false,
      indexesPending: false,
      head: null,
      pending: null,
      throughput: new Throughput(),
      generation: 0,
      reading: false,
      readAgain: false,
    }));
  }

  /** Finds which read models are behind the head of the log, and follows them until they are not. */
  async start(): Promise<void> {
    const head = await this.store.headPosition();
    await Promise.all(
      this.tracked.map(async (tracked) => {
        tracked.head = head;
        if (head !== null) {
          tracked.current = await tracked.runner.waitForPosition(head, this.options.graceMs).then(
            () => true,
            (error: unknown) => {
              if (error instanceof ProjectionTimeoutError) return false;
              throw error;
            },
          );
        } else tracked.current = true;
        const checkpoint = await tracked.runner.checkpoint();
        tracked.position = checkpoint?.position ?? null;
        tracked.eventsApplied = checkpoint?.eventsApplied ?? 0;
        tracked.inline = checkpoint?.inline ?? false;
        tracked.indexesPending = checkpoint?.indexesPending ?? false;
        this.unsubscribes.push(tracked.runner.onProgress((progress) => this.progressed(tracked, progress)));
        this.unsubscribes.push(tracked.runner.onCheckpointMoved(() => this.checkpointMoved(tracked)));
      }),
    );
    const behind = this.tracked.filter((tracked) => !tracked.current);
    if (behind.length === 0) this.resolveCurrent();
    else this.fellBehind(behind, head!);
  }

  get allCurrent(): boolean {
    return this.tracked.every((tracked) => tracked.current);
  }

  statuses(): ProjectionStatus[] {
    return this.tracked.map((tracked) => {
      const eventsBehind = this.eventsBehind(tracked);
      const rate = tracked.current ? null : tracked.throughput.perSecond();
      const indexesPending = this.buildingIndexes(tracked);
      return {
        name: tracked.runner.name,
        current: tracked.current,
        position: tracked.position,
        inline: tracked.inline,
        head: tracked.head,
        eventsApplied: tracked.eventsApplied,
        eventsBehind,
        eventsPerSecond: rate === null ? null : Math.round(rate),
        // The builds' time is not the replay's: it is not known.
        secondsLeft: tracked.current ? 0 : indexesPending ? null : tracked.throughput.secondsFor(eventsBehind),
        indexesPending,
      };
    });
  }

  /**
   * While a read model that answers show is catching up, the refusal the API answers a change with
   * (null once they are current): its answer would wait minutes on that read model. A history
   * catching up (the audit log after an upgrade) refuses nothing: no answer waits for it, and a
   * query of it answers what it holds meanwhile. The service's own writes are not refused.
   */
  catchingUp(): ReadModelsCatchingUpError | null {
    const behind = this.tracked.filter((tracked) => !tracked.current && !tracked.runner.history);
    if (behind.length === 0) return null;
    const left = behind.map((tracked) => (this.buildingIndexes(tracked) ? null : tracked.throughput.secondsFor(this.eventsBehind(tracked))));
    const retryAfterMs = left.includes(null) ? UNKNOWN_RETRY_MS : Math.min(Math.max(1000, Math.max(...(left as number[])) * 1000), MAX_RETRY_MS);
    return new ReadModelsCatchingUpError(
      behind.map((tracked) => tracked.runner.name),
      retryAfterMs,
    );
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.counting.abort();
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
  }

  /**
   * Whether its replay is over and the indexes built at its end are still to come: its checkpoint
   * at the head, or with nothing left to apply, and the note still on. A reset notes them as to come
   * from its start: until the replay reaches the end, it is the replay that is under way.
   */
  private buildingIndexes(tracked: Tracked): boolean {
    if (tracked.current || !tracked.indexesPending) return false;
    const atHead = tracked.position !== null && tracked.head !== null && this.store.comparePositions(tracked.position, tracked.head) >= 0;
    return atHead || this.eventsBehind(tracked) === 0;
  }

  private eventsBehind(tracked: Tracked): number | null {
    if (tracked.current) return 0;
    if (tracked.pending === null) return null;
    return Math.max(0, tracked.pending.events - (tracked.eventsApplied - tracked.pending.appliedWhenCounted));
  }

  private progressed(tracked: Tracked, progress: ProjectionProgress): void {
    this.advanced(tracked, progress.position, progress.eventsApplied, progress.inline, progress.indexesPending);
  }

  /**
   * A current read model whose batches this process does not hear of (the appends keep it, or
   * another process applies it) is followed through its checkpoint: a rebuild's reset, here or in
   * another process, shows there as a position gone back or a read model the appends no longer keep.
   * One read at a time; moves heard meanwhile are read once after it.
   */
  private checkpointMoved(tracked: Tracked): void {
    if (!tracked.current || this.stopped || (!tracked.inline && tracked.runner.isActive)) return;
    if (tracked.reading) {
      tracked.readAgain = true;
      return;
    }
    tracked.reading = true;
    // A fall behind meanwhile (a rebuild here, noticed from its batches) makes this read stale.
    const generation = tracked.generation;
    tracked.runner
      .checkpoint()
      .then(
        (checkpoint) => {
          if (checkpoint === null || !tracked.current || this.stopped || tracked.generation !== generation) return;
          // Taken over here meanwhile: its batches, heard as they commit, are newer than this read.
          if (!tracked.inline && tracked.runner.isActive) return;
          if (checkpoint.position !== null) {
            this.advanced(tracked, checkpoint.position, checkpoint.eventsApplied, checkpoint.inline, checkpoint.indexesPending);
          } else if (tracked.position !== null || tracked.inline) {
            Object.assign(tracked, { position: null, eventsApplied: 0, inline: false, indexesPending: checkpoint.indexesPending });
            this.reset(tracked);
          }
        },
        (error: unknown) => this.options.logger.warn('could not read a checkpoint', { projection: tracked.runner.name, error: loggedError(error) }),
      )
      .finally(() => {
        tracked.reading = false;
        if (tracked.readAgain) {
          tracked.readAgain = false;
          this.checkpointMoved(tracked);
        }
      });
  }

  private advanced(tracked: Tracked, position: Position, eventsApplied: number, inline: boolean, indexesPending: boolean): void {
    // Taken back from the appends (a rebuild's reset): whatever position its first batches reach,
    // they are behind the one the appends kept it at. A reset also sets its count of events back.
    const wentBack =
      (tracked.position !== null && this.store.comparePositions(position, tracked.position) < 0) ||
      (tracked.inline && !inline) ||
      eventsApplied < tracked.eventsApplied;
    tracked.position = position;
    tracked.eventsApplied = eventsApplied;
    tracked.inline = inline;
    tracked.indexesPending = indexesPending;
    if (wentBack) {
      this.reset(tracked);
      return;
    }
    if (tracked.current) return;
    tracked.throughput.record(eventsApplied);
    // Without the indexes a replay builds at its end, it is still catching up, wherever it stands.
    if (indexesPending) return;
    // Kept by the appends again (handed over), it includes every committed event, whatever position its checkpoint stays at.
    if (inline || tracked.head === null || this.store.comparePositions(position, tracked.head) >= 0) {
      tracked.current = true;
      if (this.allCurrent) this.caughtUp();
    }
  }

  /** Its read model was reset (a rebuild): it replays the log up to the head as it stands now. */
  private reset(tracked: Tracked): void {
    void this.store.headPosition().then(
      (head) => head !== null && !this.stopped && this.fellBehind([tracked], head),
      (error: unknown) => this.options.logger.warn('could not read the head of the log', { error: loggedError(error) }),
    );
  }

  private fellBehind(behind: Tracked[], head: Position): void {
    const wasCurrent = this.allCurrent;
    // One that was current and is behind now is said at once, also while others still catch up.
    const newlyBehind = behind.some((tracked) => tracked.current);
    for (const tracked of behind) {
      tracked.current = false;
      tracked.head = head;
      tracked.pending = null;
      tracked.generation += 1;
      tracked.throughput.record(tracked.eventsApplied);
    }
    const firstBehind = wasCurrent || this.behindSince === 0;
    if (firstBehind) this.behindSince = Date.now();
    if (firstBehind || newlyBehind) this.lastLogged = 0;
    void this.count(behind, head);
    this.poll();
  }

  /** Counts what each has left, in the background: until then, how many events and how long are unknown. */
  private async count(behind: Tracked[], head: Position): Promise<void> {
    try {
      const generations = behind.map((tracked) => tracked.generation);
      const checkpoints = await Promise.all(behind.map((tracked) => tracked.runner.checkpoint()));
      const readers = behind.map((tracked, index) => ({ reads: (stream: string) => tracked.runner.reads(stream), from: checkpoints[index]?.position ?? null }));
      const counts = await countPendingEvents(this.store, readers, head, this.counting.signal);
      let marked = false;
      behind.forEach((tracked, index) => {
        if (tracked.generation === generations[index] && !tracked.current) {
          tracked.pending = { events: counts[index], appliedWhenCounted: checkpoints[index]?.eventsApplied ?? 0 };
          // Nothing it reads lies ahead: its read model already shows the log up to the head, whatever its reader has still to skip.
          if (counts[index] === 0 && !checkpoints[index]?.indexesPending) tracked.current = marked = true;
        }
      });
      if (marked && this.allCurrent && !this.stopped) this.caughtUp();
    } catch (error) {
      if (!this.stopped) this.options.logger.warn('could not count the events the read models have left', { error: loggedError(error) });
    }
  }

  /** Reads the checkpoints of those behind (another process may be the one applying them) and says how it goes. */
  private poll(): void {
    if (this.polling || this.stopped) return;
    this.polling = true;
    const tick = async () => {
      for (const tracked of this.tracked.filter((candidate) => !candidate.current)) {
        const before = tracked.position;
        const checkpoint = await tracked.runner.checkpoint().catch(() => null);
        // A batch of this process's runner heard meanwhile is newer than what the read found.
        if (checkpoint?.position && tracked.position === before) {
          this.advanced(tracked, checkpoint.position, checkpoint.eventsApplied, checkpoint.inline, checkpoint.indexesPending);
        }
      }
      if (this.stopped || this.allCurrent) {
        this.polling = false;
        return;
      }
      if (Date.now() - this.lastLogged >= this.logEveryMs) {
        this.lastLogged = Date.now();
        this.options.logger.info('read models catching up', this.summary());
      }
      this.timer = setTimeout(() => void tick(), this.pollMs).unref();
    };
    void tick();
  }

  private caughtUp(): void {
    this.options.logger.info('read models current', { tookMs: Date.now() - this.behindSince });
    this.behindSince = 0;
    this.resolveCurrent();
  }

  private summary(): Record<string, unknown> {
    const behind = this.statuses().filter((status) => !status.current);
    const counts = behind.map((status) => status.eventsBehind);
    const left = behind.map((status) => status.secondsLeft);
    return {
      eventsBehind: counts.includes(null) ? null : (counts as number[]).reduce((sum, count) => sum + count, 0),
      secondsLeft: left.includes(null) ? null : Math.max(...(left as number[])),
      projections: behind.map(({ name, eventsApplied, eventsBehind, eventsPerSecond, secondsLeft, indexesPending }) => ({
        name,
        eventsApplied,
        eventsBehind,
        eventsPerSecond,
        secondsLeft,
        indexesPending,
      })),
    };
  }
}
