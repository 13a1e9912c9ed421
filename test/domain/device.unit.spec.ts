import { device, type DeviceCommand, type DeviceEvent } from '../../src/domain/device';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(device);

const register = (overrides: Partial<Extract<DeviceCommand, { type: 'RegisterDevice' }>['data']> = {}): DeviceCommand => ({
  type: 'RegisterDevice',
  data: { deviceId: 'd1', name: 'local', builtIn: true, nameTaken: false, ...overrides },
});
const registered: DeviceEvent = { type: 'DeviceRegistered', data: { deviceId: 'd1', name: 'local', builtIn: true } };

describe('device', () => {
  it.each([true, false])('registers a device (builtIn: %s)', (builtIn) => {
    spec
      .given([])
      .when(register({ builtIn }))
      .then([{ type: 'DeviceRegistered', data: { deviceId: 'd1', name: 'local', builtIn } }]);
  });

  it('refuses to register the same device twice', () => {
    spec
      .given([registered])
      .when(register({ name: 'other' }))
      .thenRefuses('CONFLICT', /device d1 is already registered/);
  });

  it.each(['', '   '])('refuses a blank name %j', (name) => {
    spec
      .given([])
      .when(register({ name }))
      .thenRefuses('INVALID_INPUT', /needs a name/);
  });

  it('refuses a name another device has', () => {
    spec
      .given([])
      .when(register({ nameTaken: true }))
      .thenRefuses('CONFLICT', /device named "local" is already registered/);
  });
});
