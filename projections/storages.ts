import type { Projection } from '../src/core/projection';
import type { StorageEvent } from '../src/domain/storage';
import { actorJson, dataOf, eventContext } from './event-context';

/** The storages tenants added (the default one of each tenant has no row): where they are, never the secret that opens them. */
export const storagesProjection: Projection = {
  name: 'storages',
  version: 1,
  tables: ['storages'],
  schema: [
    `CREATE TABLE storages (
       id uuid PRIMARY KEY,
       tenant_id text NOT NULL,
       name text NOT NULL,
       kind text NOT NULL,
       local_path text,
       endpoint text,
       bucket text,
       region text,
       prefix text,
       force_path_style boolean,
       access_key_id text,
       password_id uuid,
       added_at timestamptz NOT NULL,
       added_by jsonb NOT NULL,
       removed_at timestamptz)`,
    'CREATE INDEX storages_tenant ON storages (tenant_id)',
  ],
  filter: { streamPrefixes: ['storage-'] },
  apply(recorded) {
    const context = eventContext(recorded);
    const event = { type: recorded.type, data: dataOf(recorded) } as StorageEvent;
    switch (event.type) {
      case 'StorageAdded': {
        const { storageId, name, kind, s3, local } = event.data;
        return [
          {
            sql: `INSERT INTO storages (id, tenant_id, name, kind, local_path, endpoint, bucket, region, prefix, force_path_style, access_key_id, password_id,
                    added_at, added_by)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
            params: [
              storageId,
              context.tenantId,
              name,
              kind,
              local?.path ?? null,
              s3?.endpoint ?? null,
              s3?.bucket ?? null,
              s3?.region ?? null,
              s3?.prefix ?? null,
              s3?.forcePathStyle ?? null,
              s3?.accessKeyId ?? null,
              s3?.passwordId ?? null,
              context.occurredAt,
              actorJson(context),
            ],
          },
        ];
      }
      case 'StorageRemoved':
        return [{ sql: 'UPDATE storages SET removed_at = $2 WHERE id = $1', params: [event.data.storageId, context.occurredAt] }];
      default:
        return [];
    }
  },
};
