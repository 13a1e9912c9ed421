import type { Position } from '../../eventstore/types';
import type { SqlDatabase } from '../../sql/database';
import { migrate, type Migration } from '../../sql/migrate';

const migrations: readonly Migration[] = [
  [
    // Outside the event log, as SIEM deliveries are: a notice is derived from an event already in
    // the log, and an event per attempt would bury the history it reports on. One row per
    // (channel, event): the primary key is what makes a notice once, across processes and restarts.
    `CREATE TABLE notifications (
       channel_id uuid NOT NULL,
       event_id uuid NOT NULL,
       tenant_id text NOT NULL,
       kind text NOT NULL,
       event_position text NOT NULL,
       text text NOT NULL,
       created_at timestamptz NOT NULL DEFAULT now(),
       sent_at timestamptz,
       failing_since timestamptz,
       last_error text,
       attempts integer NOT NULL DEFAULT 0,
       PRIMARY KEY (channel_id, event_id))`,
    `CREATE TABLE notification_checkpoints (
       channel_id uuid PRIMARY KEY,
       checkpoint text NOT NULL)`,
  ],
  [
    // An attempt under way, until when: a holder that lost its lease may still be sending, and the
    // next holder must not send the same notice beside it.
    'ALTER TABLE notifications ADD COLUMN attempt_until timestamptz',
  ],
];

/** What claim() found: the attempt is this caller's, the notice went already, or another attempt is under way. */
export type Claim = 'claimed' | 'sent' | 'busy';

/**
 * What each channel was told: its notices, sent or still being tried, and the log position read
 * through. Written by the process holding the channel's lease. Times carry the database's clock.
 */
export class NotificationStates {
  private constructor(private readonly db: SqlDatabase) {}

  static async open(db: SqlDatabase): Promise<NotificationStates> {
    await migrate(db, 'notifications', migrations);
    return new NotificationStates(db);
  }

  /** The position read through; null: nothing yet, the channel starts where it was added. */
  async checkpoint(channelId: string): Promise<Position | null> {
    const [row] = await this.db.query<{ checkpoint: string }>('SELECT checkpoint FROM notification_checkpoints WHERE channel_id = $1', [channelId]);
    return row?.checkpoint ?? null;
  }

  async advanced(channelId: string, checkpoint: Position): Promise<void> {
    await this.db.query(
      `INSERT INTO notification_checkpoints (channel_id, checkpoint) VALUES ($1, $2)
       ON CONFLICT (channel_id) DO UPDATE SET checkpoint = EXCLUDED.checkpoint`,
      [channelId, checkpoint],
    );
  }

  /** Records the notice of an event for a channel (once); answers whether it was sent already. */
  async recorded(notice: { channelId: string; eventId: string; tenantId: string; kind: string; position: Position; text: string }): Promise<boolean> {
    await this.db.query(
      `INSERT INTO notifications (channel_id, event_id, tenant_id, kind, event_position, text) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (channel_id, event_id) DO NOTHING`,
      [notice.channelId, notice.eventId, notice.tenantId, notice.kind, notice.position, notice.text],
    );
    const [row] = await this.db.query<{ sent_at: unknown }>('SELECT sent_at FROM notifications WHERE channel_id = $1 AND event_id = $2', [
      notice.channelId,
      notice.eventId,
    ]);
    return row.sent_at !== null;
  }

  /**
   * Takes the next attempt at a notice for `forMs`: no other caller gets it until the attempt ends
   * (sent or failed) or that time has passed (its holder died while sending).
   */
  async claim(channelId: string, eventId: string, forMs: number): Promise<Claim> {
    const claimed = await this.db.query(
      `UPDATE notifications SET attempt_until = now() + $3 * interval '1 millisecond'
       WHERE channel_id = $1 AND event_id = $2 AND sent_at IS NULL AND (attempt_until IS NULL OR attempt_until < now())
       RETURNING event_id`,
      [channelId, eventId, forMs],
    );
    if (claimed.length === 1) return 'claimed';
    const [row] = await this.db.query<{ sent_at: unknown }>('SELECT sent_at FROM notifications WHERE channel_id = $1 AND event_id = $2', [channelId, eventId]);
    return row && row.sent_at !== null ? 'sent' : 'busy';
  }

  async sent(channelId: string, eventId: string): Promise<void> {
    await this.db.query(
      'UPDATE notifications SET sent_at = now(), attempt_until = NULL, failing_since = NULL, last_error = NULL WHERE channel_id = $1 AND event_id = $2',
      [channelId, eventId],
    );
  }

  /** An attempt failed; `error` says how, never with the message or an answer. Returns the attempts failed so far. */
  async failed(channelId: string, eventId: string, error: string): Promise<number> {
    const [row] = await this.db.query<{ attempts: number }>(
      `UPDATE notifications SET attempt_until = NULL, failing_since = coalesce(failing_since, now()), last_error = $3, attempts = attempts + 1
       WHERE channel_id = $1 AND event_id = $2 RETURNING attempts`,
      [channelId, eventId, error],
    );
    return Number(row?.attempts ?? 1);
  }
}
