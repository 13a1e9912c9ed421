import { createHmac } from 'node:crypto';
import { exportLine } from '../../audit-export/export-line';
import type { EventStore, Position, RecordedEvent, Subscription } from '../../eventstore/types';
import type { AuditDestinationView } from '../../queries/audit-destinations';
import { passwordSecretId } from '../../queries/catalog';
import { SecretUnavailableError, type SecretVault } from '../../secrets/vault';
import type { SqlExecutor } from '../../sql/database';
import { backoffMs } from './backoff';
import type { DeliveryStates } from './delivery-state';
import { type PostOutcome, postSigned } from './post';

export interface DeliverySettings {
  /** Each request's deadline (ms). */
  timeoutMs: number;
  /** The first wait after a failed attempt, doubled after each further one up to maxBackoffMs (ms). */
  minBackoffMs: number;
  maxBackoffMs: number;
  /**
   * The checkpoint is written after this many deliveries or this long after the first one not yet
   * written, whichever comes first, and always before a wait on a failing destination or a stop:
   * a process killed outright sends again at most what it had not written.
   */
  checkpointEvents: number;
  checkpointMs: number;
}

export interface DeliveryDeps {
  store: EventStore;
  db: SqlExecutor;
  vault: SecretVault;
  states: DeliveryStates;
}

const GENESIS = '0'.repeat(64);
/** Stream heads remembered to give each event its previous hash without a read; beyond this many, forgotten. */
const REMEMBERED_STREAMS = 10_000;

/** The body a destination receives for an event, and the signature of exactly those bytes under its secret. */
export function signedDelivery(event: RecordedEvent, previousHash: string, secret: string): { body: string; signature: string } {
  const body = exportLine({ ...event, previousHash });
  return { body, signature: `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}` };
}

/**
 * Delivers one destination's events in log order, one at a time, from its checkpoint (or, for a
 * new one, from its addition). Each event is retried until the destination answers 2xx; the
 * checkpoint moves only past events answered so, in batches (see DeliverySettings), so a restart
 * resumes with the first event not yet written as taken. The caller holds the destination's lease.
 * Resolves when stopped; rejects when reading or writing the checkpoint fails.
 */
