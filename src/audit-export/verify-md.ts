/**
 * VERIFY.md, the procedure shipped in every bundle. It is the contract a third party writes a
 * verifier from, so it names every string exactly; the offline verifier (verify-bundle.ts) is
 * written from this text alone and a test does the same, which keeps it complete.
 */
export const VERIFY_MD = `# Verifying this audit export

This archive holds part of a Backplane audit log and the evidence to check it without trusting
Backplane, its server or its database. You need SHA-256, Ed25519 and a JSON parser: any language's
standard library, or \`openssl\` (3.0 or later) and \`sha256sum\`.

## Files

- \`events.jsonl\`: the events, one JSON object per line (lines end with "\\n"), in log order.
- \`digests.jsonl\`: the signed digests whose period overlaps the export (for an export of digest
  periods, exactly the digests asked for), one per line, oldest first.
- \`anchor.json\`: only in an export of digest periods whose \`fromDigest\` is more than 1: the signed
  digest before the first one (digest \`fromDigest\` - 1), in the shape of a line of
  \`digests.jsonl\`. It says where the first period starts (step 4, "The anchor"); its own period is
  not part of the export. Elsewhere there is none (one present is ignored).
- \`keys.json\`: the public keys that sign digests, the same document Backplane serves at
  \`/.well-known/backplane-audit-keys.json\`.
- \`export.json\`: what was asked for: \`tenantId\`, \`kind\`, \`fromDigest\`, \`toDigest\`, \`from\`,
  \`to\`, \`filters\` and \`complete\`. \`complete\` is true when no filter other than time or digest
  periods was given, so every event of the period is here. It is not signed: check that it says what
  you asked for. \`kind\` is one of:
  - \`digest-periods\`: an *export of digest periods*: exactly the tenant's events of the periods of
    the digests \`fromDigest\` to \`toDigest\` (their sequence numbers in the tenant's chain, from 1,
    both included), chosen by log position, unfiltered; \`from\` and \`to\` are null.
  - \`full\`: a *full export*: \`"complete": true\`, \`"from": null\`, \`"to": null\`, no digest
    numbers: the tenant's whole history up to when the export started.
  - \`time-bounded\`: the events that occurred between \`from\` and \`to\`, unfiltered otherwise.
  - \`filtered\`: \`"complete": false\`, a filter of type, organization, plan, credential or actor.

  The kind must match the other fields (\`fromDigest\` and \`toDigest\` both numbers mean
  \`digest-periods\`; one of them without the other matches no kind; else \`complete\` false means
  \`filtered\`; else a \`from\` or \`to\` means \`time-bounded\`; else \`full\`). A bundle made before
  kinds were named has no \`kind\`, \`fromDigest\` or \`toDigest\`: absent is null, and the kind follows
  from the other fields. The export
  *starts at the beginning of the history* when it is of digest periods with \`fromDigest\` 1, or of
  another kind with \`from\` null.
- \`VERIFY.md\`: this text.

## 1. Each event's hash

An event line is \`{ "id", "type", "data", "metadata", "stream", "revision", "position", "recordedAt",
"previousHash", "hash" }\`. \`data\` and \`metadata\` are the values exactly as recorded (their key
order in the file does not matter: the canonical form below sorts them).

**Canonical JSON** of a value: \`null\`, \`true\`, \`false\`, numbers and strings are written as
ECMAScript's \`JSON.stringify\` writes them (strings in double quotes, with \`\\"\`, \`\\\\\`, \`\\b\`,
\`\\f\`, \`\\n\`, \`\\r\`, \`\\t\` escaped, other characters below U+0020 as \`\\u00XX\` with lowercase hex,
lone surrogates as \`\\udXXX\`, everything else as itself; numbers in their shortest round-trip form, such
as \`1\`, \`0.5\`, \`-3\`, \`1e+21\`). An array is \`[\` its elements' canonical forms joined by \`,\` \`]\`. An
object is \`{\` its members joined by \`,\` \`}\`, each member written \`"key":value\` (the key as a JSON
string, the value canonical), members sorted by key, comparing keys as sequences of UTF-16 code
units (what ECMAScript's default \`Array.prototype.sort\` does). No whitespace anywhere.

**Content hash**: the lowercase hex SHA-256 of the UTF-8 bytes of the canonical JSON of the object
\`{ "data": <data>, "id": <id>, "metadata": <metadata>, "type": <type> }\`, that is of the text
\`{"data":…,"id":"…","metadata":…,"type":"…"}\`.

**Chain hash**: the lowercase hex SHA-256 of the UTF-8 bytes of the text

    <previousHash>|<stream>|<revision>|<content hash>

the four joined by a vertical bar (U+007C), \`revision\` in decimal without leading zeros. The event's
\`hash\` must equal it. \`previousHash\` is the \`hash\` of the event before it in the same stream; the
first event of a stream (revision 0) has 64 zeros (\`0000…0000\`) as its \`previousHash\`.

Every event's \`metadata.tenantId\` must be the export's \`tenantId\`, the tenant of its digests
(step 4): an event of another tenant does not belong in the file.

## 2. Each stream's chain

Group the events by \`stream\`, keeping the file's order. Within a stream:

- revisions must increase by exactly 1 from one event to the next;
- each event's \`previousHash\` must equal the \`hash\` of the event before it in the file;
- when \`complete\` is true and the export starts at the beginning of the history, the first event
  of every stream in the file must be its revision 0;
- otherwise the first event of a stream in the file may start mid-stream: its \`previousHash\` is
  taken as given (it is covered by its own hash), unless its revision is 0, when it must be 64 zeros.

When \`export.json\` says \`"complete": false\` (the export was filtered by type, organization,
plan, credential or actor), a stream may skip revisions: after a gap, the next event's
\`previousHash\` is taken as given. Every event's own hash is still checked.

Across streams, the file is in log order: each event's \`position\` must come after the previous
line's. A position is two unsigned decimal integers, written \`<a>-<b>\` (PostgreSQL event store) or
\`C<a>/P<b>\` (EventStoreDB); compare two positions by \`a\`, then by \`b\`, as numbers (they can
exceed 2^53: compare them as big integers or as digit strings of equal length).

An event whose hash does not recompute was altered; a revision missing or out of order in a stream
means an event was removed or events were reordered.

## 3. Each digest's signature

A digest line is \`{ "payload": "<JSON text>", "signature": "<base64>", "keyId": "<id>" }\`. The
signature is Ed25519 (RFC 8032, pure, no pre-hash) over exactly the UTF-8 bytes of the
\`payload\` string, as the string stands (do not re-serialise it). Find the key whose \`keyId\`
matches in \`keys.json\` (\`{ "keys": [ { "keyId", "algorithm": "Ed25519", "publicKeyPem", "createdAt",
"retiredAt" } ] }\`; a retired key still verifies the digests it signed). With openssl:

    # the payload's exact bytes, no newline added; the signature's raw 64 bytes; the key as PEM
    jq -j '.payload' line.json > payload.txt
    jq -r '.signature' line.json | base64 -d > sig.bin
    jq -r --arg k "$KEY_ID" '.keys[] | select(.keyId == $k) | .publicKeyPem' keys.json > key.pem
    openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in payload.txt -sigfile sig.bin

which prints \`Signature Verified Successfully\`. The digest's \`periodEnd\` (step 4) must lie within
its key's validity: at or after the key's \`createdAt\`, and at or before its \`retiredAt\` when that
is not null (compare them as instants). \`anchor.json\`, when the bundle has one, is checked the same
way.

## 4. The digest chain

Parse each payload: \`{ "tenantId", "periodStart", "periodEnd", "eventCount", "logPosition",
"previousDigestHash", "streams": [ { "stream", "revision", "hash" } ] }\`. Digests form a chain of
their own, oldest first: each one's \`previousDigestHash\` must equal the lowercase hex SHA-256 of
the previous digest's \`payload\` string (its UTF-8 bytes, as in the file). The first digest a
tenant ever had has 64 zeros there; the first digest in this file may start mid-chain, and its
\`previousDigestHash\` is then taken as given, except when the export starts at the beginning of the
history (see "Files"): then the file starts with the tenant's first digest and its
\`previousDigestHash\` must be 64 zeros (else digests were removed from the start). In an export of
digest periods the file must hold exactly \`toDigest\` - \`fromDigest\` + 1 digests, the one on
line n being digest \`fromDigest\` + n - 1 (as \`export.json\` numbers them: the numbers are not
signed, the chain is); when \`fromDigest\` is more than 1 the first one is anchored on
\`anchor.json\` (below). Each digest's \`periodStart\` must equal the \`periodEnd\` of the digest
before it. Every digest must belong to the export's \`tenantId\`. A period with no events still has
a digest, so a digest removed from the middle breaks the chain.

**The anchor** (an export of digest periods whose \`fromDigest\` is more than 1). The bundle must
hold \`anchor.json\` (else verification fails), a signed digest checked as in step 3, whose payload's
\`tenantId\` must be the export's. It is the chain's link before the first digest of
\`digests.jsonl\`: that digest's \`previousDigestHash\` must be the lowercase hex SHA-256 of the
anchor's \`payload\` string, and its \`periodStart\` the anchor's \`periodEnd\`; a first digest that
names 64 zeros there is the tenant's first, not digest \`fromDigest\`, and fails. The anchor's
\`logPosition\` is where the first period starts: every event of \`events.jsonl\` whose \`position\` is
at or before it fails (it comes from before the export's periods), and so does a first digest whose
\`logPosition\` lies before it. When \`fromDigest\` is 1 there is no anchor: the first digest must
name 64 zeros (see above). So the checked chain runs anchor → first digest → … → last digest; to
know that it is the stretch of the chain you asked for, compare the anchor or the last digest with
one you obtained independently (\`auditDigests\`).

A bundle without any digest proves nothing: verification fails when \`digests.jsonl\` is empty.

## 5. Signed heads against the events

Each digest's \`streams\` lists, for every stream that changed in its period, the stream's last
\`revision\` and \`hash\` at the end of the period, as signed then. For each such head, when
\`events.jsonl\` holds that stream's event at that revision, its \`hash\` must equal the signed
one. A stream rewritten after the digest was signed, even with every chain hash recomputed so that
steps 1 and 2 pass, fails here.

## 6. Nothing missing (a full export, an export of digest periods)

A digest's period is, by log position, everything after the previous digest's \`logPosition\` up to
and including its own (the tenant's first digest: from the start of the log; a \`logPosition\` of
null: nothing). Give each event of \`events.jsonl\` the first digest whose \`logPosition\` is at or
after its \`position\`. In a full export and in an export of digest periods, for every digest:

- the number of events given to it must equal its \`eventCount\`;
- the streams of those events must be exactly the streams of its \`streams\` list, and each
  stream's last event among them must be at the signed \`revision\` (and, by step 5, hash).

An event removed from a signed period (a stream's first or last event, a whole stream) fails here
or in step 2; an event added to one fails here too. Report the digest whose count or heads differ.

In an export of digest periods, in addition, no event may come after the last digest's
\`logPosition\` (an event there was added), nor at or before the anchor's \`logPosition\` (step 4:
an event from before the first period, put in the place of one removed from it, would keep the
count). So each digest's period holds exactly the tenant's events it counts, no more and no fewer.

In the other kinds of export, events whose \`position\` comes after the last digest's
\`logPosition\` were written after the newest digest: no signature covers them. Their hashes and chains are checked (steps 1 and 2) but
events removed from that tail, or the tail itself, cannot be detected. Report how many there are;
a digest made just before exporting (\`createAuditDigest\`) leaves none.

## What a bundle can and cannot prove

- Every event present is as recorded when its stream's next signed head was signed (steps 1, 2, 5).
- A full export proves, in addition, that no event of a signed period was removed or added (step 6).
- An export of digest periods proves the same for exactly its periods: the file holds every event of
  the tenant in each of them, and nothing else (step 6), along the signed chain anchor → first
  digest → … → last (step 4). The sequence numbers \`fromDigest\` and \`toDigest\` are as
  \`export.json\` claims them, not signed: to know the chain is the stretch you asked for, compare
  its anchor (or, from digest 1, its first digest) or its last digest with one you obtained
  independently.
- An export with \`from\` or \`to\` selects events by the time they occurred (\`occurredAt\`), while
  digests cover log positions: the periods at either edge are only partly in the file, so the
  counts of step 6 are not checked. Within the file, streams must still be gap-free when
  \`complete\` is true; an event left out at an edge of the time window cannot be detected.
- An export filtered by type, organization, plan, credential or actor (\`"complete": false\`)
  proves only that the events present are authentic (steps 1 and 5): which events the filter left
  out cannot be checked from the bundle.
- The newest digests and every event after them can be cut off together without trace in the
  bundle: compare the last digest of \`digests.jsonl\` with one you obtained independently (the
  \`auditDigests\` query at the time of the export, or the operator's digest folder).
- The keys: \`keys.json\` comes from the same server as the events. Check that each \`keyId\` used is
  one you obtained independently (for instance \`/.well-known/backplane-audit-keys.json\` fetched at
  an earlier time, or from the operator out of band). Each digest's \`periodEnd\` must lie within
  its key's \`createdAt\` .. \`retiredAt\` (step 3).

## Outcome

The export is intact when every step passes (and, for a full export or an export of digest periods,
step 6 too). Report the first event (its \`id\`, \`stream\` and \`revision\`) or digest (its line
number in \`digests.jsonl\`, or \`anchor.json\`; its sequence number too where it is known: in an
export of digest periods, as \`export.json\` numbers it, or in an export that starts at the
beginning of the history) that fails, and which check failed.
Backplane's own verifier does exactly this: \`backplane verify-export <bundle.tar.gz>\`
(\`npm run cli -- verify-export <bundle.tar.gz>\`).
`;
