// Device: where backups run. The server itself is the built-in device "local" of every tenant.
import type { Decider } from './decider';
import { DomainError } from './errors';

export const LOCAL_DEVICE_NAME = 'local';

export type DeviceEvent = { type: 'DeviceRegistered'; data: { deviceId: string; name: string; builtIn: boolean } };

export type DeviceCommand = { type: 'RegisterDevice'; data: { deviceId: string; name: string; builtIn: boolean; nameTaken: boolean } };

export interface DeviceState {
  registered: boolean;
}

export const device: Decider<DeviceState, DeviceCommand, DeviceEvent> = {
  initialState: () => ({ registered: false }),
  evolve(_state, event) {
    switch (event.type) {
      case 'DeviceRegistered':
        return { registered: true };
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'RegisterDevice': {
        const { deviceId, name, builtIn, nameTaken } = command.data;
        if (state.registered) throw new DomainError('CONFLICT', `device ${deviceId} is already registered`);
        if (name.trim() === '') throw new DomainError('INVALID_INPUT', 'a device needs a name', 'name');
        if (nameTaken) throw new DomainError('CONFLICT', `a device named "${name}" is already registered`, 'name');
        return [{ type: 'DeviceRegistered', data: { deviceId, name, builtIn } }];
      }
    }
  },
};

export const deviceStream = (deviceId: string) => `device-${deviceId}`;
