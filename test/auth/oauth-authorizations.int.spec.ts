import { OAuthAuthorizations } from '../../src/auth/oauth-authorizations';
import type { SqlDatabase } from '../../src/sql/database';
import { dropTestSchemas, testDatabases } from '../support/databases';

afterAll(dropTestSchemas);

const principal = { tokenId: '00000000-0000-4000-8000-000000000001', name: 'admin', role: 'ADMIN' as const };
const entry = (organizationId: string, verifierSecretId: string) => ({ tenantId: 'default', organizationId, verifierSecretId, principal });
const MINUTE = 60_000;

for (const database of testDatabases) {
  describe(`pending SSO sign-ins on ${database.name}`, () => {
    let db: SqlDatabase;
    let authorizations: OAuthAuthorizations;
    beforeAll(async () => {
      db = await database.open();
      authorizations = await OAuthAuthorizations.open(db);
    });
    afterAll(async () => {
      await db.close();
    });

    it('claims a state once, and forgets sign-ins past their time, giving back the verifiers never used', async () => {
      const now = Date.now();
      const stale = await authorizations.begin(
        entry('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000b1'),
        new Date(now - 30 * MINUTE),
      );
      const staleUsed = await authorizations.begin(
        entry('00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-0000000000b2'),
        new Date(now - 30 * MINUTE),
      );
      const fresh = await authorizations.begin(entry('00000000-0000-4000-8000-0000000000a3', '00000000-0000-4000-8000-0000000000b3'), new Date(now));
      expect(await authorizations.claim(staleUsed, new Date(now - 60 * MINUTE))).not.toBeNull();
      expect(await authorizations.claim(staleUsed, new Date(now - 60 * MINUTE))).toBeNull();

      expect(await authorizations.expire(new Date(now - 15 * MINUTE))).toEqual(['00000000-0000-4000-8000-0000000000b1']);
      expect(await authorizations.claim(stale, new Date(now - 60 * MINUTE))).toBeNull();
      expect((await authorizations.claim(fresh, new Date(now - 15 * MINUTE)))?.organizationId).toBe('00000000-0000-4000-8000-0000000000a3');
      expect(await authorizations.expire(new Date(now - 15 * MINUTE))).toEqual([]);
    });
  });
}
