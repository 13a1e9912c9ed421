import type { SqlDatabase } from '../sql/database';
import { migrate, type Migration } from '../sql/migrate';

const migrations: readonly Migration[] = [
  [
    // Outside the event log: a beat every few minutes of every running task would bury the
    // history people read, and says nothing once the task has ended. One row per running task.
    `CREATE TABLE task_heartbeats (
       task_id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       beat_at timestamptz NOT NULL)`,
  ],
];

/**
 * The liveness lease of running tasks: the process running a task beats here, so that a task
 * silent in its stream for long (one huge project, a long throttle) is not taken for one whose
 * process is gone. Beats carry the database's clock, the clock that dates the events too.
 */
export class TaskHeartbeats {
  private constructor(private readonly db: SqlDatabase) {}

  static async open(db: SqlDatabase): Promise<TaskHeartbeats> {
    await migrate(db, 'task-heartbeats', migrations);
    return new TaskHeartbeats(db);
  }

  async beat(tenantId: string, taskId: string): Promise<void> {
    await this.db.query(
      `INSERT INTO task_heartbeats (task_id, tenant_id, beat_at) VALUES ($1, $2, now())
       ON CONFLICT (task_id) DO UPDATE SET beat_at = EXCLUDED.beat_at`,
      [taskId, tenantId],
    );
  }

  /** The task's last beat; null when no process beats for it. */
  async lastBeat(tenantId: string, taskId: string): Promise<Date | null> {
    const [row] = await this.db.query<{ beat_at: Date | string }>('SELECT beat_at FROM task_heartbeats WHERE task_id = $1 AND tenant_id = $2', [
      taskId,
      tenantId,
    ]);
    return row ? new Date(row.beat_at) : null;
  }

  /** The task ended here: no more beats, and none left to be read. */
  async stop(taskId: string): Promise<void> {
    await this.db.query('DELETE FROM task_heartbeats WHERE task_id = $1', [taskId]);
  }
}
