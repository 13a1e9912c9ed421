import { randomUUID } from 'node:crypto';
import { DomainError } from '../core/errors';
import { fingerprintOf, password, passwordStream, type PasswordCommand } from '../domain/password';
import { passwordById, passwordNameTaken, passwordUsers } from '../queries/catalog';
import type { PasswordView } from '../queries/views';
import { write, writeWith, type AppDeps, type Request } from './deps';
import { found } from './found';
import { executeLocked } from './locked-command';

export async function storePassword(deps: AppDeps, request: Request, input: { name: string; secret: string; description: string }): Promise<PasswordView> {
  const { tenantId } = request.principal;
  const passwordId = randomUUID();
  const secretId = await deps.vault.put(tenantId, input.secret);
  const stream = passwordStream(passwordId);
  await writeWith(
    deps,
    stream,
    () =>
      executeLocked(
        deps,
        request,
        password,
        stream,
        async (): Promise<PasswordCommand> => ({
          type: 'StorePassword',
          data: {
            passwordId,
            name: input.name.trim(),
            description: input.description,
            fingerprint: fingerprintOf(input.secret),
            secretId,
            nameTaken: await passwordNameTaken(deps.db, tenantId, input.name),
          },
        }),
      ),
    () => deps.vault.discard(secretId),
  );
  return found(await passwordById(deps.db, tenantId, passwordId), 'password', passwordId);
}

/** A new secret replaces the old one everywhere the entry is used: users refer to the entry, not the secret. */
export async function changePassword(deps: AppDeps, request: Request, id: string, input: { secret?: string; description?: string }): Promise<PasswordView> {
  const { tenantId } = request.principal;
  found(await passwordById(deps.db, tenantId, id), 'password', id);
  if (input.secret === undefined && input.description === undefined)
    throw new DomainError('INVALID_INPUT', 'give a new secret, a new description, or both', 'secret');
  const secretId = input.secret === undefined ? undefined : await deps.vault.put(tenantId, input.secret);
  const stream = passwordStream(id);
  await writeWith(
    deps,
    stream,
    () =>
      write(deps, request, password, stream, {
        type: 'ChangePassword',
        data: { passwordId: id, secretId, fingerprint: input.secret === undefined ? undefined : fingerprintOf(input.secret), description: input.description },
      }),
    async () => {
      if (secretId !== undefined) await deps.vault.discard(secretId);
    },
  );
  return found(await passwordById(deps.db, tenantId, id), 'password', id);
}

export async function deletePassword(deps: AppDeps, request: Request, id: string): Promise<string> {
  const { tenantId } = request.principal;
  found(await passwordById(deps.db, tenantId, id), 'password', id);
  await executeLocked(
    deps,
    request,
    password,
    passwordStream(id),
    async (): Promise<PasswordCommand> => ({
      type: 'DeletePassword',
      data: { passwordId: id, usedBy: await passwordUsers(deps.db, tenantId, id) },
    }),
  );
  return id;
}