export function deliverDestination(deps: DeliveryDeps, destination: AuditDestinationView, settings: DeliverySettings) {
  let stopped = false;
  /** The lease is lost: the checkpoint is the next holder's, this process writes it no more. */
  let leaseLost = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const heads = new Map<string, { revision: bigint; hash: string }>();
  let saved: Position | null = null;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const previousHash = async (event: RecordedEvent): Promise<string> => {
    if (event.revision === 0n) return GENESIS;
    const head = heads.get(event.stream);
    if (head && head.revision === event.revision - 1n) return head.hash;
    const [previous] = await deps.store.readStream(event.stream, { fromRevision: event.revision - 1n, maxCount: 1 });
    return previous?.hash ?? GENESIS;
  };
  const remember = (event: RecordedEvent) => {
    if (heads.size >= REMEMBERED_STREAMS) heads.clear();
    heads.set(event.stream, { revision: event.revision, hash: event.hash });
  };

  // The HMAC key, kept in memory with the version of the password entry it came from. Which
  // version is current is asked again for each batch read and after each failed attempt (a
  // changed password signs from then on); the vault is read only when the version changed.
  let key: { secretId: string; secret: string } | null = null;
  let keyChecked = false;
  const secret = async (): Promise<string | null> => {
    if (keyChecked) return key?.secret ?? null;
    const secretId = await passwordSecretId(deps.db, destination.tenantId, destination.passwordId);
    if (secretId === null) key = null;
    else if (key?.secretId !== secretId) key = { secretId, secret: await deps.vault.reveal(destination.tenantId, secretId) };
    keyChecked = true;
    return key?.secret ?? null;
  };

  // The whole URL may carry the collector's token: read from the vault once, kept in memory only.
  let url: string | undefined;
  const target = async (): Promise<string | null> => {
    const secretId = destination.urlSecretId;
    if (secretId === null) return null;
    url ??= await deps.vault.reveal(destination.tenantId, secretId).catch((error: unknown) => {
      if (error instanceof SecretUnavailableError) return undefined;
      throw error;
    });
    return url ?? null;
  };

  const attempt = async (event: RecordedEvent, previous: string): Promise<PostOutcome> => {
    const hmacKey = await secret();
    if (hmacKey === null) return { ok: false, error: `password entry ${destination.passwordId} is gone: add the destination again with another` };
    const to = await target();
    if (to === null) return { ok: false, error: 'the URL is no longer in the vault: add the destination again' };
    const { body, signature } = signedDelivery(event, previous, hmacKey);
    const headers = { 'x-backplane-event-id': event.id, 'x-backplane-event-type': event.type, 'x-backplane-signature': signature };
    return postSigned(to, body, headers, settings.timeoutMs);
  };

  /** Moves the checkpoint from `saved`; throws, ending the delivery, when another holder moved it first. */
  const advance = async (checkpoint: Position, delivered: Position | null) => {
    const from = saved as Position;
    if (!(await deps.states.advanced(destination.tenantId, destination.id, from, checkpoint, delivered))) {
      stopped = true;
      throw new Error('the checkpoint was moved by another process: this one no longer holds the destination');
    }
    saved = checkpoint;
  };

  // Progress not yet written: how far the log is done, the last event the destination took, how
  // many it took, and since when. One write at a time, in order.
  let pending: { checkpoint: Position; delivered: Position | null; count: number; since: number } | null = null;
  let writing: Promise<void> = Promise.resolve();
  let flushTimer: NodeJS.Timeout | undefined;
  const flush = (): Promise<void> => {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    writing = writing.then(() => {
      const next = pending;
      pending = null;
      return next === null || leaseLost ? undefined : advance(next.checkpoint, next.delivered);
    });
    return writing;
  };
  /** Notes the log done through `checkpoint` (with `delivered` taken by the destination), and writes it when the batch is full or old enough. */
  const progress = async (checkpoint: Position, delivered: Position | null) => {
    pending ??= { checkpoint, delivered: null, count: 0, since: performance.now() };
    pending.checkpoint = checkpoint;
    if (delivered !== null) {
      pending.delivered = delivered;
      pending.count += 1;
    }
    if (pending.count >= settings.checkpointEvents || performance.now() - pending.since >= settings.checkpointMs) await flush();
  };
  /** A quiet log writes what is pending once it is old enough; a failed write ends the delivery. */
  const flushLater = () => {
    if (pending === null || flushTimer !== undefined || stopped) return;
    flushTimer = setTimeout(
      () => {
        flushTimer = undefined;
        flush().catch((error: unknown) => {
          failure ??= error;
          stopped = true;
          wake?.();
          void subscription?.stop();
        });
      },
      Math.max(0, settings.checkpointMs - (performance.now() - pending.since)),
    );
    flushTimer.unref();
  };

  /** Until a 2xx (true), or stopped (false). What was delivered before is written before each wait. */
  const deliver = async (event: RecordedEvent): Promise<boolean> => {
    const previous = await previousHash(event);
    while (!stopped) {
      const outcome = await attempt(event, previous);
      if (outcome.ok) return true;
      keyChecked = false;
      await flush();
      const attempts = await deps.states.failed(destination.tenantId, destination.id, saved as Position, outcome.error);
      await pause(backoffMs(attempts, settings.minBackoffMs, settings.maxBackoffMs));
    }
    return false;
  };

  const wanted = (event: RecordedEvent) =>
    event.metadata.tenantId === destination.tenantId && (destination.eventTypes === null || destination.eventTypes.includes(event.type));

  let subscription: Subscription | undefined;
  const done = (async () => {
    const from = (await deps.states.checkpoint(destination.id)) ?? destination.addedPosition;
    saved = from;
    if (stopped) return;
    subscription = deps.store.subscribeToAll(
      { fromPosition: from, filter: destination.eventTypes === null ? undefined : { eventTypes: destination.eventTypes }, maxBatch: 100 },
      async (batch) => {
        keyChecked = false;
        for (const event of batch.events) {
          if (stopped) return;
          if (wanted(event)) {
            if (!(await deliver(event))) return;
            // Taken (2xx): noted even when stopped meanwhile, and written before the stop ends.
            await progress(event.position, event.position);
            if (stopped) return;
          }
          remember(event);
        }
        if (stopped) return;
        // Events of other tenants and types read past: the next start need not read them again.
        if ((pending?.checkpoint ?? saved) !== batch.position) await progress(batch.position, null);
        flushLater();
      },
    );
    try {
      await subscription.done;
    } finally {
      // Delivered before the stop, or before reading failed: written, so the next holder does not send it again.
      await flush();
    }
    if (failure !== undefined) throw failure;
  })();

  return {
    done,
    /**
     * Leaves off after the attempt under way, writing what was delivered (unless `flush` is false:
     * the lease is lost, and what was not written is sent again by the next holder); an event not
     * yet taken stays for the next holder.
     */
    async stop(options: { flush?: boolean } = {}) {
      if (options.flush === false) leaseLost = true;
      stopped = true;
      wake?.();
      await subscription?.stop();
      await done.catch(() => undefined);
    },
  };
}
