import { useEffect, useState } from 'react';
import { describeError, socket } from './api';
import { docs, type Task } from './documents';
import { Alert, Section, StatusBadge, when } from './forms';
import { useQuery, useSession } from './session';
import { RequestsByAccount } from './usage';

const running = (task: Task) => task.status === 'RUNNING' || task.status === 'THROTTLED';

/** A plan's runs, newest first: Run now, and each running one followed live over taskProgress. */
export function PlanTasks({ planId }: { planId: string }) {
  const session = useSession();
  const query = useQuery<{ tasks: Task[] }>(docs.tasks, { planId });
  const [live, setLive] = useState<Record<string, Task>>({});
  const [error, setError] = useState<unknown>(null);
  const tasks = (query.data?.tasks ?? []).map((task) => live[task.id] ?? task);
  const followed = tasks
    .filter(running)
    .map((task) => task.id)
    .join(',');

  useEffect(() => {
    if (followed === '') return;
    const client = socket(session.token);
    const stops = followed.split(',').map((taskId) =>
      client.subscribe<{ taskProgress: Task }>(
        { query: docs.taskProgress, variables: { taskId } },
        {
          next: ({ data }) => {
            if (data) setLive((known) => ({ ...known, [taskId]: data.taskProgress }));
          },
          error: () => undefined,
          // The subscription ends with the task: read it once more for what is known only at the end (credentials used).
          complete: () => void query.reload(),
        },
      ),
    );
    return () => {
      for (const stop of stops) stop();
      void client.dispose();
    };
  }, [session, followed, query.reload]);

  async function run() {
    try {
      await session.call(docs.runPlan, { planId });
      setError(null);
      await query.reload();
    } catch (failure) {
      setError(failure);
    }
  }

  return (
    <Section
      title="Tasks"
      actions={
        session.canEdit ? (
          <button type="button" onClick={run} disabled={tasks.some(running)}>
            Run now
          </button>
        ) : null
      }
    >
      <Alert>{error ? describeError(error) : query.error ? describeError(query.error) : null}</Alert>
      {tasks.length === 0 ? <p>The plan has not run yet.</p> : null}
      {tasks.length > 0 ? (
        <table className="list" data-tasks>
          <caption className="visually-hidden">The plan's tasks, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Status</th>
              <th scope="col">Repositories</th>
              <th scope="col">Throttled</th>
              <th scope="col">Requests by account</th>
            </tr>
          </thead>
          <tbody>
            {tasks.map((task) => (
              <tr key={task.id} data-task={task.id} data-status={task.status}>
                <td>
                  <a href={`#/plans/${planId}/tasks/${task.id}`} aria-label={`Task started ${when(task.startedAt)}`}>
                    {when(task.startedAt)}
                  </a>
                  <span className="hint"> by {task.startedBy.name ?? 'Backplane'}</span>
                </td>
                <td>
                  <StatusBadge status={task.status} />
                  {task.reason ? <span className="hint"> {task.reason}</span> : null}
                </td>
                <td>
                  <progress max={Math.max(task.repositoriesTotal, 1)} value={task.repositoriesDone} aria-label="Repositories read" /> {task.repositoriesDone} of{' '}
                  {task.repositoriesTotal}
                  {task.repositoriesFailed ? `, ${task.repositoriesFailed} failed` : ''}
                </td>
                <td>
                  {task.throttledPeriods.length === 0
                    ? 'never'
                    : task.throttledPeriods.map((period) => `${when(period.from)} – ${when(period.until)}`).join('; ')}
                </td>
                <td>
                  {task.credentialsUsed.length === 0 ? (running(task) ? 'known at the end' : '—') : null}
                  <RequestsByAccount uses={task.credentialsUsed} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}
