import type { Migration } from '../../sql/migrate';

// Appends from concurrent callers of one process, in one transaction and one round trip, in the
// order they came; each keeps its own outcome (a refused one writes nothing and does not stop
// the others). A group does not wait for other writers' stream locks: every one is tried first,
// in lock order and before the transaction has an id, and the appends of a stream another
// writer holds are answered 'busy' and not run; any other lock wait (an event id that an open
// transaction is inserting) ends after 20 ms with lock_not_available and undoes the group. The
// adapter sends busy appends, and those of an undone group, one by one. The transaction's own
// lock timeout is given back at the end, for what it does next.
const APPEND_GROUP = `append_group(p_appends jsonb)
   RETURNS TABLE (g_index integer, g_status text, g_revision text, g_tx text, g_seq text, g_detail text)
   LANGUAGE plpgsql AS $fn$
   DECLARE
     v_item jsonb;
     v_ord bigint;
     v_key integer;
     v_busy integer[] := '{}';
     v_lock_timeout text := current_setting('lock_timeout');
   BEGIN
     FOR v_key IN
       SELECT DISTINCT hashtext(current_schema() || ':' || (x.item->>'stream')) AS k
         FROM jsonb_array_elements(p_appends) AS x(item) ORDER BY k
     LOOP
       IF NOT pg_try_advisory_xact_lock(hashtext('backplane-stream'), v_key) THEN
         v_busy := v_busy || v_key;
       END IF;
     END LOOP;
     PERFORM set_config('lock_timeout', '20ms', true);
     FOR v_item, v_ord IN
       SELECT x.item, x.ord FROM jsonb_array_elements(p_appends) WITH ORDINALITY AS x(item, ord) ORDER BY x.ord
     LOOP
       g_index := v_ord - 1;
       IF hashtext(current_schema() || ':' || (v_item->>'stream')) = ANY (v_busy) THEN
         g_status := 'busy';
         g_revision := NULL; g_tx := NULL; g_seq := NULL; g_detail := NULL;
       ELSE
         SELECT a.o_status, a.o_revision, a.o_tx, a.o_seq, a.o_detail INTO g_status, g_revision, g_tx, g_seq, g_detail
           FROM append_events(v_item->>'stream', v_item->>'expected', v_item->'events', false) a;
       END IF;
       RETURN NEXT;
     END LOOP;
     PERFORM set_config('lock_timeout', v_lock_timeout, true);
   END
   $fn$`;

/**
 * The event log's tables. Global order is (tx_id, seq): the writing transaction's id, then a
 * sequence. Readers only read below the oldest transaction still open
 * (pg_snapshot_xmin(pg_current_snapshot())), and every transaction id handed out later is
 * larger, so no event can ever appear behind a position a reader has passed. A bare sequence
 * would not do: sequence values are taken in one order and committed in another.
 *
 * A transaction that waited for a stream's row lock would already hold its id, so an older
 * transaction could write revision n+1 after a younger one wrote n, and the global order would
 * invert the stream. Appends therefore queue on an advisory lock per stream first, which takes
 * no transaction id: the id comes after the previous writer has committed, and is newer. A
 * caller's transaction that already had its id is the exception: each stream records the id of
 * the last transaction that wrote it (last_tx), and an older one is refused with
 * serialization_failure, to be run again.
 */
