import { useCallback, useEffect, useState } from 'react';
import { describeError } from './api';
import { docs, type AuditDigest, type AuditSigningKey, type Connection } from './documents';
import { Alert, Section, when } from './forms';
import { useQuery, useSession } from './session';

/** Served by Backplane without a token: the public keys an auditor pins. */
const KEYS_URL = '/.well-known/backplane-audit-keys.json';

/** The signed digests of the tenant's log and the keys that signed them; an ADMIN may sign one now. */
export function DigestsPage() {
  return (
    <>
      <div className="page-head">
        <h1>Digests and keys</h1>
      </div>
      <Digests />
      <SigningKeys />
    </>
  );
}

/** The chain of digests, oldest first as the API gives it, a page at a time. */
function useDigests() {
  const session = useSession();
  const [digests, setDigests] = useState<AuditDigest[]>([]);
  const [next, setNext] = useState<{ hasNextPage: boolean; endCursor: string | null }>({ hasNextPage: false, endCursor: null });
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(
    async (after: string | null) => {
      setLoading(true);
      try {
        const { auditDigests } = await session.call<{ auditDigests: Connection<AuditDigest> }>(docs.auditDigests, { after });
        setDigests((shown) => {
          const known = new Set(shown.map((digest) => digest.cursor));
          return [...shown, ...auditDigests.edges.map((edge) => edge.node).filter((digest) => !known.has(digest.cursor))];
        });
        setNext(auditDigests.pageInfo);
        setError(null);
      } catch (failure) {
        setError(failure);
      } finally {
        setLoading(false);
      }
    },
    [session],
  );

  useEffect(() => void load(null), [load]);
  return { digests, next, loading, error, loadMore: () => void load(next.endCursor) };
}

function Digests() {
  const session = useSession();
  const { digests, next, loading, error, loadMore } = useDigests();
  const [created, setCreated] = useState<AuditDigest | null>(null);
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<unknown>(null);

  async function create() {
    setCreating(true);
    setCreateError(null);
    try {
      const { createAuditDigest } = await session.call<{ createAuditDigest: AuditDigest }>(docs.createAuditDigest);
      setCreated(createAuditDigest);
      // Its place is at the end of the chain: read on from the last page shown, unless pages remain.
      if (!next.hasNextPage) loadMore();
    } catch (failure) {
      setCreateError(failure);
    } finally {
      setCreating(false);
    }
  }

  // Only an ADMIN signs a digest on demand; the API refuses anyone else.
  const action =
    session.me.role === 'ADMIN' ? (
      <button type="button" className="primary" onClick={() => void create()} disabled={creating}>
        {creating ? 'Signing…' : 'Create a digest now'}
      </button>
    ) : undefined;

  return (
    <Section title="Signed digests" actions={action}>
      <p className="hint">
        Each digest signs the count of the tenant's events in its period and the head of every stream written in it, chained to the digest before. Oldest first.
      </p>
      <Alert>{createError ? describeError(createError) : null}</Alert>
      {created ? (
        <Alert kind="success">
          Digest signed with key {created.keyId}: {created.eventCount} events up to {when(created.periodEnd)}.
        </Alert>
      ) : null}
      <Alert>{error ? describeError(error) : null}</Alert>
      {digests.length === 0 && !loading ? <p>No digest has been signed yet.</p> : null}
      {digests.length > 0 ? (
        <table className="list" data-digests>
          <caption className="visually-hidden">Signed digests of the log, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">No.</th>
              <th scope="col">Period</th>
              <th scope="col">Events</th>
              <th scope="col">Key id</th>
              <th scope="col">Signed stream heads</th>
            </tr>
          </thead>
          <tbody>
            {digests.map((digest) => (
              <tr key={digest.cursor} data-digest={digest.cursor}>
                <td data-digest-sequence>{digest.sequence}</td>
                <td>
                  <time dateTime={digest.periodStart}>{when(digest.periodStart)}</time> to <time dateTime={digest.periodEnd}>{when(digest.periodEnd)}</time>
                </td>
                <td data-digest-events>{digest.eventCount}</td>
                <td>
                  <code>{digest.keyId}</code>
                </td>
                <td>{digest.streams.length}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {loading ? <p>Loading…</p> : null}
      {next.hasNextPage && !loading ? (
        <div className="actions">
          <button type="button" onClick={loadMore}>
            Load more
          </button>
        </div>
      ) : null}
    </Section>
  );
}

function SigningKeys() {
  const keys = useQuery<{ auditSigningKeys: AuditSigningKey[] }>(docs.auditSigningKeys);
  const list = keys.data?.auditSigningKeys ?? [];
  return (
    <Section title="Signing keys">
      <p className="hint">
        Retired keys are kept: the digests they signed still verify. The same list, with each public key, is served without a token at{' '}
        <a href={KEYS_URL}>{KEYS_URL}</a>.
      </p>
      <Alert>{keys.error ? describeError(keys.error) : null}</Alert>
      {keys.loading ? <p>Loading…</p> : null}
      {list.length > 0 ? (
        <table className="list" data-signing-keys>
          <caption className="visually-hidden">Keys that sign, or signed, the digests, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Key id</th>
              <th scope="col">Algorithm</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Retired</th>
            </tr>
          </thead>
          <tbody>
            {list.map((key) => (
              <tr key={key.keyId} data-key={key.keyId}>
                <td>
                  <code>{key.keyId}</code>
                </td>
                <td>{key.algorithm}</td>
                <td>{key.retiredAt ? 'Retired' : 'Active'}</td>
                <td>{when(key.createdAt)}</td>
                <td>{when(key.retiredAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {!keys.loading && list.length === 0 && !keys.error ? <p>No key has signed a digest yet.</p> : null}
    </Section>
  );
}
