import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError } from './api';
import { docs, type Connection, type Plan, type Snapshot, type SnapshotVerification } from './documents';
import { Alert, Section, when } from './forms';
import { RestorePage, RestoreStatusPage } from './restore';
import { useQuery, useSession } from './session';
import { bytes, RequestsByAccount } from './usage';

/** #/plans/<id>/snapshots[/<snapshot>/restore | /restores/<restore>] */
export function SnapshotsArea({ planId, route }: { planId: string; route: string[] }) {
  if (route[0] === 'restores' && route[1]) return <RestoreStatusPage key={route[1]} planId={planId} restoreId={route[1]} />;
  if (route[0] && route[1] === 'restore') return <RestorePage key={route[0]} planId={planId} snapshotId={route[0]} />;
  return <SnapshotsPage planId={planId} />;
}

type Page = { snapshots: Connection<Snapshot> & { totalCount: number } };

/** A plan's snapshots, newest first, 20 a page with Load more: Verify each, Restore one, and Prune (ADMIN and OPERATOR). */
function SnapshotsPage({ planId }: { planId: string }) {
  const session = useSession();
  const plan = useQuery<{ plan: Plan | null }>(docs.plan, { id: planId });
  const [pages, setPages] = useState<{ rows: Snapshot[]; total: number; next: string | null; loading: boolean; error?: unknown }>({
    rows: [],
    total: 0,
    next: null,
    loading: true,
  });
  const [verified, setVerified] = useState<Record<string, SnapshotVerification | { error: string } | 'checking'>>({});
  const [pruning, setPruning] = useState<'asking' | 'busy' | null>(null);
  const [pruned, setPruned] = useState<{ text: string; kind: 'success' | 'error' } | null>(null);
  const confirm = useRef<HTMLButtonElement>(null);
  const pruneButton = useRef<HTMLButtonElement>(null);
  // Whether the confirmation was open: once it closes (Cancel or done), the keyboard goes back to Prune….
  const asked = useRef(false);

  const load = useCallback(
    async (after: string | null) => {
      setPages((previous) => ({ ...previous, loading: true }));
      try {
        const { snapshots } = await session.call<Page>(docs.snapshots, { planId, after });
        const rows = snapshots.edges.map((edge) => edge.node);
        setPages((previous) => ({
          rows: after === null ? rows : [...previous.rows, ...rows],
          total: snapshots.totalCount,
          next: snapshots.pageInfo.hasNextPage ? snapshots.pageInfo.endCursor : null,
          loading: false,
        }));
      } catch (error) {
        setPages((previous) => ({ ...previous, loading: false, error }));
      }
    },
    [session, planId],
  );
  useEffect(() => void load(null), [load]);
  useEffect(() => {
    if (pruning === 'asking') {
      asked.current = true;
      confirm.current?.focus();
    } else if (pruning === null && asked.current) {
      asked.current = false;
      pruneButton.current?.focus();
    }
  }, [pruning]);

  async function verify(id: string) {
    setVerified((known) => ({ ...known, [id]: 'checking' }));
    try {
      const { verifySnapshot } = await session.call<{ verifySnapshot: SnapshotVerification }>(docs.verifySnapshot, { id });
      setVerified((known) => ({ ...known, [id]: verifySnapshot }));
    } catch (error) {
      setVerified((known) => ({ ...known, [id]: { error: describeError(error) } }));
    }
  }

  async function prune() {
    setPruning('busy');
    try {
      const { pruneSnapshots } = await session.call<{ pruneSnapshots: number }>(docs.pruneSnapshots, { planId });
      setPruned({ kind: 'success', text: `Pruned: ${pruneSnapshots} snapshot${pruneSnapshots === 1 ? '' : 's'} expired.` });
      await load(null);
    } catch (error) {
      setPruned({ kind: 'error', text: describeError(error) });
    } finally {
      setPruning(null);
    }
  }

  const name = plan.data?.plan?.name;
  // Pruning is an operator's as much as an administrator's, as the API has it.
  const mayPrune = session.canEdit;
  return (
    <>
      <div className="page-head">
        <h1>Snapshots{name ? ` of ${name}` : ''}</h1>
        <div className="row-actions">
          {mayPrune && pruning === null ? (
            <button type="button" className="danger" ref={pruneButton} onClick={() => setPruning('asking')}>
              Prune…
            </button>
          ) : null}
          <a className="button" href={`#/plans/${planId}`}>
            Back to the plan
          </a>
        </div>
      </div>
      {pruning !== null ? (
        <section className="alert alert-info" aria-labelledby="prune-question" data-prune-confirm>
          <p id="prune-question">
            Prune applies the plan's retention: every snapshot no retention rule keeps is expired, then every stored object that no live snapshot of this
            storage names is deleted from the storage. Expired snapshots can no longer be restored. This cannot be undone.
          </p>
          <div className="actions">
            <button type="button" className="danger" ref={confirm} onClick={prune} disabled={pruning === 'busy'}>
              Prune snapshots now
            </button>
            <button type="button" onClick={() => setPruning(null)} disabled={pruning === 'busy'}>
              Cancel
            </button>
          </div>
        </section>
      ) : null}
      {pruned ? <Alert kind={pruned.kind}>{pruned.text}</Alert> : null}
      <Alert>{pages.error ? describeError(pages.error) : null}</Alert>
      <Section title={`${pages.total} snapshot${pages.total === 1 ? '' : 's'}, newest first`}>
        {pages.rows.length === 0 && !pages.loading ? <p>The plan has no snapshot yet: run it from the plan's Tasks.</p> : null}
        {pages.rows.length > 0 ? (
          <table className="list" data-snapshots>
            <caption className="visually-hidden">The plan's snapshots, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Repository</th>
                <th scope="col">Taken</th>
                <th scope="col">Size</th>
                <th scope="col">Requests by account</th>
                <th scope="col">Verification</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {pages.rows.map((snapshot) => (
                <tr key={snapshot.id} data-snapshot={snapshot.id}>
                  <th scope="row">{snapshot.fullPath}</th>
                  <td>
                    <a
                      href={`#/plans/${planId}/tasks/${snapshot.task.id}`}
                      aria-label={`Task of the snapshot of ${snapshot.fullPath} taken ${when(snapshot.takenAt)}`}
                    >
                      {when(snapshot.takenAt)}
                    </a>
                    {snapshot.expiresAt ? <span className="hint"> expired {when(snapshot.expiresAt)}</span> : null}
                  </td>
                  <td>
                    {bytes(snapshot.bytes)}
                    <span className="hint"> ({bytes(snapshot.storedBytes)} stored)</span>
                  </td>
                  <td>
                    <RequestsByAccount uses={snapshot.credentialsUsed} />
                  </td>
                  <td data-verification>
                    <Verification shown={verified[snapshot.id] ?? snapshot.verification} />
                  </td>
                  <td>
                    {session.canEdit ? (
                      <div className="row-actions">
                        <button
                          type="button"
                          onClick={() => verify(snapshot.id)}
                          disabled={verified[snapshot.id] === 'checking'}
                          aria-label={`Verify the snapshot of ${snapshot.fullPath} taken ${when(snapshot.takenAt)}`}
                        >
                          Verify
                        </button>
                        {snapshot.expiresAt ? null : (
                          <a
                            className="button"
                            href={`#/plans/${planId}/snapshots/${snapshot.id}/restore`}
                            aria-label={`Restore the snapshot of ${snapshot.fullPath} taken ${when(snapshot.takenAt)}`}
                          >
                            Restore
                          </a>
                        )}
                      </div>
                    ) : (
                      '—'
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {pages.loading ? <p>Loading…</p> : null}
        {pages.next && !pages.loading ? (
          <div className="actions">
            <button type="button" onClick={() => load(pages.next)}>
              Load more
            </button>
          </div>
        ) : null}
      </Section>
    </>
  );
}

function Verification({ shown }: { shown: SnapshotVerification | { error: string } | 'checking' | null }) {
  if (shown === null) return <>Never verified</>;
  if (shown === 'checking') return <>Reading back every object…</>;
  if ('error' in shown) return <span className="field-error">{shown.error}</span>;
  if (shown.ok)
    return (
      <span data-verified="ok">
        Verified: {shown.checkedObjects} objects intact <span className="hint">({when(shown.verifiedAt)})</span>
      </span>
    );
  return (
    <span className="field-error" data-verified="broken">
      Broken: object {shown.firstBrokenObject ?? '?'} missing or altered ({when(shown.verifiedAt)})
    </span>
  );
}
