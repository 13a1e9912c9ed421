/**
 * Part of a test double of EventStoreDB's gRPC Streams service: live subscription messages held
 * back while a test says so, as a slow network or a busy server holds them. Reads of $all answer
 * at once meanwhile, so a client can see the end of $all move before its subscription hears of
 * the records that moved it, as it can against a real server.
 */
import type { ReadView, StoredEvent } from './memory-log';

export class LiveHold {
  /** Subscriptions told of writes made while held, told again on release. */
  private held: Set<() => void> | undefined;

  /** Holds what subscriptions hear of writes until the answer is called. */
  hold(): () => void {
    const held = new Set<() => void>();
    this.held = held;
    return () => {
      if (this.held === held) this.held = undefined;
      for (const listener of held) listener();
    };
  }

  /** The view a subscription is served from: its reads as `view`'s, its news of writes held while told. */
  viewFor(view: ReadView): ReadView {
    return {
      get all(): StoredEvent[] {
        return view.all;
      },
      readStream: (stream) => view.readStream(stream),
      onWrite: (listener) =>
        view.onWrite(() => {
          if (this.held) this.held.add(listener);
          else listener();
        }),
    };
  }
}
