import type { EventStore, Position, RecordedEvent, Subscription } from '../eventstore/types';

/** One of those the tail hands events to. */
export interface TailSubscriber {
  /** Each batch the tail reads, in order, as it reads it. Called synchronously and never awaited: it must not throw. */
  deliver(events: readonly RecordedEvent[]): void;
  /** The tail failed (the store could not be read): the subscriber is dropped and ends with the error. */
  fail(error: unknown): void;
}

/**
 * One catch-up subscription of the log per store and process, read once for every live subscriber
 * of the API: each subscriber is handed every batch in memory, and filters and authorizes it
 * itself, so that a thousand listeners cost the database what one does. It runs while it has
 * subscribers, from the head of the log as it stood when the first came; with none it stops.
 * A subscriber that starts from an earlier place reads that stretch from the log itself (see
 * eventFeed), and joins at the position join() answers.
 */
export class LogTail {
  private readonly subscribers = new Set<TailSubscriber>();
  /** The subscription running now, by identity: batches of one being stopped are not handed out. */
  private current: { subscription: Subscription | undefined } | undefined;
  private starting: Promise<void> | undefined;
  /** Where the tail has handed out to (null: the log was empty when it started). */
  private position: Position | null = null;
  private headLookup: Promise<Position | null> | undefined;
  private nextHeadLookup: Promise<Position | null> | undefined;
  /** Counts what arrives for subscribers, batch by batch: an authorization asked at tick n covers what arrived up to n. */
  private ticks = 0;
  private readonly checks = new Map<string, { askedAt: number; answer: Promise<boolean> }>();

  constructor(private readonly store: EventStore) {}

  /** Subscribers now. */
  get size(): number {
    return this.subscribers.size;
  }

  /**
   * The head of the log as it stands after this call. Callers that come together share one
   * lookup, started after the last of them came (a lookup under way when one comes may miss
   * what was written just before it, so it waits for the next).
   */
  headNow(): Promise<Position | null> {
    if (!this.headLookup) {
      this.headLookup = this.store.headPosition().finally(() => (this.headLookup = undefined));
      return this.headLookup;
    }
    this.nextHeadLookup ??= this.headLookup
      .catch(() => undefined)
      .then(() => {
        this.nextHeadLookup = undefined;
        return this.headNow();
      });
    return this.nextHeadLookup;
  }

  /**
   * Adds a subscriber, starting the tail if it is not running. Resolves with the position it
   * joined at: it is handed every event after it, and nothing at or before it.
   */
  async join(subscriber: TailSubscriber): Promise<Position | null> {
    while (!this.current?.subscription) {
      this.starting ??= this.start().finally(() => (this.starting = undefined));
      await this.starting;
    }
    // Synchronous from here: no batch is handed out between adding and answering.
    this.subscribers.add(subscriber);
    return this.position;
  }

  /** Removes a subscriber; the last one to leave stops the tail. */
  leave(subscriber: TailSubscriber): void {
    if (!this.subscribers.delete(subscriber) || this.subscribers.size > 0) return;
    const running = this.current;
    this.current = undefined;
    void running?.subscription?.stop();
  }

  /** A number that orders what arrives: see allowed(). */
  tick(): number {
    this.ticks += 1;
    return this.ticks;
  }

  /**
   * Whether `who` may still read what arrived up to tick `arrivedAt`: subscribers of one token
   * share one answer asked after what they hand over arrived, rather than asking the database
   * one by one.
   */
  allowed(who: string, arrivedAt: number, ask: () => Promise<boolean>): Promise<boolean> {
    const shared = this.checks.get(who);
    if (shared && shared.askedAt >= arrivedAt) return shared.answer;
    const check = { askedAt: this.ticks, answer: ask() };
    this.checks.set(who, check);
    const forget = () => {
      if (this.checks.get(who) === check) this.checks.delete(who);
    };
    check.answer.then(forget, forget);
    return check.answer;
  }

  private async start(): Promise<void> {
    const head = await this.headNow();
    const running: { subscription: Subscription | undefined } = { subscription: undefined };
    this.position = head;
    this.current = running;
    running.subscription = this.store.subscribeToAll({ fromPosition: head ?? 'start' }, (batch) => {
      if (this.current !== running) return;
      if (batch.events.length > 0) {
        this.tick();
        for (const subscriber of this.subscribers) subscriber.deliver(batch.events);
      }
      this.position = batch.position;
    });
    running.subscription.done.catch((error: unknown) => {
      if (this.current !== running) return;
      this.current = undefined;
      const dropped = [...this.subscribers];
      this.subscribers.clear();
      for (const subscriber of dropped) subscriber.fail(error);
    });
  }
}

const tails = new WeakMap<EventStore, LogTail>();

/** The tail of the store's log in this process. */
export function logTailOf(store: EventStore): LogTail {
  let tail = tails.get(store);
  if (!tail) {
    tail = new LogTail(store);
    tails.set(store, tail);
  }
  return tail;
}
