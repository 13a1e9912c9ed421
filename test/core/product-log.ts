import { randomUUID } from 'node:crypto';
import type { Projection } from '../../src/core/projection';
import type { EventData, EventStore, JsonObject, Position } from '../../src/eventstore/types';
import type { SqlExecutor } from '../../src/sql/database';
import { seeded } from '../support/bad-inputs';

/** One append: events of one stream, as the domain writes them together. */
export interface Append {
  stream: string;
  events: EventData[];
}

/**
 * Months of two tenants, as the domain writes them: set-up, credential toggles (one pair toggled
 * several times in a row, a plan's switch turned off and on), syncs that discover, rediscover,
 * rename and remove repositories or fail, plan runs that back up, fail, are throttled and resume,
 * settings changed, a plan deleted between its toggles, and credentials verified and throttled.
 * Every product event type that a batch writes in a form of its own is here, several times.
 */
export function productLog(seed: number, activities = 160): Append[] {
  const next = seeded(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
  const appends: Append[] = [];
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const at = () => {
    clock += 1000 + Math.floor(next() * 60_000);
    return new Date(clock).toISOString();
  };
  const people = [
    { kind: 'user', id: 'u-ann', name: 'Ann O\'Hara \\ "ops" — Zoë', role: 'OWNER' },
    { kind: 'api-token', id: 't-robot', name: 'robot', role: 'ADMIN' },
  ];
  const system = { kind: 'system', id: 'backplane', name: 'Backplane' };
  const append = (tenantId: string, stream: string, actor: JsonObject, events: { type: string; data: JsonObject }[]) => {
    const correlationId = randomUUID();
    const metadata = { tenantId, actor, correlationId, causationId: correlationId, occurredAt: at() };
    appends.push({ stream, events: events.map((event) => ({ ...event, metadata })) });
  };

  const tenants = [0, 1].map((n) => {
    const tenantId = randomUUID();
    append(tenantId, `tenant-${tenantId}`, people[0], [{ type: 'TenantCreated', data: { tenantId, name: `tenant-${n}`, root: n === 0 } }]);
    const organizations = [0, 1].map((o) => {
      const organizationId = randomUUID();
      append(tenantId, `organization-${organizationId}`, people[0], [
        {
          type: 'OrganizationAdded',
          data: {
            organizationId,
            provider: 'GITLAB',
            name: `group-${n}-${o}`,
            gitlabUrl: 'https://gitlab.example.com',
            authMethod: 'TOKEN',
            login: `backup-${n}-${o}`,
            passwordId: randomUUID(),
            defaultDeviceId: randomUUID(),
            gitlabGroupId: 1000 + o,
            access: { scopes: ['api'], expiresAt: '2027-06-30', gitlabUserId: 500 + o },
            protectGroups: false,
            autoAddNewRepositories: true,
            repositoriesSync: { intervalMinutes: 60 },
          },
        },
      ]);
      const repositories = Array.from({ length: 6 }, (_, r) => ({ id: randomUUID(), gitlabId: n * 1000 + o * 100 + r, path: `group-${o}/project-${r}` }));
      return { organizationId, repositories, credentials: [] as string[], plans: [] as string[] };
    });
    for (const organization of organizations) {
      for (let c = 0; c < 4; c++) {
        const credentialId = randomUUID();
        organization.credentials.push(credentialId);
        const access = { scopes: ['api', 'read_repository'], expiresAt: c === 0 ? null : '2027-01-31', gitlabUserId: 9000 + c };
        append(tenantId, `credential-${credentialId}`, pick(people), [
          {
            type: 'CredentialAdded',
            data: {
              credentialId,
              organizationId: organization.organizationId,
              login: `helper-${c}`,
              passwordId: randomUUID(),
              access: c === 3 ? null : access,
            },
          },
        ]);
        append(tenantId, `credential-${credentialId}`, system, [
          { type: 'CredentialVerified', data: { credentialId, organizationId: organization.organizationId, ...access } },
          { type: 'CredentialVerified', data: { credentialId, organizationId: organization.organizationId, ...access, scopes: ['api'] } },
        ]);
      }
      for (let p = 0; p < 3; p++) {
        const planId = randomUUID();
        organization.plans.push(planId);
        append(tenantId, `plan-${planId}`, pick(people), [
          { type: 'PlanCreated', data: { planId, organizationId: organization.organizationId, name: `plan "${p}" \\ ü` } },
          { type: 'PlanAdditionalCredentialsSet', data: { planId, organizationId: organization.organizationId, enabled: true } },
        ]);
      }
    }
    return { tenantId, organizations, on: new Map<string, boolean>(), deleted: new Set<string>() };
  });

  for (let activity = 0; activity < activities; activity++) {
    const tenant = pick(tenants);
    const { tenantId } = tenant;
    const organization = pick(tenant.organizations);
    const { organizationId } = organization;
    const live = organization.plans.filter((id) => !tenant.deleted.has(id));
    const planId = pick(live);
    const roll = next();
    if (roll < 0.3) {
      // Toggles at one sitting; a pair may come back several times.
      const credentialId = pick(organization.credentials);
      const events = Array.from({ length: 1 + Math.floor(next() * 4) }, () => {
        const pair = next() < 0.5 ? credentialId : pick(organization.credentials);
        const enabled = !tenant.on.get(`${planId}:${pair}`);
        tenant.on.set(`${planId}:${pair}`, enabled);
        return { type: 'PlanCredentialToggled', data: { planId, organizationId, credentialId: pair, enabled } };
      });
      append(tenantId, `plan-${planId}`, pick(people), events);
    } else if (roll < 0.35) {
      append(tenantId, `plan-${planId}`, pick(people), [
        { type: 'PlanAdditionalCredentialsSet', data: { planId, organizationId, enabled: false } },
        { type: 'PlanAdditionalCredentialsSet', data: { planId, organizationId, enabled: true } },
      ]);
    } else if (roll < 0.4) {
      const schedule = next() < 0.5 ? null : { cron: '0 3 * * *', timezone: 'Europe/Paris' };
      append(tenantId, `plan-${planId}`, pick(people), [
        {
          type: 'PlanBackupSettingsUpdated',
          data: { planId, organizationId, storageId: randomUUID(), schedule, keepLast: 3, keepDaily: 7, keepWeekly: null, keepMonthly: 12 },
        },
      ]);
    } else if (roll < 0.42 && live.length > 1) {
      append(tenantId, `plan-${planId}`, pick(people), [{ type: 'PlanDeleted', data: { planId, organizationId } }]);
      tenant.deleted.add(planId);
    } else if (roll < 0.6) {
      const syncId = randomUUID();
      const stream = `repositories-${organizationId}`;
      const startedAt = at();
      const found = Array.from({ length: Math.floor(next() * 4) }, () => pick(organization.repositories));
      const events: { type: string; data: JsonObject }[] = [
        { type: 'RepositoryListSyncStarted', data: { organizationId, syncId, trigger: next() < 0.5 ? 'SCHEDULE' : 'MANUAL', startedAt } },
        ...found.map((repository) => ({
          type: 'RepositoryDiscovered',
          data: { organizationId, repositoryId: repository.id, gitlabId: repository.gitlabId, kind: 'PROJECT', fullPath: repository.path },
        })),
      ];
      if (found.length > 0 && next() < 0.3) {
        const renamed = found[0];
        const previousPath = renamed.path;
        renamed.path = `${previousPath}-renamed`;
        events.push({
          type: 'RepositoryRenamed',
          data: { organizationId, repositoryId: renamed.id, gitlabId: renamed.gitlabId, kind: 'PROJECT', previousPath, fullPath: renamed.path },
        });
      }
      if (found.length > 1 && next() < 0.3) {
        const removed = found[found.length - 1];
        events.push({
          type: 'RepositoryRemovedFromSource',
          data: { organizationId, repositoryId: removed.id, gitlabId: removed.gitlabId, kind: 'PROJECT', fullPath: removed.path },
        });
      }
      const used = [{ credentialId: null, login: 'main', requests: 3 }];
      events.push(
        next() < 0.15
          ? {
              type: 'RepositoryListSyncFailed',
              data: { organizationId, syncId, reason: 'GitLab said "no"', requests: 2, durationMs: 80, credentialsUsed: used },
            }
          : {
              type: 'RepositoryListSynced',
              data: { organizationId, syncId, added: found.length, removed: 0, renamed: 0, unchanged: 6, durationMs: 900, requests: 3, credentialsUsed: used },
            },
      );
      append(tenantId, stream, system, events);
    } else {
      const taskId = randomUUID();
      const ref = { taskId, planId, organizationId };
      const stream = `task-${taskId}`;
      const count = 1 + Math.floor(next() * 6);
      const used = [{ credentialId: null, login: 'main', requests: 10 }];
      const throttled: JsonObject[] = [];
      append(tenantId, stream, system, [{ type: 'BackupTaskStarted', data: { ...ref, repositoriesTotal: count, startedAt: at() } }]);
      const results: { type: string; data: JsonObject }[] = [];
      for (let r = 0; r < count; r++) {
        const repository = organization.repositories[r % organization.repositories.length];
        if (next() < 0.15) {
          const period = { from: at(), until: at() };
          throttled.push(period);
          const credentialId = pick([...organization.credentials, null]);
          results.push({ type: 'CredentialThrottled', data: { ...ref, credentialId, login: 'helper', until: period.until } });
          results.push({ type: 'BackupTaskThrottled', data: { ...ref, ...period } });
          results.push({ type: 'BackupTaskResumed', data: { ...ref, at: period.until } });
        }
        results.push(
          next() < 0.2
            ? {
                type: 'RepositoryBackupFailed',
                data: { ...ref, repositoryId: repository.id, fullPath: repository.path, error: 'timeout', requests: 2, credentialsUsed: used },
              }
            : {
                type: 'RepositoryBackedUp',
                data: { ...ref, repositoryId: repository.id, fullPath: repository.path, counts: { branches: 2, tags: 1 }, requests: 9, credentialsUsed: used },
              },
        );
      }
      append(tenantId, stream, system, results);
      const summary = {
        repositoriesDone: count,
        repositoriesFailed: 0,
        durationMs: 5000,
        credentialsUsed: used,
        throttledPeriods: throttled,
        finishedAt: at(),
      };
      append(tenantId, stream, system, [
        next() < 0.2
          ? { type: 'BackupTaskFailed', data: { ...ref, ...summary, reason: "storage said 'full'" } }
          : { type: 'BackupTaskCompleted', data: { ...ref, ...summary } },
      ]);
    }
  }
  return appends;
}

/** Appends the log and returns where it ends. */
export async function appendLog(store: EventStore, appends: readonly Append[]): Promise<Position> {
  let last: Position | undefined;
  for (const { stream, events } of appends) last = (await store.appendToStream(stream, events)).position;
  if (last === undefined) throw new Error('an empty log');
  return last;
}

/** Every row of every table of the read model, as PostgreSQL prints it, sorted. */
export async function tablesOf(db: SqlExecutor, projection: Projection): Promise<Record<string, string[]>> {
  const tables: Record<string, string[]> = {};
  for (const table of projection.tables) {
    const rows = await db.query<{ row: string }>(`SELECT to_jsonb(t)::text AS row FROM ${table} t`);
    tables[table] = rows.map((row) => row.row).sort();
  }
  return tables;
}
