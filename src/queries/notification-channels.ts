import type { NotificationKind, NotificationTarget } from '../domain/notification-channel';
import type { SqlExecutor } from '../sql/database';
import { asActor, asDate, asJson, asOptionalDate, isUuid } from './sql-values';
import type { ActorView } from './views';

/** A channel as the API shows it, with where its notices stand. */
export interface NotificationChannelView {
  id: string;
  tenantId: string;
  name: string;
  target: NotificationTarget;
  kinds: NotificationKind[];
  /** The log position of its addition: it is told of events after it. */
  addedPosition: string;
  addedAt: Date;
  addedBy: ActorView;
  delivery: {
    sent: number;
    /** Notices recorded and not yet taken by the channel. */
    pending: number;
    lastSentAt: Date | null;
    failingSince: Date | null;
    lastError: string | null;
    attempts: number;
  };
}

interface Row {
  id: string;
  tenant_id: string;
  name: string;
  target: unknown;
  kinds: unknown;
  added_position: string;
  added_at: unknown;
  added_by: unknown;
  sent: unknown;
  pending: unknown;
  last_sent_at: unknown;
  failing_since: unknown;
  last_error: string | null;
  attempts: unknown;
}

// The oldest notice not yet sent is the one being tried (a channel's notices go in log order).
const SELECT = `SELECT c.id, c.tenant_id, c.name, c.target, c.kinds, c.added_position, c.added_at, c.added_by,
                       (SELECT count(*) FROM notifications n WHERE n.channel_id = c.id AND n.sent_at IS NOT NULL) AS sent,
                       (SELECT count(*) FROM notifications n WHERE n.channel_id = c.id AND n.sent_at IS NULL) AS pending,
                       (SELECT max(n.sent_at) FROM notifications n WHERE n.channel_id = c.id) AS last_sent_at,
                       f.failing_since, f.last_error, f.attempts
                FROM notification_channels c
                LEFT JOIN LATERAL (SELECT n.failing_since, n.last_error, n.attempts FROM notifications n
                                   WHERE n.channel_id = c.id AND n.sent_at IS NULL ORDER BY n.created_at LIMIT 1) f ON true`;

function view(row: Row): NotificationChannelView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    target: asJson<NotificationTarget>(row.target),
    kinds: asJson<NotificationKind[]>(row.kinds),
    addedPosition: row.added_position,
    addedAt: asDate(row.added_at),
    addedBy: asActor(row.added_by),
    delivery: {
      sent: Number(row.sent ?? 0),
      pending: Number(row.pending ?? 0),
      lastSentAt: asOptionalDate(row.last_sent_at),
      failingSince: asOptionalDate(row.failing_since),
      lastError: row.last_error,
      attempts: Number(row.attempts ?? 0),
    },
  };
}

/** The tenant's channels not removed, by name. */
export async function notificationChannelsOf(db: SqlExecutor, tenantId: string): Promise<NotificationChannelView[]> {
  const rows = await db.query<Row>(`${SELECT} WHERE c.tenant_id = $1 AND c.removed_at IS NULL ORDER BY lower(c.name), c.id`, [tenantId]);
  return rows.map(view);
}

export async function notificationChannelById(db: SqlExecutor, tenantId: string, id: string): Promise<NotificationChannelView | null> {
  if (!isUuid(id)) return null;
  const rows = await db.query<Row>(`${SELECT} WHERE c.tenant_id = $1 AND c.id = $2 AND c.removed_at IS NULL`, [tenantId, id]);
  return rows[0] ? view(rows[0]) : null;
}

/** Every tenant's channels not removed: what the notifications serve. */
export async function activeNotificationChannels(db: SqlExecutor): Promise<NotificationChannelView[]> {
  return (await db.query<Row>(`${SELECT} WHERE c.removed_at IS NULL ORDER BY c.id`)).map(view);
}

export async function notificationChannelNameTaken(db: SqlExecutor, tenantId: string, name: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM notification_channels WHERE tenant_id = $1 AND lower(name) = lower($2) AND removed_at IS NULL', [
    tenantId,
    name.trim(),
  ]);
  return rows.length > 0;
}

/** The tenant's channels not removed, counted. */
export async function notificationChannelCount(db: SqlExecutor, tenantId: string): Promise<number> {
  const [row] = await db.query<{ count: unknown }>('SELECT count(*) AS count FROM notification_channels WHERE tenant_id = $1 AND removed_at IS NULL', [
    tenantId,
  ]);
  return Number(row?.count ?? 0);
}
