import type { SqlDatabase, SqlExecutor, SqlTransaction } from '../../sql/database';
import { migrate } from '../../sql/migrate';
import { AppendDeadlockError, AppendOrderConflictError, DuplicateEventIdError, InvalidArgumentError, WrongExpectedVersionError } from '../errors';
import { contentHash } from '../hash-chain';
import { pollingSubscription } from '../polling-subscription';
import type {
  AppendOptions,
  AppendResult,
  EventData,
  EventStore,
  ExpectedRevision,
  JsonObject,
  JsonValue,
  Position,
  ReadAllFrom,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeToAllOptions,
  Subscription,
  SubscriptionHandler,
} from '../types';
import { assertExpectedRevision, assertStreamName, checkReadAll, checkReadStream, validateBatch } from '../validation';
import { compareLogPositions, formatPosition, LOG_START, parsePosition, type LogPosition } from './position';
import { eventStoreMigrations } from './schema';
import type { StreamHead } from '../types';

export interface SqlEventStoreOptions {
  /** How often a live subscription looks for events written by other processes, while it cannot hear of them (ms). */
  pollIntervalMs?: number;
  /**
   * How often it looks while it hears of them (ms): a notification can be lost with the connection
   * that carries it, or in the moment before a dropped one is listened to again.
   */
  fallbackPollMs?: number;
  /**
   * How many appendToStream calls go to the database at once. Calls made while that many are
   * under way wait, and go together as one transaction when a place frees (group commit).
   */
  appendsInFlight?: number;
  /** Work each append does in its own transaction with the events it recorded: read models kept inline. */
  appendHook?: AppendHook;
}

/**
 * What to run with the events an append records, in its transaction, so that they commit or roll
 * back together. The transaction first calls the SQL function `first` names, with its one text
 * argument, before anything is written; `begin` judges the row it answered (a refusal throws) and
 * answers what to run once the events are recorded (null: nothing, this time). A group's
 * transaction makes that call, its appends and the read back of their events in one round trip.
 */
export interface AppendHook {
  readonly first: { fn: string; arg: string };
  begin(first: Record<string, unknown>): InlineApply | null;
}

/** What an append runs with the events it recorded: the read model it keeps, and how. */
export interface InlineApply {
  readModel: string;
  /**
   * Resolves once its statements are sent in `tx` (SqlTransaction.send), to `ran`, which settles
   * once they have run; rejects, sending nothing, should it fail before.
   */
  apply(tx: SqlTransaction, events: readonly RecordedEvent[]): Promise<{ ran: Promise<void> }>;
}

/** What the append hook threw: the group is undone and its appends go alone, so that only the one it fails on fails. */
class HookFailure extends Error {
  constructor(cause: unknown) {
    super('the append hook failed', { cause });
  }
}

interface EventRow {
  id: string;
  stream: string;
  revision: string;
  type: string;
  data: JsonValue;
  metadata: JsonObject;
  tx: string;
  seq: string;
  recorded_at: Date;
  hash: string;
}

interface AppendRow {
  o_status: 'ok' | 'idempotent' | 'wrong_expected_version' | 'duplicate_id';
  o_revision: string | null;
  o_tx: string | null;
  o_seq: string | null;
  o_detail: string | null;
}

/** An append checked and ready to send. */
interface PreparedAppend {
  stream: string;
  expected: ExpectedRevision;
  /** The events as append_events takes them, as JSON text made when the call was made. */
  payload: string;
  eventIds: string[];
}

