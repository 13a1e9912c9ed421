import { switchboard } from '../fixtures/switchboard.decider';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(switchboard);

describe('a decider, specified as given / when / then', () => {
  it('installs a new switchboard', () => {
    spec
      .given([])
      .when({ type: 'InstallSwitchboard', data: { name: 'main' } })
      .then([{ type: 'SwitchboardInstalled', data: { name: 'main' } }]);
  });

  it('refuses to install one twice', () => {
    spec
      .given([{ type: 'SwitchboardInstalled', data: { name: 'main' } }])
      .when({ type: 'InstallSwitchboard', data: { name: 'again' } })
      .thenRefuses('CONFLICT', /already installed/);
  });

  it('flips a switch, and writes nothing when it already has that value', () => {
    const installed = [{ type: 'SwitchboardInstalled' as const, data: { name: 'main' } }];
    spec
      .given(installed)
      .when({ type: 'FlipSwitch', data: { switchId: 's1', on: true } })
      .then([{ type: 'SwitchFlipped', data: { switchId: 's1', on: true } }]);
    spec
      .given(installed)
      .when({ type: 'FlipSwitch', data: { switchId: 's1', on: false } })
      .then([]);
    spec
      .given([...installed, { type: 'SwitchFlipped', data: { switchId: 's1', on: true } }])
      .when({ type: 'FlipSwitch', data: { switchId: 's1', on: true } })
      .then([]);
  });

  it('refuses a command on a switchboard that does not exist', () => {
    spec
      .given([])
      .when({ type: 'FlipSwitch', data: { switchId: 's1', on: true } })
      .thenRefuses('NOT_FOUND');
  });
});
