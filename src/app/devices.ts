import { randomUUID } from 'node:crypto';
import { device, deviceStream, type DeviceCommand } from '../domain/device';
import { deviceById, deviceNameTaken } from '../queries/catalog';
import type { DeviceView } from '../queries/views';
import type { AppDeps, Request } from './deps';
import { found } from './found';
import { executeLocked } from './locked-command';

export async function registerDevice(
  deps: AppDeps,
  request: Request,
  input: { name: string },
  options: { builtIn?: boolean; causationId?: string } = {},
): Promise<DeviceView> {
  const { tenantId } = request.principal;
  const deviceId = randomUUID();
  const name = input.name.trim();
  await executeLocked(
    deps,
    request,
    device,
    deviceStream(deviceId),
    async (): Promise<DeviceCommand> => ({
      type: 'RegisterDevice',
      data: { deviceId, name, builtIn: options.builtIn ?? false, nameTaken: await deviceNameTaken(deps.db, tenantId, name) },
    }),
    { causationId: options.causationId },
  );
  return found(await deviceById(deps.db, tenantId, deviceId), 'device', deviceId);
}