const v1: Migration = [
  `CREATE TABLE event_streams (
     name text PRIMARY KEY,
     revision bigint NOT NULL,
     last_hash text NOT NULL,
     last_tx xid8 NOT NULL DEFAULT '0')`,
  `CREATE TABLE events (
     seq bigserial NOT NULL,
     tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
     id uuid PRIMARY KEY,
     stream text NOT NULL,
     revision bigint NOT NULL,
     type text NOT NULL,
     data jsonb NOT NULL,
     metadata jsonb NOT NULL,
     hash text NOT NULL,
     recorded_at timestamptz NOT NULL DEFAULT now(),
     UNIQUE (stream, revision))`,
  `CREATE UNIQUE INDEX events_global_order ON events (tx_id, seq)`,
  // One round trip per append: lock the stream, recognise a retry, check the expected revision,
  // chain the hashes (the same function as hash-chain.ts chainHash) and insert. It answers with a
  // status in OUT parameters instead of raising, and writes nothing unless the status is 'ok'.
  `CREATE FUNCTION append_events(p_stream text, p_expected text, p_events jsonb, p_general boolean,
     OUT o_status text, OUT o_revision text, OUT o_tx text, OUT o_seq text, OUT o_detail text)
   LANGUAGE plpgsql AS $fn$
   DECLARE
     v_count integer := jsonb_array_length(p_events);
     v_revision bigint;
     v_hash text;
     v_last_tx xid8;
     v_found integer;
     v_runs integer;
     v_foreign integer;
     v_base bigint;
     v_event jsonb;
     v_seq bigint;
   BEGIN
     PERFORM pg_advisory_xact_lock(hashtext('backplane-stream'), hashtext(current_schema() || ':' || p_stream));
     -- The common case, one new event on an existing stream: one statement locks the stream,
     -- checks the expected revision, advances it and chains the hash. If the event's id is
     -- already recorded, the insert fails on the primary key, everything is undone, and the
     -- adapter calls again with p_general, which recognises retries.
     IF NOT p_general AND v_count = 1 AND p_expected <> 'no_stream' THEN
       UPDATE event_streams s
          SET revision = s.revision + 1,
              last_tx = pg_current_xact_id(),
              last_hash = encode(sha256(convert_to(s.last_hash || '|' || p_stream || '|' || (s.revision + 1)::text || '|' || (p_events->0->>'contentHash'), 'UTF8')), 'hex')
        WHERE s.name = p_stream AND s.revision >= 0 AND s.last_tx <= pg_current_xact_id()
          AND (p_expected IN ('any', 'stream_exists') OR (p_expected ~ '^[0-9]+$' AND s.revision = p_expected::bigint))
        RETURNING s.revision, s.last_hash INTO v_revision, v_hash;
       IF FOUND THEN
         INSERT INTO events (id, stream, revision, type, data, metadata, hash)
           VALUES ((p_events->0->>'id')::uuid, p_stream, v_revision, p_events->0->>'type', p_events->0->'data', p_events->0->'metadata', v_hash)
           RETURNING events.seq INTO v_seq;
         o_status := 'ok';
         o_revision := v_revision::text;
         o_tx := pg_current_xact_id()::text;
         o_seq := v_seq::text;
         RETURN;
       END IF;
     END IF;

     SELECT s.revision, s.last_hash, s.last_tx INTO v_revision, v_hash, v_last_tx FROM event_streams s WHERE s.name = p_stream FOR UPDATE;
     IF NOT FOUND THEN
       IF p_expected NOT IN ('any', 'no_stream') THEN
         o_status := 'wrong_expected_version';
         RETURN;
       END IF;
       INSERT INTO event_streams (name, revision, last_hash) VALUES (p_stream, -1, repeat('0', 64))
         ON CONFLICT (name) DO NOTHING;
       SELECT s.revision, s.last_hash, s.last_tx INTO v_revision, v_hash, v_last_tx FROM event_streams s WHERE s.name = p_stream FOR UPDATE;
     END IF;

     SELECT count(*), count(DISTINCT e.revision - x.ord), count(*) FILTER (WHERE e.stream <> p_stream), min(e.revision - x.ord + 1)
       INTO v_found, v_runs, v_foreign, v_base
       FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(ev, ord)
       -- OFFSET 0 keeps this one primary-key lookup per event: a plain join is planned for a
       -- guessed 100 ids as a hash join over the whole table, and plpgsql keeps that plan.
       CROSS JOIN LATERAL (SELECT e.revision, e.stream FROM events e WHERE e.id = (x.ev->>'id')::uuid OFFSET 0) e;
     IF v_found > 0 THEN
       IF v_found = v_count AND v_runs = 1 AND v_foreign = 0
          AND (p_expected IN ('any', 'stream_exists')
               OR (p_expected = 'no_stream' AND v_base = 0)
               OR (p_expected ~ '^[0-9]+$' AND v_base = p_expected::bigint + 1)) THEN
         SELECT 'idempotent', e.revision::text, e.tx_id::text, e.seq::text INTO o_status, o_revision, o_tx, o_seq
           FROM events e WHERE e.stream = p_stream AND e.revision = v_base + v_count - 1;
         RETURN;
       END IF;
       IF p_expected !~ '^[0-9]+$' OR v_revision = p_expected::bigint THEN
         DELETE FROM event_streams s WHERE s.name = p_stream AND s.revision = -1;
         o_status := 'duplicate_id';
         SELECT string_agg(e.id::text, ',') INTO o_detail FROM events e
           WHERE e.id IN (SELECT (x.ev->>'id')::uuid FROM jsonb_array_elements(p_events) x(ev));
         RETURN;
       END IF;
     END IF;

     IF NOT (p_expected = 'any'
             OR (p_expected = 'no_stream' AND v_revision = -1)
             OR (p_expected = 'stream_exists' AND v_revision >= 0)
             OR (p_expected ~ '^[0-9]+$' AND v_revision = p_expected::bigint)) THEN
       o_status := 'wrong_expected_version';
       o_revision := CASE WHEN v_revision >= 0 THEN v_revision::text END;
       RETURN;
     END IF;

     IF v_last_tx > pg_current_xact_id() THEN
       RAISE EXCEPTION 'stream % was written by a transaction newer than this one', p_stream
         USING ERRCODE = 'serialization_failure';
     END IF;
     FOR v_event IN SELECT x.ev FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(ev, ord) ORDER BY x.ord LOOP
       v_revision := v_revision + 1;
       v_hash := encode(sha256(convert_to(v_hash || '|' || p_stream || '|' || v_revision::text || '|' || (v_event->>'contentHash'), 'UTF8')), 'hex');
       INSERT INTO events (id, stream, revision, type, data, metadata, hash)
         VALUES ((v_event->>'id')::uuid, p_stream, v_revision, v_event->>'type', v_event->'data', v_event->'metadata', v_hash)
         RETURNING events.seq INTO v_seq;
     END LOOP;
     UPDATE event_streams SET revision = v_revision, last_hash = v_hash, last_tx = pg_current_xact_id() WHERE name = p_stream;
     o_status := 'ok';
     o_revision := v_revision::text;
     o_tx := pg_current_xact_id()::text;
     o_seq := v_seq::text;
   END
   $fn$`,
  // One group of appends in one round trip: see APPEND_GROUP.
  `CREATE FUNCTION ${APPEND_GROUP}`,
];