interface QueuedAppend extends PreparedAppend {
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

interface GroupRow {
  g_index: number;
  /** 'busy': another writer held the stream, and the group did not run this append. */
  g_status: AppendRow['o_status'] | 'busy';
  g_revision: string | null;
  g_tx: string | null;
  g_seq: string | null;
  g_detail: string | null;
}

/** A group's row as append_group_hooked answers it: with the hook's first row, the append's events, and whether the transaction was alone. */
interface HookedGroupRow extends GroupRow {
  g_first: Record<string, unknown> | null;
  /** The events the append recorded ('ok' only), as append_group_hooked builds them. */
  g_events: RecordedEventJson[] | null;
  g_alone: boolean;
}

type RecordedEventJson = Omit<EventRow, 'recorded_at'> & { recorded_at: string };

/**
 * What a group's call answered, the read model its transaction kept inline, where one did, and
 * whether no transaction older than it was open once it had its id (its events are then readable
 * as soon as it commits).
 */
interface GroupAnswer {
  rows: GroupRow[];
  readModel?: string;
  alone?: boolean;
}

/** Appends sent together at most, and their events' JSON text at most; more wait for the next group. */
const MAX_GROUP = 64;
const MAX_GROUP_CHARS = 4 * 1024 * 1024;
/**
 * Errors after which a group was undone and its appends are sent alone: an event id already
 * recorded (or being recorded), a deadlock, a lock the group would have had to wait for, a group
 * too large for one jsonb value.
 */
const GROUP_UNDONE = new Set(['23505', '40P01', '55P03', '40001', '54000']);
/** How many times an append made alone in a transaction of its own runs again after a deadlock (its hook's writes can meet another's). */
const DEADLOCK_ATTEMPTS = 5;
/** A new transaction id is newer than every writer so far, so a second attempt nearly always succeeds. */
const ORDER_CONFLICT_ATTEMPTS = 10;
// Text casts keep 64-bit values exact on both drivers. ORDER BY must name table columns
// (events.seq), since a bare name would sort by the text alias.
const COLUMNS = 'id::text AS id, stream, revision::text AS revision, type, data, metadata, tx_id::text AS tx, seq::text AS seq, recorded_at, hash';
// Nothing at or above the oldest open transaction is read: it could still be joined by events that sort before it.
const VISIBLE = 'tx_id < pg_snapshot_xmin(pg_current_snapshot())';
/** What a hook's first function may be called: it is named in SQL text. */
const FUNCTION_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The event store on PostgreSQL: a server through node-postgres, or embedded PGlite. Same SQL on both. */
export class SqlEventStore implements EventStore {
  readonly sharesReadModelDatabase = true;
  private readonly appendListeners = new Set<(reach: Position | null) => void>();
  private readonly pollIntervalMs: number;
  private readonly fallbackPollMs: number;
  /** The newest transaction whose appends other processes have not been told of yet. */
  private untold: bigint | null = null;
  private telling = false;
  /** The one listening of this store to other processes' appends, while it has subscribers. */
  private stopHearing: (() => void) | undefined;
  private readonly appendsInFlight: number;
  private readonly waitingAppends: QueuedAppend[] = [];
  private appendCallsUnderWay = 0;
  /** Per stream, the work last sent that touches it; later appends of the stream go after it. */
  private readonly streamTails = new Map<string, Promise<void>>();
  private readonly hook: AppendHook | undefined;
  /** Readers read at least this far: the furthest position this process saw readable, or committed alone. */
  private readable: LogPosition | null = null;

  private constructor(
    private readonly db: SqlDatabase,
    /** Where appends are told on commit, when other processes can hear it (a PostgreSQL server). */
    private readonly channel: string | null,
    options: SqlEventStoreOptions,
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.fallbackPollMs = Math.max(options.fallbackPollMs ?? 5000, this.pollIntervalMs);
    this.appendsInFlight = options.appendsInFlight ?? 4;
    this.hook = options.appendHook;
    if (this.hook && !FUNCTION_NAME.test(this.hook.first.fn)) throw new InvalidArgumentError(`not a SQL function name: ${JSON.stringify(this.hook.first.fn)}`);
    if (!Number.isSafeInteger(this.appendsInFlight) || this.appendsInFlight < 1) {
      throw new InvalidArgumentError(`appendsInFlight must be a positive integer, got ${String(options.appendsInFlight)}`);
    }
  }

  /** Creates or migrates the schema, then opens the store. */
  static async open(db: SqlDatabase, options: SqlEventStoreOptions = {}): Promise<SqlEventStore> {
    await migrate(db, 'event-store', eventStoreMigrations);
    // One channel per schema: deployments side by side in one database do not wake each other.
    const channel = db.notifications ? (await db.query<{ channel: string }>("SELECT 'backplane_log_' || md5(current_schema()) AS channel"))[0].channel : null;
    return new SqlEventStore(db, channel, options);
  }

