import type { ActorView } from './views';

/** PostgreSQL and PGlite hand back some types differently (bigint as text, jsonb as text or object). */
export function asDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value));
}

export function asOptionalDate(value: unknown): Date | null {
  return value === null || value === undefined ? null : asDate(value);
}

/** A `date` column as YYYY-MM-DD: pg hands it back as a Date at local midnight, PGlite as either. */
export function asDay(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) {
    const pad = (n: number) => String(n).padStart(2, '0');
    return `${value.getFullYear()}-${pad(value.getMonth() + 1)}-${pad(value.getDate())}`;
  }
  return String(value).slice(0, 10);
}

export function asJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function asActor(value: unknown): ActorView {
  const actor = asJson<Partial<ActorView> | null>(value) ?? {};
  return { kind: actor.kind ?? null, id: actor.id ?? null, name: actor.name ?? null, role: actor.role ?? null };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids of Backplane's own objects are uuids; anything else names nothing (and must not reach a uuid column). */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}
