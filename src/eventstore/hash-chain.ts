import { createHash } from 'node:crypto';
import type { JsonValue } from './types';

/** The hash that stands before the first event of every stream. */
export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every depth: one text for one value, whatever the key order. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** SHA-256 over what the writer chose: id, type, data and metadata. */
export function contentHash(event: { id: string; type: string; data: JsonValue; metadata: JsonValue }): string {
  return sha256Hex(canonicalJson({ id: event.id, type: event.type, data: event.data, metadata: event.metadata }));
}

/**
 * Links an event to the one before it in its stream and to its place there.
 * The PostgreSQL adapter computes the same function in SQL (see postgres/schema.ts).
 */
export function chainHash(previousHash: string, stream: string, revision: bigint, content: string): string {
  return sha256Hex(`${previousHash}|${stream}|${revision}|${content}`);
}