  /**
   * Appends in a transaction of its own. Inside a transaction that has appended, use appendWithin:
   * an appendToStream awaited there may wait behind appends that wait for that transaction.
   */
  async appendToStream(stream: string, events: EventData[], options: AppendOptions = {}): Promise<AppendResult> {
    const prepared = prepareAppend(stream, events, options);
    return new Promise<AppendResult>((resolve, reject) => {
      this.waitingAppends.push({ ...prepared, resolve, reject });
      this.sendWaitingAppends();
    });
  }

  /**
   * Appends inside a transaction the caller holds open: the events commit or roll back with it.
   * May refuse with AppendOrderConflictError or AppendDeadlockError, after which the caller runs
   * its transaction again.
   */
  async appendWithin(executor: SqlTransaction, stream: string, events: EventData[], options: AppendOptions = {}): Promise<AppendResult> {
    return this.appendPrepared(executor, prepareAppend(stream, events, options));
  }

  private async appendPrepared(executor: SqlDatabase | SqlTransaction, append: PreparedAppend): Promise<AppendResult> {
    const { stream, expected, payload } = append;
    // Inside a caller's transaction a failed statement aborts it: there the general path runs
    // and a conflict is the caller's to retry. Alone, each call is its own transaction (with a
    // hook, an explicit one, run again whole).
    const alone = executor === this.db;
    const call = (on: SqlExecutor, general: boolean) =>
      this.channel === null || alone
        ? on.query<AppendRow>('SELECT * FROM append_events($1, $2, $3::jsonb, $4)', [stream, String(expected), payload, general], {
            prepareAs: 'backplane_append_events',
          })
        : on.query<AppendRow>(
            // Told on the caller's commit, not at all if it rolls back.
            "SELECT a.*, CASE WHEN a.o_status = 'ok' THEN pg_notify($5, a.o_tx) END AS told FROM append_events($1, $2, $3::jsonb, $4) a",
            [stream, String(expected), payload, general, this.channel],
            { prepareAs: 'backplane_append_events_told' },
          );
    let applied: string | undefined;
    const hooked = async (on: SqlTransaction, general: boolean) => {
      applied = undefined;
      const { fn, arg } = this.hook!.first;
      const [first] = await on.query<Record<string, unknown>>(`SELECT * FROM ${fn}($1)`, [arg]);
      const inline = this.hook!.begin(first);
      const rows = await call(on, general);
      if (inline && rows[0]?.o_status === 'ok') {
        await (await inline.apply(on, await this.readRecorded(on, append.eventIds))).ran;
        applied = inline.readModel;
      }
      return rows;
    };
    const once = (general: boolean) => {
      if (!this.hook) return call(executor, general);
      return alone ? this.db.transaction((tx) => hooked(tx, general)) : hooked(executor as SqlTransaction, general);
    };
    let general = !alone;
    let row: AppendRow | undefined;
    for (let attempt = 1; row === undefined; attempt++) {
      try {
        [row] = await once(general);
      } catch (error) {
        const { code, constraint } = error as { code?: string; constraint?: string };
        if (code === '23505' && constraint === 'events_pkey') {
          // The fast path met an id already recorded (a retry?) and undid itself: the general path tells.
          if (general) throw new DuplicateEventIdError(stream, append.eventIds);
          general = true;
        } else if (code === '40P01' && !alone) {
          throw new AppendDeadlockError(stream);
        } else if (code === '40P01' && this.hook) {
          // Undone whole, the hook's writes with it: run again, and after a few, a conflict to retry.
          if (attempt >= DEADLOCK_ATTEMPTS) throw new AppendDeadlockError(stream);
        } else if (code === '40001') {
          if (!alone || attempt >= ORDER_CONFLICT_ATTEMPTS) throw new AppendOrderConflictError(stream);
        } else {
          throw error;
        }
      }
    }
    const outcome = appendOutcome(append, row, applied);
    // Inside a caller's transaction the events are not committed yet: readers look, and hear again on commit.
    if (row.o_status === 'ok') {
      this.notifyAppend(alone ? outcome.position : null);
      if (alone) this.tellOthers(parsePosition(outcome.position).tx);
    }
    return outcome;
  }

