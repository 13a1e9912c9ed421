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
 * hears null once more, to read what was written while nobody listened.
 */
export class NotificationSession implements Notifications {
  private readonly channels = new Map<string, Set<Listener>>();
  private client: Client | undefined;
  private connecting: Promise<void> | undefined;
  private retryMs = RECONNECT_FIRST_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  listening = false;

  constructor(private readonly config: ClientConfig) {}

  listen(channel: string, listener: Listener): () => void {
    if (this.closed) throw new Error('the notification session is closed');
    let listeners = this.channels.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.channels.set(channel, listeners);
      this.send(`LISTEN ${quoted(channel)}`);
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
    this.listening = false;
    await client?.end().catch(() => undefined);
  }

  /** A LISTEN or UNLISTEN on the connection, if it is up; one that fails drops it, and the channels are listened to again. */
  private send(command: string): void {
    const client = this.client;
    if (client && this.listening) client.query(command).catch(() => this.dropped(client));
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
        this.listening = true;
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
    const wasListening = this.listening;
    this.listening = false;
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
