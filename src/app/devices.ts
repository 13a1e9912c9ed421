import { randomUUID } from 'node:crypto';
import { device, deviceStream } from '../domain/device';
import { deviceById, deviceNameTaken } from '../queries/catalog';
import type { DeviceView } from '../queries/views';
import { execute, type AppDeps, type Request } from './deps';
import { found } from './found';

export async function registerDevice(deps: AppDeps, request: Request, input: { name: string }, options: { builtIn?: boolean; causationId?: string } = {}): Promise<DeviceView> {
  const { tenantId } = request.principal;
  const deviceId = randomUUID();
  const name = input.name.trim();
  await deps.tenantLock.run(tenantId, async () =>
   execute(
    deps,
    request,
    device,
    deviceStream(deviceId),
    { type: 'RegisterDevice', data: { deviceId, name, builtIn: options.builtIn ?? false, nameTaken: await deviceNameTaken(deps.db, tenantId, name) } },
    { causationId: options.causationId },
  ));
  return found(await deviceById(deps.db, tenantId, deviceId), 'device', deviceId);
}