  /** The events an append recorded, as readers will read them, in the append's transaction. */
  private async readRecorded(tx: SqlExecutor, ids: readonly string[]): Promise<RecordedEvent[]> {
    if (ids.length === 0) return [];
    const rows = await tx.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) ORDER BY events.tx_id, events.seq`,
      [JSON.stringify(ids)],
    );
    return rows.map(toRecordedEvent);
  }

  /**
   * Every committed event after `after` (null: from the start), in log order, read in `tx`,
   * without holding back what follows a transaction still open. Complete only where no
   * transaction that can append is open: for the hand-over of a read model to the appends,
   * made while they are held.
   */
  async readCommittedAfter(tx: SqlExecutor, after: Position | null, maxCount?: number): Promise<RecordedEvent[]> {
    const position = after === null ? LOG_START : parsePosition(after);
    const rows = await tx.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE (tx_id, seq) > ($1::xid8, $2::bigint) ORDER BY events.tx_id, events.seq LIMIT $3`,
      [position.tx.toString(), position.seq.toString(), maxCount ?? null],
    );
    return rows.map(toRecordedEvent);
  }

  /**
   * Sends what waits while fewer than appendsInFlight calls are under way, as one group. An append
   * whose stream still has work under way goes alone after that work, so that each stream's
   * appends keep the order they came in.
   */
  private sendWaitingAppends(): void {
    while (this.appendCallsUnderWay < this.appendsInFlight && this.waitingAppends.length > 0) {
      const group: QueuedAppend[] = [];
      const streams = new Set<string>();
      const left: QueuedAppend[] = [];
      let size = 0;
      let full = false;
      for (const append of this.waitingAppends) {
        if (!streams.has(append.stream) && this.streamTails.has(append.stream)) {
          this.sendAfter(append);
          continue;
        }
        // Once full, the group takes nothing more, so no stream's later append can pass its earlier one.
        full ||= group.length === MAX_GROUP || (group.length > 0 && size + append.payload.length > MAX_GROUP_CHARS);
        if (full) {
          left.push(append);
        } else {
          group.push(append);
          streams.add(append.stream);
          size += append.payload.length;
        }
      }
      this.waitingAppends.splice(0, this.waitingAppends.length, ...left);
      if (group.length === 0) return;
      this.appendCallsUnderWay += 1;
      const releases = new Map<string, () => void>();
      for (const stream of streams) {
        let release!: () => void;
        const done = new Promise<void>((resolve) => (release = resolve));
        this.setTail(stream, done);
        releases.set(stream, () => {
          // Gone before the callers hear back, so that their next append to the stream can join a group.
          if (this.streamTails.get(stream) === done) this.streamTails.delete(stream);
          release();
        });
      }
      const answered = this.appendGroup(group, releases);
      void answered.finally(() => {
        this.appendCallsUnderWay -= 1;
        this.sendWaitingAppends();
      });
    }
  }

  private setTail(stream: string, work: Promise<void>): void {
    this.streamTails.set(stream, work);
    void work.finally(() => {
      if (this.streamTails.get(stream) === work) this.streamTails.delete(stream);
    });
  }

  /** Sends an append alone once the work before it on its stream is done. It may wait for a lock, so it takes no place among appendsInFlight. */
  private sendAfter(append: QueuedAppend): void {
    const before = this.streamTails.get(append.stream) ?? Promise.resolve();
    this.setTail(
      append.stream,
      before.then(() => this.sendAlone(append)),
    );
  }

  /** `beforeAnswer` runs just before the caller hears the outcome. */
  private sendAlone(append: QueuedAppend, beforeAnswer: () => void = () => undefined): Promise<void> {
    return this.appendPrepared(this.db, append).then(
      (result) => {
        beforeAnswer();
        append.resolve(result);
      },
      (error: unknown) => {
        beforeAnswer();
        append.reject(error);
      },
    );
  }

  /**
   * One call of append_group; settles, never rejecting, once the database has answered it. Appends
   * the group did not run (their stream was busy, or an error undid the group) then go alone, each
   * stream's in order, streams side by side. Each stream's release (`releases`, one for every stream
   * of the group) is called once every append of the stream has its outcome, just before the last
   * of them hears it.
   */
  private appendGroup(group: QueuedAppend[], releases: Map<string, () => void>): Promise<void> {
    const release = (stream: string) => releases.get(stream)!();
    let rows: Promise<GroupAnswer | null>;
    try {
      const items = group.map((append) => `{"stream":${JSON.stringify(append.stream)},"expected":"${String(append.expected)}","events":${append.payload}}`);
      const appends = `[${items.join(',')}]`;
      rows = this.callGroup(appends).catch((error: unknown) => {
        if (error instanceof HookFailure || GROUP_UNDONE.has((error as { code?: string }).code ?? '')) return null;
        throw error;
      });
    } catch {
      // The group's text could not be made (too long for a string): its appends go alone.
      rows = Promise.resolve(null);
    }
    void rows
      .then(async (answered) => {
        const answer = answered?.rows;
        const ordered = answer ? [...answer].sort((a, b) => a.g_index - b.g_index) : [];
        const alone = answer ? ordered.filter((row) => row.g_status === 'busy').map((row) => group[row.g_index]) : group;
        const aloneStreams = new Set(alone.map((append) => append.stream));
        [...releases.keys()].filter((stream) => !aloneStreams.has(stream)).forEach(release);
        const written = ordered.filter((row) => row.g_status === 'ok');
        if (written.length > 0) {
          const reach = { tx: BigInt(written[0].g_tx!), seq: BigInt(written.at(-1)!.g_seq!) };
          // Committed with no older transaction open: readers read it from now on.
          if (answered?.alone) this.sawReadable(reach);
          this.notifyAppend(formatPosition(reach));
          this.tellOthers(reach.tx);
        }
        for (const row of ordered) {
          if (row.g_status === 'busy') continue;
          const append = group[row.g_index];
          const outcome = { o_status: row.g_status, o_revision: row.g_revision, o_tx: row.g_tx, o_seq: row.g_seq, o_detail: row.g_detail };
          try {
            append.resolve(appendOutcome(append, outcome, answered?.readModel));
          } catch (error) {
            append.reject(error);
          }
        }
        await Promise.all(
          [...aloneStreams].map(async (stream) => {
            const appends = alone.filter((append) => append.stream === stream);
            for (const [i, append] of appends.entries()) {
              await this.sendAlone(append, i === appends.length - 1 ? () => release(stream) : undefined);
            }
          }),
        );
      })
      .catch((error: unknown) => {
        // The group failed for a reason other than a conflict (a lost connection, say): every caller
        // hears it, and no stream stays held. Outcomes already given stay as they are.
        releases.forEach((releaseStream) => {
          releaseStream();
        });
        group.forEach((append) => {
          append.reject(error);
        });
      });
    return rows.then(
      () => undefined,
      () => undefined,
    );
  }

  /** One call of append_group: with a hook, in a transaction that runs it with the events written (append_group_hooked). */
  private async callGroup(appends: string): Promise<GroupAnswer> {
    const hook = this.hook;
    if (!hook) return { rows: await this.db.query<GroupRow>('SELECT * FROM append_group($1::jsonb)', [appends], { prepareAs: 'backplane_append_group' }) };
    // The read model's statements, once sent: the commit goes behind them, and a failure of theirs
    // is the hook's (also a connection lost while they are answered: the appends then go alone,
    // and their event ids tell any already committed).
    let applied: Promise<void> | undefined;
    try {
      return await this.db.transaction(async (tx) => {
        const rows = await tx.query<HookedGroupRow>('SELECT * FROM append_group_hooked($1::jsonb, $2, $3)', [appends, hook.first.fn, hook.first.arg], {
          prepareAs: 'backplane_append_group_hooked',
        });
        const alone = rows[0]?.g_alone === true;
        // Judged as though before the appends: a refusal undoes them with the transaction.
        const inline = hook.begin(rows[0]?.g_first ?? {});
        if (!inline) return { rows, alone };
        const recorded = [...rows].sort((a, b) => a.g_index - b.g_index).flatMap((row) => (row.g_status === 'ok' ? (row.g_events ?? []) : []));
        try {
          ({ ran: applied } = await inline.apply(
            tx,
            recorded.map((event) => toRecordedEvent({ ...event, recorded_at: new Date(event.recorded_at) })),
          ));
        } catch (error) {
          throw new HookFailure(error);
        }
        return { rows, readModel: inline.readModel, alone };
      });
    } catch (error) {
      const failed = await applied?.then(
        () => undefined,
        (cause: unknown) => ({ cause }),
      );
      throw failed !== undefined ? new HookFailure(failed.cause) : error;
    }
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const { forwards, from } = checkReadStream(stream, options);
    if (forwards && from === 'end') return [];

    const params: unknown[] = [stream, options.maxCount ?? null];
    let bound = '';
    if (typeof from === 'bigint') {
      params.push(from.toString());
      bound = forwards ? 'AND revision >= $3::bigint' : 'AND revision <= $3::bigint';
    }
    const rows = await this.db.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream = $1 ${bound}
       ORDER BY events.revision ${forwards ? 'ASC' : 'DESC'} LIMIT $2`,
      params,
      // One of four texts; every command reads its streams with one.
      { prepared: true },
    );
    return rows.map(toRecordedEvent);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const { forwards, from } = checkReadAll(options);
    if (forwards && from === 'end') return [];
    if (!forwards && from === 'start') return [];

    const params: unknown[] = [options.maxCount ?? null];
    const where = [VISIBLE];
    if (from !== 'start' && from !== 'end') {
      const position = parsePosition(from);
      params.push(position.tx.toString(), position.seq.toString());
      where.push(`(tx_id, seq) ${forwards ? '>' : '<'} ($2::xid8, $3::bigint)`);
    }
    const types = options.filter?.eventTypes;
    if (types) {
      params.push(JSON.stringify(types));
      where.push(`type IN (SELECT jsonb_array_elements_text($${params.length}::jsonb))`);
    }
    const prefixes = options.filter?.streamPrefixes;
    if (prefixes) {
      params.push(JSON.stringify(prefixes));
      where.push(`EXISTS (SELECT 1 FROM jsonb_array_elements_text($${params.length}::jsonb) p WHERE starts_with(stream, p))`);
    }
    const order = forwards ? 'ASC' : 'DESC';
    const rows = await this.db.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY events.tx_id ${order}, events.seq ${order} LIMIT $1`,
      params,
      // One of a few texts (the filters are parameters); every reader of the log reads with one.
      { prepared: true },
    );
    return rows.map(toRecordedEvent);
  }

  subscribeToAll(options: SubscribeToAllOptions, handler: SubscriptionHandler): Subscription {
    const store = this;
    return pollingSubscription(
      {
        get pollIntervalMs() {
          // Without notifications no other process writes here (PGlite): this process's own appends wake the readers.
          return (store.db.notifications?.listening ?? true) ? store.fallbackPollMs : store.pollIntervalMs;
        },
        readPage: (after, maxCount) => this.readAll({ fromPosition: after, maxCount }),
        resolveStart: (from) => this.resolveStart(from),
        comparePositions: (a, b) => this.comparePositions(a, b),
        onAppend: (listener) => {
          this.appendListeners.add(listener);
          this.hearOtherProcesses();
          return () => this.appendListeners.delete(listener);
        },
      },
      options,
      handler,
    );
  }

  /** Listens to the appends of other processes, once, when the first subscription starts. */
  private hearOtherProcesses(): void {
    if (this.stopHearing || this.channel === null || !this.db.notifications) return;
    this.stopHearing = this.db.notifications.listen(this.channel, (payload) => {
      // The payload is the writing transaction's id: its events sort at or after (tx, 0).
      this.notifyAppend(payload !== null && /^\d{1,20}$/.test(payload) ? formatPosition({ tx: BigInt(payload), seq: 0n }) : null);
    });
  }

  async headPosition(): Promise<Position | null> {
    const [row] = await this.db.query<{ tx: string; seq: string }>(
      `SELECT tx_id::text AS tx, seq::text AS seq FROM events WHERE ${VISIBLE} ORDER BY events.tx_id DESC, events.seq DESC LIMIT 1`,
    );
    if (!row) return null;
    const head = { tx: BigInt(row.tx), seq: BigInt(row.seq) };
    this.sawReadable(head);
    return formatPosition(head);
  }

  /**
   * Whether readers are known to read up to the position already, without asking the database:
   * it is at or before a head this process read, or an append of this process committed it, or
   * something after it, with no older transaction open. What is readable stays readable.
   */
  knownReadable(position: Position): boolean {
    return this.readable !== null && compareLogPositions(parsePosition(position), this.readable) <= 0;
  }

  private sawReadable(position: LogPosition): void {
    if (this.readable === null || compareLogPositions(position, this.readable) > 0) this.readable = position;
  }

  async lastCommittedPosition(): Promise<Position | null> {
    const [row] = await this.db.query<{ tx: string; seq: string }>(
      'SELECT tx_id::text AS tx, seq::text AS seq FROM events ORDER BY events.tx_id DESC, events.seq DESC LIMIT 1',
    );
    return row ? formatPosition({ tx: BigInt(row.tx), seq: BigInt(row.seq) }) : null;
  }

  comparePositions(a: Position, b: Position): number {
    return compareLogPositions(parsePosition(a), parsePosition(b));
  }

  async countEvents(): Promise<number> {
    const [row] = await this.db.query<{ count: string }>('SELECT count(*)::text AS count FROM events');
    return Number(row.count);
  }

  /** Each stream's last revision and hash as recorded apart from its events, for verifyLog. */
  async streamHeads(): Promise<Map<string, StreamHead>> {
    const rows = await this.db.query<{ name: string; revision: string; last_hash: string }>(
      'SELECT name, revision::text AS revision, last_hash FROM event_streams WHERE revision >= 0',
    );
    return new Map(rows.map((row) => [row.name, { revision: BigInt(row.revision), hash: row.last_hash }]));
  }

  /** The store does not own its database: whoever opened the database closes it. */
  async close(): Promise<void> {
    this.appendListeners.clear();
    this.stopHearing?.();
    this.stopHearing = undefined;
  }

  private async resolveStart(from: ReadAllFrom): Promise<Position> {
    if (from === 'start') return formatPosition(LOG_START);
    if (from === 'end') return (await this.headPosition()) ?? formatPosition(LOG_START);
    return formatPosition(parsePosition(from));
  }

  /**
   * Tells other processes of an append committed alone (or in a group), in a statement of its own
   * just after: a NOTIFY in the append's transaction would hold PostgreSQL's one notification lock
   * through the commit's flush, so that appending transactions would commit one at a time (and
   * a group's 20 ms lock timeout would undo it). One tell at a time; those asked for meanwhile go
   * as one, naming the newest transaction. A tell lost (the process dies first) is made up by the
   * readers' fallback poll.
   */
  private tellOthers(tx: bigint): void {
    if (this.channel === null) return;
    if (this.untold === null || tx > this.untold) this.untold = tx;
    if (this.telling) return;
    const tell = async () => {
      while (this.untold !== null) {
        const newest = this.untold;
        this.untold = null;
        await this.db.query('SELECT pg_notify($1, $2)', [this.channel, newest.toString()], { prepared: true }).catch(() => undefined);
      }
      this.telling = false;
    };
    this.telling = true;
    void tell();
  }

  private notifyAppend(reach: Position | null): void {
    for (const listener of this.appendListeners) listener(reach);
  }
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.id,
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    stream: row.stream,
    revision: BigInt(row.revision),
    position: formatPosition({ tx: BigInt(row.tx), seq: BigInt(row.seq) }),
    recordedAt: row.recorded_at,
    hash: row.hash,
  };
}

