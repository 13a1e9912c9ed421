/**
 * Part of a test double of EventStoreDB's gRPC Streams service: whether an append may be written,
 * following EventStoreDB 23.10's IndexWriter.CheckCommit step by step, since the adapter relies on
 * its answers (idempotent retries in particular). It is not EventStoreDB.
 *
 * - With `any` or `stream_exists`, a retry is recognised by EventStoreDB's cache of committed event
 *   ids: every id already committed in this stream makes the append idempotent; the first id not
 *   found (or found in another stream) makes it a new write; a later one makes it a corrupted
 *   retry, answered as a wrong expected version. (EventStoreDB's cache is bounded, so a retry of an
 *   old append with `any` is written again there; this double's cache never forgets.)
 * - With an exact revision (or `no_stream`) below the stream's last revision, the ids must be the
 *   stream's events right after that revision, in order: then the append is idempotent; when the
 *   first one differs it is a wrong expected version (or, for `no_stream` on a soft-deleted stream,
 *   a new write that undeletes it); when a later one differs, a corrupted retry.
 * - An expected revision above the last one is a wrong expected version; equal to it, a new write.
 * Idempotent answers name the range of the events already written and change nothing.
 */
import type { Expected } from './memory-log';

/** Where an event id was last committed, as EventStoreDB's committed-events cache keeps it. */
export interface CommittedId {
  stream: string;
  revision: bigint;
}

/** What CheckCommit needs to know about the stream and the log. */
export interface CommitCheckView {
  /** The stream's last revision, soft-deleted events included; -1 when it has none. */
  lastRevision: bigint;
  softDeleted: boolean;
  tombstoned: boolean;
  /** For stream_exists on a stream without events: whether its metadata stream has any. */
  hasMetadata: boolean;
  committed(id: string): CommittedId | undefined;
  /** The id of the stream's event at this revision, if there is one. */
  idAt(revision: bigint): string | undefined;
}

export type CommitDecision =
  | { kind: 'ok' }
  | { kind: 'deleted' }
  | { kind: 'wrong_expected_version'; current: bigint }
  | { kind: 'idempotent'; first: bigint; last: bigint };

export function checkCommit(stream: string, expected: Expected, ids: string[], view: CommitCheckView): CommitDecision {
  const current = view.lastRevision;
  if (view.tombstoned) return { kind: 'deleted' };
  const wrong: CommitDecision = { kind: 'wrong_expected_version', current };

  if (expected.kind === 'stream_exists') {
    if (view.softDeleted) return { kind: 'deleted' };
    if (current < 0n && !view.hasMetadata) return wrong;
  }

  if (expected.kind === 'any' || expected.kind === 'stream_exists') {
    let range: { first: bigint; last: bigint } | undefined;
    for (const id of ids) {
      const found = view.committed(id);
      // EventStoreDB: the first id unknown here means a new write; a later one a corrupted retry.
      if (!found || found.stream !== stream) return range ? wrong : { kind: 'ok' };
      range = { first: range?.first ?? found.revision, last: found.revision };
    }
    return range ? { kind: 'idempotent', ...range } : { kind: 'ok' };
  }

  const expectedRevision = expected.kind === 'no_stream' ? -1n : expected.revision;
  if (expectedRevision < current) {
    let revision = expectedRevision;
    for (const id of ids) {
      revision += 1n;
      const found = view.committed(id);
      if (found?.stream === stream && found.revision === revision) continue;
      if (view.idAt(revision) === id) continue;
      if (revision !== expectedRevision + 1n) return wrong;
      if (expected.kind === 'no_stream' && view.softDeleted) return { kind: 'ok' };
      return wrong;
    }
    if (revision === expectedRevision) return wrong;
    return { kind: 'idempotent', first: expectedRevision + 1n, last: revision };
  }
  if (expectedRevision > current) return wrong;
  return { kind: 'ok' };
}
