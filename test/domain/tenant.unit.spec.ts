import { tenant, type TenantCommand, type TenantEvent } from '../../src/domain/tenant';
import { deciderSpec } from '../support/decider-spec';

const spec = deciderSpec(tenant);

const createTenant = (overrides: Partial<Extract<TenantCommand, { type: 'CreateTenant' }>['data']> = {}): TenantCommand => ({
  type: 'CreateTenant',
  data: { tenantId: 't1', name: 'acme', root: false, firstToken: { tokenId: 'k1', name: 'bootstrap' }, nameTaken: false, ...overrides },
});
const created: TenantEvent[] = [
  { type: 'TenantCreated', data: { tenantId: 't1', name: 'acme', root: false } },
  { type: 'ApiTokenCreated', data: { tenantId: 't1', tokenId: 'k1', name: 'bootstrap', role: 'ADMIN' } },
];
const createToken = (tokenId: string, name: string): TenantCommand => ({ type: 'CreateApiToken', data: { tokenId, name, role: 'OPERATOR' } });
const revoke = (tokenId: string): TenantCommand => ({ type: 'RevokeApiToken', data: { tokenId } });
const setSeats = (count: number, seatsUsed = 0): TenantCommand => ({ type: 'SetLicenseSeats', data: { count, known: { seatsUsed } } });
const seatsSet = (limit: number): TenantEvent => ({ type: 'LicenseSeatsSet', data: { tenantId: 't1', limit } });
const revoked = (tokenId: string): TenantEvent => ({ type: 'ApiTokenRevoked', data: { tenantId: 't1', tokenId } });

describe('tenant', () => {
  describe('CreateTenant', () => {
    it('creates the tenant with its first token, always an ADMIN', () => {
      spec.given([]).when(createTenant()).then(created);
    });

    it('carries the root flag', () => {
      spec
        .given([])
        .when(createTenant({ root: true }))
        .then([{ ...created[0], data: { tenantId: 't1', name: 'acme', root: true } } as TenantEvent, created[1]]);
    });

    it('refuses a tenant that already exists', () => {
      spec
        .given(created)
        .when(createTenant())
        .thenRefuses('CONFLICT', /tenant t1 already exists/);
    });

    it.each([
      ['a blank tenant name', { name: ' ' }],
      ['a blank first-token name', { firstToken: { tokenId: 'k1', name: '' } }],
    ])('refuses %s', (_case, overrides) => {
      spec
        .given([])
        .when(createTenant(overrides))
        .thenRefuses('INVALID_INPUT', /need names/);
    });

    it('refuses a name another tenant has', () => {
      spec
        .given([])
        .when(createTenant({ nameTaken: true }))
        .thenRefuses('CONFLICT', /tenant named "acme" already exists/);
    });
  });

  describe('CreateApiToken', () => {
    it('adds a token with the role asked for', () => {
      spec
        .given(created)
        .when(createToken('k2', 'ci'))
        .then([{ type: 'ApiTokenCreated', data: { tenantId: 't1', tokenId: 'k2', name: 'ci', role: 'OPERATOR' } }]);
    });

    it('refuses a token id already used, even by a revoked token', () => {
      spec
        .given(created)
        .when(createToken('k1', 'other'))
        .thenRefuses('CONFLICT', /API token k1 already exists/);
      spec
        .given([...created, revoked('k1')])
        .when(createToken('k1', 'other'))
        .thenRefuses('CONFLICT', /API token k1 already exists/);
    });

    it('refuses a blank name', () => {
      spec
        .given(created)
        .when(createToken('k2', '  '))
        .thenRefuses('INVALID_INPUT', /needs a name/);
    });

    it('refuses a name an active token has', () => {
      spec
        .given(created)
        .when(createToken('k2', 'bootstrap'))
        .thenRefuses('CONFLICT', /API token named "bootstrap" is already active/);
    });

    it('lets a new token reuse the name of a revoked one', () => {
      spec
        .given([...created, revoked('k1')])
        .when(createToken('k2', 'bootstrap'))
        .then([{ type: 'ApiTokenCreated', data: { tenantId: 't1', tokenId: 'k2', name: 'bootstrap', role: 'OPERATOR' } }]);
    });
  });

  describe('RevokeApiToken', () => {
    const secondAdmin: TenantEvent = { type: 'ApiTokenCreated', data: { tenantId: 't1', tokenId: 'k2', name: 'deputy', role: 'ADMIN' } };
    const operator: TenantEvent = { type: 'ApiTokenCreated', data: { tenantId: 't1', tokenId: 'k3', name: 'ops', role: 'OPERATOR' } };

    it('revokes an active token', () => {
      spec
        .given([...created, operator])
        .when(revoke('k3'))
        .then([revoked('k3')]);
      spec
        .given([...created, secondAdmin])
        .when(revoke('k1'))
        .then([revoked('k1')]);
    });

    it("refuses to revoke the tenant's last active ADMIN token, which would lock the tenant out", () => {
      spec
        .given([...created, operator])
        .when(revoke('k1'))
        .thenRefuses('CONFLICT', /last active ADMIN token/);
      spec
        .given([...created, secondAdmin, revoked('k2')])
        .when(revoke('k1'))
        .thenRefuses('CONFLICT', /last active ADMIN token/);
    });

    it('writes nothing when the token is already revoked', () => {
      spec
        .given([...created, secondAdmin, revoked('k1')])
        .when(revoke('k1'))
        .then([]);
    });

    it('refuses a token it does not know', () => {
      spec
        .given(created)
        .when(revoke('nope'))
        .thenRefuses('NOT_FOUND', /no API token nope/);
    });
  });

  describe('SetLicenseSeats', () => {
    it('sets the limit, and changes it', () => {
      spec
        .given(created)
        .when(setSeats(10))
        .then([seatsSet(10)]);
      spec
        .given([...created, seatsSet(10)])
        .when(setSeats(25, 10))
        .then([seatsSet(25)]);
    });

    it('sets a limit of 0, which protects nothing, and one equal to the seats in use', () => {
      spec
        .given(created)
        .when(setSeats(0))
        .then([seatsSet(0)]);
      spec
        .given([...created, seatsSet(10)])
        .when(setSeats(4, 4))
        .then([seatsSet(4)]);
    });

    it('writes nothing when the limit is the current one', () => {
      spec
        .given([...created, seatsSet(10)])
        .when(setSeats(10, 3))
        .then([]);
      spec
        .given([...created, seatsSet(10), seatsSet(12)])
        .when(setSeats(12))
        .then([]);
    });

    it('refuses a limit below the seats in use, saying how many to unprotect', () => {
      spec
        .given([...created, seatsSet(10)])
        .when(setSeats(5, 8))
        .thenRefuses('CONFLICT', /8 repositories are protected now: unprotect 3 of them before lowering the limit to 5/);
    });

    it.each([-1, 2.5, 1_000_001, Number.NaN])('refuses %p', (count) => {
      spec
        .given(created)
        .when(setSeats(count))
        .thenRefuses('INVALID_INPUT', /whole number from 0 to 1000000/);
    });
  });

  it.each<[string, TenantCommand]>([
    ['CreateApiToken', createToken('k2', 'ci')],
    ['RevokeApiToken', revoke('k1')],
    ['SetLicenseSeats', setSeats(10)],
  ])('refuses %s before the tenant exists', (_name, command) => {
    spec
      .given([])
      .when(command)
      .thenRefuses('NOT_FOUND', /no such tenant/);
  });
});
