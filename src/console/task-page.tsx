import { useEffect, useState } from 'react';
import { ApiError, describeError, socket } from './api';
import { docs, type Connection, type Task, type TaskDetail } from './documents';
import { Alert, Section, StatusBadge, when } from './forms';
import { useQuery, useSession } from './session';
import { ended, mergedTask } from './task-merge';
import { bytes } from './usage';

/** Given up on after this wait between attempts grows past it; the page says live updates stopped. */
const MAX_RETRY_MS = 30_000;

/** A repository's outcome in the task, as the history records it. */
interface RepositoryResult {
  repositoryId: string;
  fullPath: string;
  ok: boolean;
  reason?: string;
  requests: number;
  at: string;
}

/** One task: its status and times, each repository as it is read (live over taskProgress), the throttled periods and the accounts used. */
export function TaskPage({ planId, taskId }: { planId: string; taskId: string }) {
  const session = useSession();
  const query = useQuery<{ task: TaskDetail | null }>(docs.task, { id: taskId });
  const [live, setLive] = useState<Task | null>(null);
  const [feed, setFeed] = useState<'live' | 'reconnecting' | 'stopped'>('live');
  const loaded = query.data?.task;
  const task: TaskDetail | null | undefined = loaded ? mergedTask(loaded, live) : loaded;
  const results = useRepositoryResults(loaded ?? null, task?.repositoriesDone ?? 0);
  const following = loaded !== undefined && loaded !== null && !ended(loaded);

  useEffect(() => {
    if (!following) return;
    const client = socket(session.token);
    let done = -1;
    let stopped = false;
    let stop = () => {};
    let retry: ReturnType<typeof setTimeout> | undefined;
    let attempts = 0;
    // What happened while nobody listened is read again, then the subscription is asked for once more.
    const again = (failure: unknown) => {
      stop();
      if (stopped) return;
      void query.reload();
      const wait = 1_000 * 2 ** attempts++;
      // A refusal of the subscription itself (not the connection, not a slow reader) will not change by asking again.
      const refused = failure instanceof ApiError && failure.code !== 'SUBSCRIPTION_TOO_SLOW';
      if (refused || wait > MAX_RETRY_MS) return setFeed('stopped');
      setFeed('reconnecting');
      retry = setTimeout(listen, wait);
    };
    const listen = () => {
      if (stopped) return;
      stop = client.subscribe<{ taskProgress: Task }>(
        { query: docs.taskProgress, variables: { taskId } },
        {
          next: (result) => {
            const problem = result.errors?.[0];
            if (problem) return again(new ApiError(problem.message, String(problem.extensions?.code ?? 'INTERNAL_SERVER_ERROR')));
            if (!result.data) return;
            attempts = 0;
            setFeed('live');
            setLive(result.data.taskProgress);
            // A repository more read: its snapshot is listed now.
            if (result.data.taskProgress.repositoriesDone !== done) {
              done = result.data.taskProgress.repositoriesDone;
              void query.reload();
            }
          },
          error: (failure) => {
            const problem = Array.isArray(failure) ? (failure[0] as { message: string; extensions?: { code?: string } } | undefined) : undefined;
            again(problem ? new ApiError(problem.message, problem.extensions?.code ?? 'INTERNAL_SERVER_ERROR') : failure);
          },
          // The subscription ends with the task: read it once more for what is known only at the end (the accounts' credentials).
          complete: () => void query.reload(),
        },
      );
    };
    listen();
    return () => {
      stopped = true;
      clearTimeout(retry);
      stop();
      void client.dispose();
    };
  }, [session, taskId, following, query.reload]);

  if (query.error && !task) return <Alert>{describeError(query.error)}</Alert>;
  if (!task) return query.loading ? <p>Loading…</p> : <Alert>No such task.</Alert>;
  const snapshots = task.snapshots.edges.map((edge) => edge.node);
  const failed = results.data.filter((result) => !result.ok);

  return (
    <div data-task-page={task.id} data-status={task.status}>
      <div className="page-head">
        <h1>Task of {task.plan.name}</h1>
        <div className="row-actions">
          <a className="button" href={`#/plans/${planId}/snapshots`}>
            Snapshots of this plan
          </a>
          <a className="button" href={`#/plans/${planId}`}>
            Back to the plan
          </a>
        </div>
      </div>
      <Section title="Status">
        <dl className="facts">
          <dt>Status</dt>
          <dd data-task-status>
            <StatusBadge status={task.status} />
            {following && !ended(task) ? (
              <span className="hint" role="status" data-live={feed}>
                {feed === 'live'
                  ? ' (live)'
                  : feed === 'reconnecting'
                    ? ' Live updates interrupted; reconnecting…'
                    : ' Live updates stopped. Reload the page to resume.'}
              </span>
            ) : null}
          </dd>
          {task.reason ? (
            <>
              <dt>Why it failed</dt>
              <dd>{task.reason}</dd>
            </>
          ) : null}
          <dt>Started</dt>
          <dd>
            {when(task.startedAt)} by {task.startedBy.name ?? 'Backplane'}
          </dd>
          <dt>Ended</dt>
          <dd data-task-finished>{task.finishedAt ? when(task.finishedAt) : 'not yet'}</dd>
          <dt>Repositories</dt>
          <dd data-task-progress>
            <progress max={Math.max(task.repositoriesTotal, 1)} value={task.repositoriesDone} aria-label="Repositories read" /> {task.repositoriesDone} of{' '}
            {task.repositoriesTotal} read{task.repositoriesFailed ? `, ${task.repositoriesFailed} failed` : ''}
          </dd>
          <dt>Written to storage</dt>
          <dd>{bytes(task.bytesWritten)}</dd>
        </dl>
      </Section>
      <Section title="Repositories">
        {snapshots.length === 0 && failed.length === 0 ? <p>No repository read yet.</p> : null}
        {snapshots.length + failed.length > 0 ? (
          <table className="list" data-task-repositories>
            <caption className="visually-hidden">Each repository the task read</caption>
            <thead>
              <tr>
                <th scope="col">Repository</th>
                <th scope="col">Outcome</th>
                <th scope="col">When</th>
                <th scope="col">Size</th>
              </tr>
            </thead>
            <tbody>
              {snapshots.map((snapshot) => (
                <tr key={snapshot.id} data-snapshot={snapshot.id}>
                  <th scope="row">{snapshot.fullPath}</th>
                  <td>Snapshot taken</td>
                  <td>{when(snapshot.takenAt)}</td>
                  <td>{bytes(snapshot.bytes)}</td>
                </tr>
              ))}
              {failed.map((result) => (
                <tr key={result.repositoryId} data-repository-failed={result.fullPath}>
                  <th scope="row">{result.fullPath}</th>
                  <td className="field-error">Failed: {result.reason}</td>
                  <td>{when(result.at)}</td>
                  <td>—</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {task.snapshots.totalCount > snapshots.length ? (
          <p className="hint">
            The newest {snapshots.length} of {task.snapshots.totalCount} snapshots; the plan's <a href={`#/plans/${planId}/snapshots`}>snapshots</a> lists them
            all.
          </p>
        ) : null}
        {task.repositoriesFailed > 0 && !session.canAudit ? (
          <p className="hint">Why a repository failed is in the history, which ADMIN and AUDITOR read.</p>
        ) : null}
        <Alert>{results.error ? describeError(results.error) : null}</Alert>
      </Section>
      <Section title="Throttled">
        {task.throttledPeriods.length === 0 ? (
          <p>GitLab never made this task wait.</p>
        ) : (
          <ul data-throttled>
            {task.throttledPeriods.map((period) => (
              <li key={period.from}>
                {when(period.from)} – {when(period.until)}
              </li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Accounts used">
        {task.credentialsUsed.length === 0 ? (
          <p>{ended(task) ? 'No request was made.' : 'Known once the task has ended.'}</p>
        ) : (
          <table className="list" data-credentials-used>
            <caption className="visually-hidden">The accounts that made requests to GitLab, with how many</caption>
            <thead>
              <tr>
                <th scope="col">Login</th>
                <th scope="col">Account</th>
                <th scope="col">Requests</th>
              </tr>
            </thead>
            <tbody>
              {task.credentialsUsed.map((use) => (
                <tr key={use.login} data-login={use.login}>
                  <th scope="row">{use.login}</th>
                  <td>
                    {use.credential ? (
                      <>
                        Additional credential <StatusBadge status={use.credential.status} />
                      </>
                    ) : (
                      "The organization's main login"
                    )}
                  </td>
                  <td data-requests>{use.requests}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}

const RESULT_TYPES = ['RepositoryBackedUp', 'RepositoryBackupFailed'];

/** The task's repository results from the history, read again as more are done; only ADMIN and AUDITOR may read it. */
function useRepositoryResults(task: TaskDetail | null, done: number): { data: RepositoryResult[]; error?: unknown } {
  const session = useSession();
  const [state, setState] = useState<{ data: RepositoryResult[]; error?: unknown }>({ data: [] });
  const taskId = task?.id;
  const planId = task?.plan.id;
  const from = task?.startedAt;
  useEffect(() => {
    if (!session.canAudit || !taskId || done === 0) return;
    let current = true;
    void (async () => {
      try {
        const found: RepositoryResult[] = [];
        let after: string | null = null;
        for (;;) {
          const { auditLog }: { auditLog: Connection<{ type: string; occurredAt: string; data: Record<string, unknown> }> } = await session.call(
            docs.taskRepositories,
            { filter: { planId, types: RESULT_TYPES, from }, after },
          );
          for (const { node } of auditLog.edges) {
            if (node.data.taskId !== taskId) continue;
            found.push({
              repositoryId: String(node.data.repositoryId),
              fullPath: String(node.data.fullPath),
              ok: node.type === 'RepositoryBackedUp',
              reason: typeof node.data.reason === 'string' ? node.data.reason : undefined,
              requests: Number(node.data.requests ?? 0),
              at: node.occurredAt,
            });
          }
          if (!auditLog.pageInfo.hasNextPage) break;
          after = auditLog.pageInfo.endCursor;
        }
        if (current) setState({ data: found });
      } catch (error) {
        if (current) setState((previous) => ({ ...previous, error }));
      }
    })();
    return () => {
      current = false;
    };
  }, [session, taskId, planId, from, done]);
  return state;
}
