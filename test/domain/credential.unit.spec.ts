import { credential, type CredentialCommand, type CredentialEvent } from '../../src/domain/credential';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(credential);

type AddData = Extract<CredentialCommand, { type: 'AddCredential' }>['data'];
const known = (overrides: Partial<AddData['known']> = {}): AddData['known'] => ({
  organization: { mainLogin: 'Main-Bot' },
  credentialLogins: ['helper-1'],
  passwordStored: true,
  ...overrides,
});
const add = (overrides: Partial<AddData> = {}): CredentialCommand => ({
  type: 'AddCredential',
  data: { credentialId: 'c1', organizationId: 'o1', login: 'helper-2', passwordId: 'p1', known: known(), ...overrides },
});
const remove: CredentialCommand = { type: 'RemoveCredential', data: { credentialId: 'c1' } };

const added: CredentialEvent = { type: 'CredentialAdded', data: { credentialId: 'c1', organizationId: 'o1', login: 'helper-2', passwordId: 'p1' } };
const removed: CredentialEvent = { type: 'CredentialRemoved', data: { credentialId: 'c1', organizationId: 'o1' } };

describe('credential', () => {
  describe('AddCredential', () => {
    it('adds another account of the organization', () => {
      spec.given([]).when(add()).then([added]);
    });

    it('trims the login', () => {
      spec.given([]).when(add({ login: '  helper-2\t' })).then([added]);
    });

    it.each<[string, CredentialEvent[]]>([
      ['active', [added]],
      ['removed', [added, removed]],
    ])('refuses an id already %s', (_status, history) => {
      spec.given(history).when(add()).thenRefuses('CONFLICT', /credential c1 already exists/);
    });

    it.each(['', '   '])('refuses a blank login %j', (login) => {
      spec.given([]).when(add({ login })).thenRefuses('INVALID_INPUT', /needs a login/);
    });

    it('refuses an organization the tenant does not have', () => {
      spec.given([]).when(add({ known: known({ organization: null }) })).thenRefuses('NOT_FOUND', /no organization o1/);
    });

    it('refuses a password entry that is not stored', () => {
      spec.given([]).when(add({ known: known({ passwordStored: false }) })).thenRefuses('NOT_FOUND', /no password p1/);
    });

    // GitLab usernames are case-insensitive, so "MAIN-BOT" is the same account as "Main-Bot".
    it.each(['Main-Bot', 'main-bot', ' MAIN-BOT '])('refuses the main login as %j', (login) => {
      spec.given([]).when(add({ login })).thenRefuses('CONFLICT', /main login; an additional credential must be another account/);
    });

    it.each(['helper-1', 'HELPER-1', ' Helper-1 '])('refuses a login another credential uses, as %j', (login) => {
      spec.given([]).when(add({ login })).thenRefuses('CONFLICT', /already has a credential for helper-1/i);
    });
  });

  describe('RemoveCredential', () => {
    it('removes an active credential, naming its organization', () => {
      spec.given([added]).when(remove).then([removed]);
    });

    it.each<[string, CredentialEvent[]]>([
      ['unknown', []],
      ['already removed', [added, removed]],
    ])('refuses a credential %s', (_status, history) => {
      spec.given(history).when(remove).thenRefuses('NOT_FOUND', /no credential c1/);
    });
  });
});