/** Checks an append's arguments: a typed error, and nothing sent, when they are wrong. */
function prepareAppend(stream: string, events: EventData[], options: AppendOptions): PreparedAppend {
  assertStreamName(stream);
  const expected = options.expectedRevision ?? 'any';
  assertExpectedRevision(expected);
  // The text is made now: what the caller does with its objects afterwards cannot change what is recorded.
  const batch = validateBatch(events).map((event) => ({ ...event, contentHash: contentHash(event) }));
  return { stream, expected, payload: JSON.stringify(batch), eventIds: batch.map((event) => event.id) };
}

/** What append_events answered, as the port's result or error. */
function appendOutcome(append: PreparedAppend, row: AppendRow, inlineReadModel?: string): AppendResult {
  switch (row.o_status) {
    case 'ok':
    case 'idempotent':
      return {
        nextExpectedRevision: BigInt(row.o_revision!),
        position: formatPosition({ tx: BigInt(row.o_tx!), seq: BigInt(row.o_seq!) }),
        // A retry recognised (idempotent) applied nothing now: its events were applied when first written.
        ...(row.o_status === 'ok' && inlineReadModel !== undefined ? { inlineReadModel } : {}),
      };
    case 'wrong_expected_version':
      throw new WrongExpectedVersionError(append.stream, append.expected, row.o_revision === null ? 'no_stream' : BigInt(row.o_revision));
    case 'duplicate_id':
      throw new DuplicateEventIdError(append.stream, (row.o_detail ?? '').split(',').filter(Boolean));
  }
}