/** append_group gives back the transaction's lock timeout: what a transaction does after it (read models kept inline) waits for locks as anywhere else. */
const v2: Migration = [`CREATE OR REPLACE FUNCTION ${APPEND_GROUP}`];

// A group's transaction with an append hook, in one round trip: the hook's first step (a function
// of one text argument, named by the adapter), the group, and what the hook needs once the events
// are recorded: each append's events as readers read them. The first step runs before anything is
// written, and each statement of a function takes its own snapshot (READ COMMITTED), so the step
// and the appends see what they saw as separate statements. g_alone tells whether any transaction
// with an older id was still open once this one had its id: none can start later (ids only grow),
// so when none was, whatever this transaction writes is readable as soon as it commits.
const APPEND_GROUP_HOOKED = `append_group_hooked(p_appends jsonb, p_first text, p_first_arg text)
   RETURNS TABLE (g_index integer, g_status text, g_revision text, g_tx text, g_seq text, g_detail text,
                  g_first jsonb, g_events jsonb, g_alone boolean)
   LANGUAGE plpgsql AS $fn$
   DECLARE
     v_first jsonb;
     v_rows jsonb;
     v_alone boolean;
   BEGIN
     EXECUTE format('SELECT to_jsonb(f) FROM %I($1) AS f', p_first) INTO v_first USING p_first_arg;
     SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.g_index), '[]') INTO v_rows FROM append_group(p_appends) AS a;
     SELECT coalesce(pg_snapshot_xmin(pg_current_snapshot()) >= pg_current_xact_id_if_assigned(), false) INTO v_alone;
     RETURN QUERY
       SELECT r.g_index, r.g_status, r.g_revision, r.g_tx, r.g_seq, r.g_detail, v_first,
              CASE WHEN r.g_status = 'ok' THEN (
                SELECT jsonb_agg(jsonb_build_object('id', e.id::text, 'stream', e.stream, 'revision', e.revision::text, 'type', e.type,
                         'data', e.data, 'metadata', e.metadata, 'tx', e.tx_id::text, 'seq', e.seq::text, 'recorded_at', e.recorded_at,
                         'hash', e.hash) ORDER BY e.seq)
                  FROM jsonb_array_elements(p_appends->r.g_index->'events') AS x(ev)
                  -- One primary-key lookup per event (see append_events).
                  CROSS JOIN LATERAL (SELECT * FROM events e WHERE e.id = (x.ev->>'id')::uuid OFFSET 0) e)
              END,
              v_alone
         FROM jsonb_to_recordset(v_rows) AS r(g_index integer, g_status text, g_revision text, g_tx text, g_seq text, g_detail text)
        ORDER BY r.g_index;
   END
   $fn$`;

/** A group with an append hook in one round trip: see APPEND_GROUP_HOOKED. */
const v3: Migration = [`CREATE FUNCTION ${APPEND_GROUP_HOOKED}`];

/**
 * Each tenant's events in log order, by the tenant their metadata names: a verification of one
 * tenant reads its events alone, in order, from the log itself (no read model tells it which they
 * are). Built in the migration's transaction, which holds appends back while it runs (seconds per
 * million events). By the MD5 of the tenant's text: an index entry has a bound (about 2.7 KB), and
 * metadata's tenantId, as an event written outside Backplane may hold it, has none; an event past
 * it would be refused by every append, and the migration by any such event already written.
 */
const v4: Migration = [`CREATE INDEX events_tenant_order ON events (md5(metadata ->> 'tenantId'), tx_id, seq)`];

export const eventStoreMigrations: readonly Migration[] = [v1, v2, v3, v4];
