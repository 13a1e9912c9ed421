import { Client, type ClientConfig } from 'pg';
import type { Notifications } from './database';

const KEEPALIVE_DELAY_MS = 10_000;
/** Waits between attempts to listen again after the connection dropped (ms): doubled up to the last. */
const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 5_000;

type Listener = (payload: string | null) => void;

/**
 * Every LISTEN of a process on ONE dedicated connection, opened with the first listener. When it
 * drops, every listener hears null (notifications may be lost: read, and poll meanwhile), the
 * session connects again with a growing wait, listens to every channel again, and every listener
 * hears null once more, to read what was written while nobody listened. A channel added to a live
 * connection is not listened to until its LISTEN completes: meanwhile `listening` is false (its
 * readers poll), and then its listeners hear null, to read what was sent before it took effect.
 */
export class NotificationSession implements Notifications {
  private readonly channels = new Map<string, Set<Listener>>();
  private client: Client | undefined;
  private connecting: Promise<void> | undefined;
  private retryMs = RECONNECT_FIRST_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The connection is up and every channel it had when it came up is listened to. */
  private ready = false;
  /** LISTENs sent on the live connection and not yet completed, by channel. */
  private readonly pending = new Map<string, number>();
  /** The connection's LISTENs and UNLISTENs, one at a time: pg warns of (and will refuse) overlapping queries. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly config: ClientConfig) {}

  get listening(): boolean {
    return this.ready && this.pending.size === 0;
  }

  listen(channel: string, listener: Listener): () => void {
    if (this.closed) throw new Error('the notification session is closed');
    let listeners = this.channels.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.channels.set(channel, listeners);
      this.send(`LISTEN ${quoted(channel)}`, channel);
    }
    listeners.add(listener);
    if (!this.client && !this.connecting) this.connect();
    return () => {
      listeners.delete(listener);
      if (listeners.size > 0 || this.channels.get(channel) !== listeners) return;
      this.channels.delete(channel);
      this.send(`UNLISTEN ${quoted(channel)}`);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    this.ready = false;
    this.pending.clear();
    await client?.end().catch(() => undefined);
  }

  /**
   * A LISTEN (of `listened`) or UNLISTEN on the connection, if it is up; one that fails drops it,
   * and the channels are listened to again. A LISTEN that completes tells its channel's listeners.
   */
  private send(command: string, listened?: string): void {
    const client = this.client;
    if (!client || !this.ready) return;
    if (listened !== undefined) this.pending.set(listened, (this.pending.get(listened) ?? 0) + 1);
    this.queue = this.queue
      .then(async () => {
        if (this.client !== client) return;
        await client.query(command);
        if (this.client !== client || listened === undefined) return;
        const left = (this.pending.get(listened) ?? 1) - 1;
        if (left > 0) return void this.pending.set(listened, left);
        this.pending.delete(listened);
        for (const listener of [...(this.channels.get(listened) ?? [])]) listener(null);
      })
      .catch(() => this.dropped(client));
  }

  private connect(): void {
    // Named, so that an operator tells it from the pool's connections in pg_stat_activity.
    const client = new Client({
      ...this.config,
      application_name: 'backplane-notifications',
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
    });
    // Without listeners a dropped connection would be an uncaught 'error' event and end the process.
    client.on('error', () => this.dropped(client));
    client.on('end', () => this.dropped(client));
    client.on('notification', (message) => {
      for (const listener of this.channels.get(message.channel) ?? []) listener(message.payload ?? '');
    });
    this.client = client;
    this.connecting = (async () => {
      try {
        await client.connect();
        for (const channel of this.channels.keys()) await client.query(`LISTEN ${quoted(channel)}`);
        if (this.client !== client) return;
        this.ready = true;
        this.retryMs = RECONNECT_FIRST_MS;
        this.tellAll();
      } catch {
        this.dropped(client);
      } finally {
        this.connecting = undefined;
      }
    })();
  }

  private dropped(client: Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    const wasListening = this.ready;
    this.ready = false;
    this.pending.clear();
    void client.end().catch(() => undefined);
    if (wasListening) this.tellAll();
    if (this.closed || this.channels.size === 0) return;
    this.retryTimer = setTimeout(() => {
      if (!this.closed && !this.client) this.connect();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
  }

  private tellAll(): void {
    for (const listeners of [...this.channels.values()]) for (const listener of [...listeners]) listener(null);
  }
}

/** Channel names are made by Backplane (a prefix and a hash): quoting keeps their case and characters. */
function quoted(channel: string): string {
  return `"${channel.replaceAll('"', '""')}"`;
}
