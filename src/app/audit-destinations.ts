import { randomUUID } from 'node:crypto';
import { admissibleUrl, auditDestination, auditDestinationStream, type AuditDestinationCommand } from '../domain/audit-destination';
import {
  auditDestinationById,
  auditDestinationCount,
  auditDestinationNameTaken,
  auditDestinationsOf,
  type AuditDestinationView,
} from '../queries/audit-destinations';
import { passwordSecretId } from '../queries/catalog';
import { writeWith, type AppDeps, type Request } from './deps';
import { found } from './found';
import { executeLocked } from './locked-command';

export interface AddAuditDestinationInput {
  name: string;
  url: string;
  eventTypes: string[] | null;
  passwordId: string;
}

/**
 * Adds a SIEM destination. It receives the events recorded after its addition, not the history
 * before it (an export serves that). Its secret stays in the password manager, and its URL, which
 * may carry a collector's token, is kept encrypted in the vault: the history holds it masked.
 */
export async function addAuditDestination(deps: AppDeps, request: Request, input: AddAuditDestinationInput): Promise<AuditDestinationView> {
  const { tenantId } = request.principal;
  const id = randomUUID();
  const stream = auditDestinationStream(id);
  // Kept as the decider will judge it (it refuses the same URL again): what is delivered to is what was hashed.
  const urlSecretId = await deps.vault.put(tenantId, admissibleUrl(input.url));
  await writeWith(
    deps,
    stream,
    () =>
      executeLocked(
        deps,
        request,
        auditDestination,
        stream,
        async (): Promise<AuditDestinationCommand> => ({
          type: 'AddAuditDestination',
          data: {
            id,
            name: input.name,
            url: input.url,
            urlSecretId,
            eventTypes: input.eventTypes,
            passwordId: input.passwordId,
            addedAt: new Date().toISOString(),
            known: {
              nameTaken: await auditDestinationNameTaken(deps.db, tenantId, input.name),
              passwordExists: (await passwordSecretId(deps.db, tenantId, input.passwordId)) !== null,
              destinations: await auditDestinationCount(deps.db, tenantId),
            },
          },
        }),
      ),
    () => deps.vault.discard(urlSecretId),
  );
  return found(await auditDestinationById(deps.db, tenantId, id), 'audit destination', id);
}

/** Removes a destination: deliveries to it stop; what it received stays with it. */
export async function removeAuditDestination(deps: AppDeps, request: Request, id: string): Promise<string> {
  found(await auditDestinationById(deps.db, request.principal.tenantId, id), 'audit destination', id);
  await executeLocked(
    deps,
    request,
    auditDestination,
    auditDestinationStream(id),
    async (): Promise<AuditDestinationCommand> => ({
      type: 'RemoveAuditDestination',
      data: { id },
    }),
  );
  return id;
}

export function auditDestinations(deps: AppDeps, tenantId: string): Promise<AuditDestinationView[]> {
  return auditDestinationsOf(deps.db, tenantId);
}
