import type { AppDeps } from '../../src/app/deps';
import { checkRoles } from '../../src/graphql/auth-checker';
import { readModels, requestOf, tenantOf } from '../../src/graphql/context';
import { viewContext } from '../../src/server/graphql-ws-server';

describe('viewContext: what a subscription result shared by its view is executed with', () => {
  const app = { db: { name: 'read models' } } as unknown as AppDeps;
  const principal = { tokenId: 'token-of-the-first-subscriber', tenantId: 'acme', name: 'first subscriber', role: 'VIEWER' as const, root: false };

  it('holds the tenant, the role, the standing and the app: what fields of the view need', () => {
    const context = viewContext(app, principal);
    expect(tenantOf(context)).toBe('acme');
    expect(readModels(context)).toBe(app.db);
    expect(checkRoles(context, ['VIEWER'])).toBe(true);
    expect(() => checkRoles(context, ['ADMIN'])).toThrow(/VIEWER role may not/);
    expect(context.principal).toMatchObject({ tenantId: 'acme', role: 'VIEWER', root: false, system: false });
  });

  it("throws on reading what is one subscriber's own, and shows none of it when written out", () => {
    const context = viewContext(app, principal);
    expect(() => context.principal!.tokenId).toThrow(/tokenId is one subscriber's own/);
    expect(() => context.principal!.name).toThrow(/name is one subscriber's own/);
    expect(() => context.correlationId).toThrow(/correlationId is one subscriber's own/);
    expect(() => requestOf(context)).toThrow(/correlationId/);
    expect(JSON.stringify(context.principal)).not.toMatch(/first subscriber|token-of-the-first-subscriber/);
  });
});
