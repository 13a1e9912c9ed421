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
 * checkpoint moves only after, so a restart resumes with the first event not yet taken. The
 * caller holds the destination's lease. Resolves when stopped; rejects when reading fails.
 */
export function deliverDestination(deps: DeliveryDeps, destination: AuditDestinationView, settings: DeliverySettings) {
  let stopped = false;
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

  const secret = async (): Promise<string | null> => {
    const secretId = await passwordSecretId(deps.db, destination.tenantId, destination.passwordId);
    return secretId === null ? null : deps.vault.reveal(destination.tenantId, secretId);
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
    const key = await secret();
    if (key === null) return { ok: false, error: `password entry ${destination.passwordId} is gone: add the destination again with another` };
    const to = await target();
    if (to === null) return { ok: false, error: 'the URL is no longer in the vault: add the destination again' };
    const { body, signature } = signedDelivery(event, previous, key);
    const headers = { 'x-backplane-event-id': event.id, 'x-backplane-event-type': event.type, 'x-backplane-signature': signature };
    return postSigned(to, body, headers, settings.timeoutMs);
  };

  /** Until a 2xx, or stopped (false). */
  const deliver = async (event: RecordedEvent, checkpoint: Position): Promise<boolean> => {
    const previous = await previousHash(event);
    while (!stopped) {
      const outcome = await attempt(event, previous);
      if (outcome.ok) return true;
      const attempts = await deps.states.failed(destination.tenantId, destination.id, checkpoint, outcome.error);
      await pause(backoffMs(attempts, settings.minBackoffMs, settings.maxBackoffMs));
    }
    return false;
  };

  const wanted = (event: RecordedEvent) =>
    event.metadata.tenantId === destination.tenantId && (destination.eventTypes === null || destination.eventTypes.includes(event.type));

  /** Moves the checkpoint from `saved`; throws, ending the delivery, when another holder moved it first. */
  const advance = async (checkpoint: Position, delivered: Position | null) => {
    const from = saved as Position;
    if (!(await deps.states.advanced(destination.tenantId, destination.id, from, checkpoint, delivered))) {
      stopped = true;
      throw new Error('the checkpoint was moved by another process: this one no longer holds the destination');
    }
    saved = checkpoint;
  };

  let subscription: Subscription | undefined;
  const done = (async () => {
    const from = (await deps.states.checkpoint(destination.id)) ?? destination.addedPosition;
    saved = from;
    if (stopped) return;
    subscription = deps.store.subscribeToAll(
      { fromPosition: from, filter: destination.eventTypes === null ? undefined : { eventTypes: destination.eventTypes }, maxBatch: 100 },
      async (batch) => {
        let checkpoint = saved ?? from;
        for (const event of batch.events) {
          if (stopped) return;
          if (wanted(event)) {
            // Stopped (its lease lost, maybe) after a 2xx: the checkpoint is the next holder's now, and it sends the event again.
            if (!(await deliver(event, checkpoint)) || stopped) return;
            checkpoint = event.position;
            await advance(checkpoint, event.position);
          }
          remember(event);
        }
        if (stopped || saved === batch.position) return;
        // Events of other tenants and types read past: the next start need not read them again.
        await advance(batch.position, null);
      },
    );
    await subscription.done;
  })();

  return {
    done,
    /** Leaves off after the attempt under way; an event not yet taken stays for the next holder. */
    async stop() {
      stopped = true;
      wake?.();
      await subscription?.stop();
      await done.catch(() => undefined);
    },
  };
}
